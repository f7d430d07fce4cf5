"""Event capture against the real server: keys, body forms, limits, dedup, partial batches."""

from __future__ import annotations

import base64
import concurrent.futures
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tailorai.events import SqlEventStream
from tailorai.projects import create_key, revoke_key
from tests.server.conftest import sign_in


def _stored(live, project="shop"):
    return [event for _, event in SqlEventStream(live.store).read(project, limit=10_000)]


def test_track_is_stored_with_server_fields(live):
    with live.client() as http:
        answer = http.post(
            "/v1/track",
            json={
                "event": "Product Viewed",
                "userId": "u1",
                "properties": {"category": "shoes", "price": 59.0},
                "context": {"page": {"url": "https://shop.example/p/1"}},
            },
            headers={"Authorization": f"Bearer {live.public_key}"},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] and body["stored"] == 1 and body["duplicates"] == 0
    [event] = _stored(live)
    assert event.type == "track" and event.event == "Product Viewed" and event.user_id == "u1"
    assert event.properties == {"category": "shoes", "price": 59.0}
    assert event.message_id == body["message_id"]  # made by the server when absent
    assert abs(event.received_at - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "how",
    ["bearer", "basic", "header", "body"],
)
def test_the_write_key_rides_where_clients_put_it(live, how):
    event = {"anonymousId": "a1", "properties": {"url": "/"}}
    headers = {}
    if how == "bearer":
        headers["Authorization"] = f"Bearer {live.public_key}"
    elif how == "basic":
        token = base64.b64encode(f"{live.public_key}:".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif how == "header":
        headers["X-Write-Key"] = live.public_key
    else:
        event["writeKey"] = live.public_key
    with live.client() as http:
        answer = http.post("/v1/page", json=event, headers=headers)
    assert answer.status_code == 200, answer.text
    assert _stored(live)[0].type == "page"


def test_sendbeacon_text_plain_and_gzip_bodies(live):
    event = {"type": "track", "event": "Clicked", "anonymousId": "a1", "writeKey": live.public_key}
    with live.client() as http:
        plain = http.post(
            "/v1/track", content=json.dumps(event), headers={"Content-Type": "text/plain"}
        )
        zipped = http.post(
            "/v1/batch",
            content=gzip.compress(json.dumps({"batch": [event, event]}).encode()),
            headers={"Content-Encoding": "gzip", "X-Write-Key": live.public_key},
        )
    assert plain.status_code == 200, plain.text
    assert zipped.status_code == 200 and zipped.json()["stored"] == 2, zipped.text
    assert len(_stored(live)) == 3


def test_keys_are_checked(live):
    event = {"event": "Clicked", "userId": "u1"}
    other = create_key(live.store, "other-shop", "public")
    revoked = create_key(live.store, "shop", "public")
    revoke_key(live.store, revoked[:14])
    with live.client() as http:
        missing = http.post("/v1/track", json=event)
        wrong = http.post("/v1/track", json=event, headers={"X-Write-Key": "tk_pub_nope"})
        gone = http.post("/v1/track", json=event, headers={"X-Write-Key": revoked})
        elsewhere = http.post("/v1/track", json=event, headers={"X-Write-Key": other})
    assert missing.status_code == 401 and "tailor keys create" in missing.json()["detail"]
    assert wrong.status_code == 401 and wrong.json()["code"] == "bad_key"
    assert gone.status_code == 401
    assert elsewhere.status_code == 200
    assert _stored(live, "shop") == [] and len(_stored(live, "other-shop")) == 1


def test_a_resent_message_id_is_stored_once_even_when_sent_concurrently(live):
    message_id = str(uuid.uuid4())
    event = {"event": "Order Completed", "userId": "u1", "messageId": message_id}
    headers = {"X-Write-Key": live.public_key}

    def send(_):
        with live.client() as http:
            return http.post("/v1/track", json=event, headers=headers).json()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(24)))
    assert all(a["ok"] for a in answers)
    assert sum(a["stored"] for a in answers) == 1
    assert sum(a["duplicates"] for a in answers) == 23
    assert [e.message_id for e in _stored(live)] == [message_id]


