"""tracker.js in a real headless Chromium, on a page of another origin, against the real server."""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from pathlib import Path

import pytest

from tailorai.events import SqlEventStream
from tests.server.conftest import _free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

PAGE = """<!doctype html><html><head><title>{title}</title>
<script src="{server}/tracker.js" data-write-key="{key}"></script></head>
<body style="margin:0">
<a id="more" href="#details" data-tailor-event="Read More" data-tailor-category="shoes">More</a>
<button id="buy" data-tailor-generation-id="gen-7">Buy now</button>
<div style="height:3000px">tall content</div>
<form id="signup" action="/second.html" method="get">
  <input name="email" value="secret@example.com"><input name="nickname" value="Nick">
  <button id="send" type="submit">Sign up</button>
</form>
</body></html>"""


def _site(folder: Path, server: str, key: str) -> str:
    """A customer's site on its own origin, with the tracker on two pages."""
    for name, title in (("index.html", "First"), ("second.html", "Second")):
        (folder / name).write_text(PAGE.format(title=title, server=server, key=key))
    return _site_folder(folder)


def _site_folder(folder: Path) -> str:
    """`folder` served as a website of its own origin."""
    port = _free_port()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(folder)
    )
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


def _wait_for(live, count: int, timeout: float = 20.0, until=None) -> list:
    """The stored events once there are `count` (and `until(events)` holds), or at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        events = [e for _, e in SqlEventStream(live.store).read("shop", limit=1000)]
        done = len(events) >= count and (until is None or until(events))
        if done or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


@pytest.mark.slow
def test_tracker_records_what_the_user_did(live, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    site = _site(tmp_path, live.url, live.public_key)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 800, "height": 600})
        page.goto(f"{site}/index.html")
        page.click("#more")
        page.click("#buy")
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(1500)  # dwell on the first page
        page.evaluate("tailor.identify('u42', {plan: 'pro'})")
        page.click("#send")  # submits the form: the browser goes to the second page
        page.wait_for_url(f"{site}/second.html**")
        # Under load the tracker may not have run yet: wait for it, not for a fixed time.
        page.wait_for_function("window.tailor && window.tailor._loaded", timeout=30_000)
        # The second page's view goes out with the tracker's own flush: wait until it is
        # stored, so that what follows tests the beacon alone, not a race with that fetch.
        _wait_for(
            live,
            1,
            timeout=30.0,
            until=lambda found: any(
                e.type == "page" and e.context["page"]["title"] == "Second" for e in found
            ),
        )
        page.close()  # leaving the second page flushes its last events by beacon
        # The beacon outlives the page but not the browser: wait for it before closing.
        events = _wait_for(
            live,
            11,
            timeout=60.0,
            until=lambda found: (
                sum(e.event == "Page Left" for e in found) >= 2
                and any(e.type == "page" and e.context["page"]["title"] == "Second" for e in found)
            ),
        )
        browser.close()
    names = [(e.type, e.event) for e in events]
    pages = [e for e in events if e.type == "page"]
    assert [e.context["page"]["title"] for e in pages] == ["First", "Second"]
    assert ("track", "Read More") in names and ("identify", None) in names
    read_more = next(e for e in events if e.event == "Read More")
    assert read_more.properties["category"] == "shoes"
    clicked = next(e for e in events if e.event == "Content Clicked")
    assert clicked.properties["generation_id"] == "gen-7"
    assert ("track", "Content Shown") in names
    form = next(e for e in events if e.event == "Form Submitted")
    assert form.properties["fields"] == ["email", "nickname"]
    assert "secret@example.com" not in str(form.as_dict())  # names only, never values
    # Dwell and conversions on a page count for the generated content it shows.
    assert form.properties["generation_id"] == "gen-7"
    left = [e for e in events if e.event == "Page Left"]
    assert len(left) == 2  # the second one arrived with the page closing
    first = left[0]
    assert first.properties["dwell_ms"] >= 1500 and first.properties["scroll_depth"] > 20
    assert first.properties["generation_id"] == "gen-7"
    assert left[1].context["page"]["title"] == "Second"
    # Before identify the events carry the anonymous id; after it, the user id as well.
    assert len({e.anonymous_id for e in events}) == 1
    assert all(e.user_id == "u42" for e in events if e.context["page"]["title"] == "Second")
    assert len({e.message_id for e in events}) == len(events)  # each stored once


@pytest.mark.slow
def test_tracker_keeps_a_capped_queue_retries_and_reports_what_it_dropped(live, tmp_path):
    """The collector is down at first: events wait in the capped queue (the oldest dropped and
    counted), are retried with backoff, and arrive once it is up; feedback rides along."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from tailorai.server import create_app
    from tests.server.conftest import serve

    collector_port = _free_port()  # nothing listens here yet
    page_html = (
        f'<!doctype html><html><head><title>Queue</title><script src="{live.url}/tracker.js" '
        f'data-write-key="{live.public_key}" data-host="http://127.0.0.1:{collector_port}">'
        "</script></head><body>queue</body></html>"
    )
    (tmp_path / "index.html").write_text(page_html)
    (tmp_path / "second.html").write_text(page_html)
    site = _site_folder(tmp_path)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{site}/index.html")
        page.evaluate(
            "tailor.init({maxQueue: 5});"
            "for (let i = 0; i < 9; i++) tailor.track('Tick', {i: i});"
            "tailor.feedback('gen-9', {thumbs: 'up'});"
        )
        page.wait_for_timeout(1500)  # a first flush fails: nobody listens yet
        queued = page.evaluate("JSON.parse(localStorage.getItem('tailor:queue')).length")
        dropped = page.evaluate("JSON.parse(localStorage.getItem('tailor:dropped'))")
        assert queued == 5 and dropped == 6  # the page view and the first five ticks went
        for _url in serve(create_app(live.store, rate_limit=0), collector_port):
            events = _wait_for(live, 5, timeout=30)  # the retry, after its backoff
            browser.close()
    assert len(events) == 5
    assert [e.properties.get("i") for e in events[:4]] == [5, 6, 7, 8]
    assert events[0].context["dropped_events"] == 6
    feedback = events[-1]
    assert feedback.type == "feedback" and feedback.properties == {
        "generation_id": "gen-9",
        "thumbs": "up",
    }


