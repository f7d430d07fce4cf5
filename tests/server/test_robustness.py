"""The server never answers 500 to client input, and limits each key's rate with 429."""

from __future__ import annotations

import base64
import json
import random

from tailorai.server import create_app
from tests.server.conftest import LiveServer, serve, sign_in

GARBAGE_BODIES = [
    b"",
    b"null",
    b"[]",
    b"[[[[[]]]]]",
    b'"just a string"',
    b"12345",
    b"{",
    b"\xff\xfe\x00garbage",
    b'{"batch": "nope"}',
    b'{"batch": [null, 1, "x", [], {}]}',
    b'{"type": "track", "event": {"nested": true}, "userId": ["list"]}',
    b'{"type": "page", "anonymousId": "a", "timestamp": "yesterday-ish"}',
    b'{"type": "identify", "userId": "u", "traits": "not a dict"}',
    b'{"type": "track", "event": "x", "userId": "' + b"u" * 5000 + b'"}',
    b'{"type": "track", "event": "x", "userId": "u", "messageId": ""}',
    b'{"type": "track", "event": "x", "userId": "u", "properties": {"a": NaN}}',
    b'{"type": "track", "event": "x", "userId": "u", "timestamp": 1e400}',
    b'{"type": "track", "event": "x", "userId": "u", "properties": {"dwell_ms": 1e400}}',
    b'{"type": "track", "event": "x", "userId": "u", "properties": {"n": ' + b"9" * 5000 + b"}}",
    b'{"type": "track", "event": "x", "userId": "u", "properties": ' + b"[" * 200 + b"]" * 200,
    b"[" * 200_000 + b"]" * 200_000,
    b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
    b'{"type": "page", "anonymousId": "a", "timestamp": "9999-12-31T23:59:59-01:00"}',
    b'{"type": "page", "anonymousId": "a", "timestamp": "0001-01-01T00:00:00+01:00"}',
    b'{"batch": [{"type": "page", "anonymousId": "a"}], "sentAt": "0001-01-01"}',
]


def _paths(live) -> list[tuple[str, str]]:
    with live.client() as http:
        schema = http.get("/openapi.json").json()
    routes = []
    for path, methods in schema["paths"].items():
        concrete = path.replace("{user_id}", "some%2Fuser")
        routes += [(method.upper(), concrete) for method in methods]
    # The dashboard's pages are not in the API schema.
    pages = [("GET", "/"), ("POST", "/login"), ("GET", "/users?id=%00"), ("GET", "/logout")]
    return [*routes, *pages, ("GET", "/users/%3Cscript%3E"), ("GET", "/tracker.js")]


def test_garbage_at_every_endpoint_never_gets_a_500(live):
    rng = random.Random(0)
    keys = [
        {},
        {"Authorization": f"Bearer {live.public_key}"},
        {"Authorization": f"Bearer {live.secret_key}"},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()},
        {"Authorization": "Bearer"},
        {"X-Write-Key": live.public_key, "Content-Encoding": "br"},
        {"X-Write-Key": live.public_key, "Content-Encoding": "gzip"},
        {"X-Write-Key": live.public_key, "Content-Type": "application/x-www-form-urlencoded"},
        {"Authorization": "Bearer " + "k" * 5000},  # junk of no key's shape
        {"X-Write-Key": "tk_pub_" + "x" * 43},  # a key's shape, unknown
        {"Authorization": f"Bearer {live.secret_key}", "X-Junk": "j" * 20_000},  # 431
    ]
    routes = _paths(live)
    assert ("POST", "/v1/batch") in routes and ("GET", "/v1/users/some%2Fuser") in routes
    failures = []
    with live.client() as http:
        for method, path in routes:
            for body in [*GARBAGE_BODIES, bytes(rng.getrandbits(8) for _ in range(64))]:
                for headers in keys:
                    answer = http.request(method, path, content=body, headers=headers)
                    if answer.status_code >= 500:
                        failures.append((method, path, body[:40], headers, answer.status_code))
            for query in ("?recent=-1", "?recent=abc", "?recent=100000"):
                answer = http.request(method, path + query, headers=keys[2])
                if answer.status_code >= 500:
                    failures.append((method, path + query, answer.status_code))
    assert failures == []


def test_nan_and_infinity_are_not_json(live):
    headers = {"X-Write-Key": live.public_key}
    with live.client() as http:
        answer = http.post(
            "/v1/track",
            content=b'{"event": "x", "userId": "u", "properties": {"a": NaN}}',
            headers=headers,
        )
    assert answer.status_code == 400 and "NaN" in answer.json()["detail"]


_TRACK = '{"type": "track", "event": "x", "userId": "p", "properties": '
POISON = [  # as JSON text: json.dumps cannot write 1e400 or a 5,000-digit integer
    _TRACK + '{"dwell_ms": 1' + "0" * 400 + "}}",
    _TRACK + '{"n": ' + "9" * 5000 + "}}",
    _TRACK + '{"revenue": 1e400}}',
    _TRACK + '{"deep": ' + "[" * 200 + "]" * 200 + "}}",
    '{"type": "page", "anonymousId": "p", "timestamp": "9999-12-31T23:59:59-01:00"}',
    '{"type": "page", "anonymousId": "p", "timestamp": "0001-01-01T00:00:00+01:00"}',
]