def test_a_batch_stores_the_good_events_and_reports_the_bad_by_index(live):
    batch = [
        {"type": "track", "event": "A", "userId": "u1", "messageId": "m1"},
        {"type": "track", "userId": "u1"},  # no event name
        "not an event",
        {"type": "teleport", "event": "B", "userId": "u1"},
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}, "messageId": "m2"},
        {"type": "track", "event": "A", "userId": "u1", "messageId": "m1"},  # duplicate
        {"type": "page", "properties": {}},  # nobody
    ]
    with live.client() as http:
        answer = http.post("/v1/batch", json={"batch": batch, "writeKey": live.public_key})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["received"] == 7 and body["stored"] == 2 and body["duplicates"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 6]
    assert "needs `event`" in body["rejected"][0]["detail"]
    assert "type" in body["rejected"][2]["detail"]
    assert "user_id or anonymous_id" in body["rejected"][3]["detail"]
    identify = next(e for e in _stored(live) if e.type == "identify")
    assert identify.properties == {"plan": "pro"}


def test_bad_bodies_get_one_clear_status(live):
    headers = {"X-Write-Key": live.public_key}
    with live.client() as http:
        malformed = http.post("/v1/track", content=b"{not json", headers=headers)
        empty = http.post("/v1/track", content=b"", headers=headers)
        big_event = http.post(
            "/v1/track",
            json={"event": "A", "userId": "u", "properties": {"x": "y" * 40_000}},
            headers=headers,
        )
        big_batch = http.post(
            "/v1/batch",
            json={"batch": [{"event": "A", "userId": "u", "properties": {"x": "y" * 20_000}}] * 30},
            headers=headers,
        )
        bomb = http.post(
            "/v1/batch",
            content=gzip.compress(b" " * 2_000_000),
            headers={**headers, "Content-Encoding": "gzip"},
        )
        not_gzip = http.post(
            "/v1/batch", content=b"plain", headers={**headers, "Content-Encoding": "gzip"}
        )
        all_bad = http.post("/v1/batch", json={"batch": [{"event": "A"}]}, headers=headers)
        untyped = http.post("/v1/batch", json=[{"event": "A", "userId": "u"}], headers=headers)
        no_list = http.post("/v1/batch", json={"events": []}, headers=headers)
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["detail"]
    assert empty.status_code == 400
    assert big_event.status_code == 413
    assert big_batch.status_code == 413
    assert bomb.status_code == 413
    assert not_gzip.status_code == 400 and not_gzip.json()["code"] == "bad_gzip"
    assert all_bad.status_code == 400 and all_bad.json()["rejected"][0]["index"] == 0
    assert no_list.status_code == 400
    assert "`type` is missing" in untyped.json()["rejected"][0]["detail"]
    assert _stored(live) == []


def test_clock_skew_is_corrected_and_wild_timestamps_clamped(live):
    now = datetime.now(UTC)
    skewed_sent = now + timedelta(hours=2)  # the client's clock runs two hours ahead
    batch = [
        {
            "event": "Skewed",
            "userId": "u1",
            "timestamp": (skewed_sent - timedelta(seconds=30)).isoformat(),
            "sentAt": skewed_sent.isoformat(),
            "type": "track",
        },
        {"event": "Future", "userId": "u1", "type": "track", "timestamp": "2099-01-01T00:00:00Z"},
        {"event": "Ancient", "userId": "u1", "type": "track", "timestamp": "1999-01-01T00:00:00Z"},
    ]
    with live.client() as http:
        answer = http.post("/v1/batch", json=batch, headers={"X-Write-Key": live.public_key})
    assert answer.status_code == 200, answer.text
    events = {e.event: e for e in _stored(live)}
    skewed = events["Skewed"]
    assert abs((skewed.received_at - skewed.timestamp) - timedelta(seconds=30)) < timedelta(
        seconds=5
    )
    assert skewed.flags == []
    for name in ("Future", "Ancient"):
        assert events[name].flags == ["timestamp_clamped"]
        assert events[name].timestamp == events[name].received_at


def test_cors_lets_pages_on_other_origins_send(live):
    with live.client() as http:
        answer = http.options(
            "/v1/batch",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] in ("*", "https://shop.example")