@pytest.mark.slow
def test_an_opted_out_browser_sends_nothing_and_the_server_refuses_its_events(live, tmp_path):
    """`tailor.optOut()` stops tracking and tells the server, which refuses that browser's
    events from then on; a browser sending Global Privacy Control is never tracked."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    site = _site(tmp_path, live.url, live.public_key)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{site}/index.html")
        page.wait_for_function("window.tailor && window.tailor._loaded")
        anonymous = page.evaluate("tailor.anonymousId()")
        with page.expect_response(f"{live.url}/v1/consent") as said:
            page.evaluate("tailor.optOut()")
        assert said.value.status == 200
        page.click("#more")
        page.mouse.wheel(0, 1500)
        page.evaluate("tailor.track('Should Not Arrive'); tailor.flush()")
        page.wait_for_timeout(2500)  # two flush periods
        page.close()  # and no Page Left beacon
        # Global Privacy Control, as a browser that sends it reports it.
        gpc = browser.new_context()
        gpc.add_init_script(
            "Object.defineProperty(navigator, 'globalPrivacyControl', {get: () => true})"
        )
        other = gpc.new_page()
        other.goto(f"{site}/index.html")
        other.wait_for_function("window.tailor && window.tailor._loaded")
        assert other.evaluate("tailor.optedOut()") is True
        other.click("#more")
        other.wait_for_timeout(2500)
        other.close()
        browser.close()
    events = [e for _, e in SqlEventStream(live.store).read("shop", limit=1000)]
    assert all(e.event != "Should Not Arrive" for e in events)
    # What was sent before opting out arrived or not; nothing after it did, from either page.
    assert all(e.event not in ("Read More", "Page Left") for e in events)
    with live.client() as http:
        refused = http.post(
            "/v1/track",
            json={"event": "Viewed", "anonymousId": anonymous},
            headers={"X-Write-Key": live.public_key},
        )
    assert refused.status_code == 403 and refused.json()["code"] == "opted_out"
