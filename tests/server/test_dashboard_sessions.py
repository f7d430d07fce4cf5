"""Dashboard sessions: the cookie is a server-side session, not the key; signing out and
revoking the key end it; every POST is refused from another origin, in a real Chromium too."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import httpx
import pytest

from tailorai.audit.review import ReviewQueue
from tailorai.projects import create_key, list_keys, revoke_key
from tailorai.server import create_app
from tests.events.test_tracker_browser import CHROMIUM, FLAGS
from tests.feedback.test_feedback import _generation
from tests.server.conftest import _free_port, serve, sign_in


def _flagged(store) -> dict:
    _generation(store, "g1", "u1")
    queue = ReviewQueue(store, project="shop")
    return queue.get(queue.flag("g1", "pii", "an address"))


def test_the_cookie_is_a_session_that_sign_out_and_revocation_end(live):
    with live.client() as http:
        sign_in(http, live.secret_key)
        token = http.cookies["tailor_session"]
        assert live.secret_key not in token and "tailor_key" not in http.cookies
        assert "Sign in" not in http.get("/").text
        http.get("/logout")
    with httpx.Client(base_url=live.url, cookies={"tailor_session": token}) as replay:
        assert "Sign in" in replay.get("/").text  # the replayed cookie no longer works
    other = create_key(live.store, "shop", "secret", name="bob")
    with live.client() as http:
        sign_in(http, other)
        assert "Sign in" not in http.get("/").text
        [listed] = [k for k in list_keys(live.store, "shop") if k.name == "bob"]
        revoke_key(live.store, listed.prefix)
        assert "Sign in" in http.get("/").text  # a revoked key's sessions end at once


def test_the_session_cookie_is_secure_when_configured(live):
    live.app.state.settings = live.app.state.settings.model_copy(update={"cookie_secure": True})
    with live.client() as http:
        answer = http.post("/login", data={"key": live.secret_key}, follow_redirects=False)
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_posts_from_another_origin_or_without_the_sessions_token_are_refused(live):
    item = _flagged(live.store)
    form = {"action": "reject", "revision": str(item["revision"])}
    elsewhere = {"Origin": "http://127.0.0.1:1"}  # another port of the same host
    with live.client() as http:
        sign_in(http, live.secret_key)
        page = http.get("/review").text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        forged = http.post(f"/review/{item['id']}", data={**form, "csrf": csrf}, headers=elsewhere)
        tokenless = http.post(f"/review/{item['id']}", data=form)
        login = http.post("/login", data={"key": live.secret_key}, headers=elsewhere)
        assert ReviewQueue(live.store, project="shop").get(item["id"])["status"] == "pending"
        own = {"Origin": live.url}
        done = http.post(f"/review/{item['id']}", data={**form, "csrf": csrf}, headers=own)
    assert forged.status_code == 403 and tokenless.status_code == 403 and login.status_code == 403
    assert done.status_code == 303
    assert ReviewQueue(live.store, project="shop").get(item["id"])["status"] == "rejected"


ATTACK = """<!doctype html><html><body>
<form id="f" method="post" action="{server}/review/{item}">
  <input name="action" value="reject"><input name="revision" value="{revision}">
</form><script>document.getElementById("f").submit()</script></body></html>"""


@pytest.mark.slow
def test_a_page_on_another_port_cannot_decide_a_review_through_the_signed_in_browser(
    live, tmp_path
):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    item = _flagged(live.store)
    page_text = ATTACK.format(server=live.url, item=item["id"], revision=item["revision"])
    (tmp_path / "attack.html").write_text(page_text)
    port = _free_port()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path)
    )
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.goto(f"{live.url}/")
            page.fill("#key", live.secret_key)
            page.click("#sign-in")
            page.wait_for_selector("#users")
            with page.expect_response(f"{live.url}/review/{item['id']}") as answer:
                page.goto(f"http://127.0.0.1:{port}/attack.html")
            assert answer.value.status == 403
            browser.close()
    finally:
        site.shutdown()
    assert ReviewQueue(live.store, project="shop").get(item["id"])["status"] == "pending"


def test_the_dashboard_with_the_default_rate_limit_still_signs_in(live):
    """Sessions are rate-limited per key like API calls, and sign-in itself is one call."""
    for url in serve(create_app(live.store)):
        with httpx.Client(base_url=url) as http:
            sign_in(http, live.secret_key)
            assert http.get("/").status_code == 200