def test_the_openapi_schema_documents_the_event_shape(live):
    with live.client() as http:
        schema = http.get("/openapi.json").json()
    body = schema["paths"]["/v1/track"]["post"]["requestBody"]["content"]["application/json"]
    fields = body["schema"]["properties"]
    assert {"type", "event", "user_id", "anonymous_id", "properties", "context"} <= set(fields)
    assert {"timestamp", "sent_at", "message_id"} <= set(fields)


def test_users_endpoint_shows_features_and_recent_events_to_secret_keys_only(live):
    events = [
        {"type": "track", "event": "Page Left", "userId": "u1", "properties": {"dwell_ms": 5000}},
        {"type": "track", "event": "Order Completed", "userId": "u1", "properties": {"revenue": 9}},
    ]
    other = create_key(live.store, "other-shop", "secret")
    with live.client() as http:
        http.post("/v1/batch", json=events, headers={"X-Write-Key": live.public_key})
        http.post("/v1/batch", json=events, headers={"X-Write-Key": live.public_key})  # resent?
        secret = {"Authorization": f"Bearer {live.secret_key}"}
        found = http.get("/v1/users/u1", headers=secret)
        public = http.get("/v1/users/u1", headers={"Authorization": f"Bearer {live.public_key}"})
        unknown = http.get("/v1/users/nobody", headers=secret)
        elsewhere = http.get("/v1/users/u1", headers={"Authorization": f"Bearer {other}"})
    assert found.status_code == 200, found.text
    profile = found.json()
    # The second batch made new message ids: four events, two purchases.
    assert profile["features"]["events"] == 4 and profile["features"]["purchases"] == 2
    assert profile["features"]["mean_dwell_s"] == pytest.approx(5.0)
    assert [e["event"] for e in profile["recent_events"]][:2] == ["Order Completed", "Page Left"]
    assert public.status_code == 403 and public.json()["code"] == "needs_secret_key"
    assert unknown.status_code == 404
    assert elsewhere.status_code == 404  # another project's key sees nothing of this one


def test_a_user_id_with_a_slash_can_be_looked_up_as_it_was_stored(live):
    event = {"type": "track", "event": "Viewed", "userId": "shop/42"}
    with live.client() as http:
        http.post("/v1/track", json=event, headers={"X-Write-Key": live.public_key})
        secret = {"Authorization": f"Bearer {live.secret_key}"}
        found = http.get("/v1/users/shop%2F42", headers=secret)
        sign_in(http, live.secret_key)
        page = http.get("/users/shop%2F42")
    assert found.status_code == 200 and found.json()["user_id"] == "shop/42"
    assert page.status_code == 200 and "shop/42" in page.text


def test_health_says_what_the_server_runs_on(live):
    with live.client() as http:
        answer = http.get("/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok" and answer.json()["database"] == "sqlite"
    assert answer.json()["events"] == "sql"


def test_consent_opts_a_user_out_of_capture_and_back_in(live):
    public = {"X-Write-Key": live.public_key}
    batch = [
        {"type": "track", "event": "Viewed", "userId": "quiet"},
        {"type": "track", "event": "Viewed", "userId": "chatty"},
    ]
    with live.client() as http:
        out = http.post("/v1/consent", json={"userId": "quiet", "optedOut": True}, headers=public)
        refused = http.post("/v1/batch", json=batch, headers=public).json()
        single = http.post("/v1/track", json=batch[0], headers=public)
        bad = http.post("/v1/consent", json={"userId": "quiet"}, headers=public)
        back = http.post("/v1/consent", json={"userId": "quiet", "optedOut": False}, headers=public)
        again = http.post("/v1/batch", json=batch, headers=public).json()
    assert out.status_code == 200 and out.json()["opted_out"] is True
    assert refused["stored"] == 1 and [r["index"] for r in refused["rejected"]] == [0]
    assert "opted out" in refused["rejected"][0]["detail"]
    assert single.status_code == 403 and single.json()["code"] == "opted_out"
    assert bad.status_code == 400 and "optedOut" in bad.json()["detail"]
    assert back.status_code == 200 and again["stored"] == 2 and again["rejected"] == []