def _poisoned_batch(good: int) -> bytes:
    """A batch of `good` plain events with one poison after each of the first ones."""
    events = []
    for i in range(good):
        events.append(json.dumps({"type": "track", "event": "ok", "userId": f"g{i}"}))
        events += POISON[i : i + 1]
    return ('{"batch": [' + ", ".join(events) + "]}").encode()


def test_a_bad_event_in_a_batch_is_refused_by_index_and_the_good_ones_are_stored(live):
    body = _poisoned_batch(8)
    with live.client() as http:
        answer = http.post("/v1/batch", content=body, headers={"X-Write-Key": live.public_key})
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["received"] == 14 and found["stored"] == 8
        assert [r["index"] for r in found["rejected"]] == [1, 3, 5, 7, 9, 11]
        reasons = " | ".join(r["detail"] for r in found["rejected"])
        for expected in ("properties.dwell_ms", "properties.n", "1e400", "nested deeper"):
            assert expected in reasons
        assert reasons.count("outside the calendar") == 2
        user = http.get("/v1/users/g7", headers={"Authorization": f"Bearer {live.secret_key}"})
        assert user.status_code == 200 and user.json()["features"]["events"] == 1


def test_each_key_is_rate_limited_with_retry_after(live):
    app = create_app(live.store, rate_limit=5)
    for url in serve(app):
        limited = LiveServer(url, live.store, app, live.public_key, live.secret_key)
        event = {"event": "Clicked", "userId": "u1"}
        with limited.client() as http:
            codes = [
                http.post("/v1/track", json=event, headers={"X-Write-Key": live.public_key})
                for _ in range(12)
            ]
            other_key = http.get(
                "/v1/users/u1", headers={"Authorization": f"Bearer {live.secret_key}"}
            )
        statuses = [c.status_code for c in codes]
        assert statuses[:5] == [200] * 5 and 429 in statuses
        refused = next(c for c in codes if c.status_code == 429)
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["code"] == "rate_limited"
        assert other_key.status_code == 200  # the limit is per key


def test_a_client_hanging_up_mid_body_is_not_a_server_error(live, caplog):
    import socket
    import time
    from urllib.parse import urlsplit

    where = urlsplit(live.url)
    with socket.create_connection((where.hostname, where.port)) as raw:
        raw.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 5000\r\n\r\n" + b'{"batch": ['
        )
    time.sleep(0.5)
    assert "Unexpected error" not in caplog.text


def test_every_json_body_refuses_numbers_a_database_cannot_hold(live):
    """Not only events: FastAPI reads 1e400 as inf and NaN as nan, and a 500-digit integer
    as itself; each is a 400 naming where it is."""
    secret = {"Authorization": f"Bearer {live.secret_key}", "Content-Type": "application/json"}
    bodies = [
        ("/v1/generate", b'{"user_id": "u", "task": "email", "inputs": {"budget": 1e400}}'),
        (
            "/v1/generate",
            b'{"user_id": "u", "task": "email", "inputs": {"n": ' + b"7" * 500 + b"}}",
        ),
        ("/v1/chat/completions", b'{"model": "x", "messages": [], "temperature": NaN}'),
        ("/v1/feedback", b'{"generation_id": "g", "rating": -Infinity}'),
    ]
    with live.client() as http:
        for path, body in bodies:
            answer = http.post(path, content=body, headers=secret)
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["code"] == "invalid_number" and "body." in answer.json()["detail"]


def test_junk_keys_are_neither_cached_nor_let_through_and_huge_headers_are_refused(live):
    services = live.app.state.services
    with live.client() as http:
        http.get("/v1/users/u1", headers={"Authorization": f"Bearer {live.secret_key}"})
        cached = len(services.keys)
        for size in (100, 1000, 10_000):
            answer = http.get("/v1/users/u1", headers={"Authorization": "Bearer " + "k" * size})
            assert answer.status_code == 401
        huge = http.get("/v1/users/u1", headers={"Authorization": "Bearer " + "k" * 1_000_000})
    assert huge.status_code == 431 and huge.json()["code"] == "headers_too_large"
    assert len(services.keys) == cached  # nothing of the wrong shape was kept


def test_guessing_keys_is_slowed_down_per_address_but_a_known_key_still_works(live):
    from tailorai.projects import KEY_KINDS

    guesses = [KEY_KINDS["secret"] + f"{i:043d}" for i in range(40)]
    with live.client() as http:
        mine = {"Authorization": f"Bearer {live.secret_key}"}
        assert http.get("/v1/users/u1", headers=mine).status_code == 404  # signed in: no u1
        codes = [
            http.get("/v1/users/u1", headers={"Authorization": f"Bearer {g}"}).status_code
            for g in guesses
        ]
        refused = http.get("/v1/users/u1", headers={"Authorization": f"Bearer {guesses[0]}"})
        still = http.get("/v1/users/u1", headers=mine)
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert still.status_code == 404  # the address's failures do not lock out a known key


def test_a_rate_limited_dashboard_page_is_a_429_not_the_sign_in_page(live):
    app = create_app(live.store, rate_limit=2)
    for url in serve(app):
        limited = LiveServer(url, live.store, app, live.public_key, live.secret_key)
        with limited.client() as http:
            sign_in(http, live.secret_key)
            codes = [http.get("/").status_code for _ in range(6)]
    assert codes[0] == 200 and 429 in codes and set(codes) <= {200, 429}
