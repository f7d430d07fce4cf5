"""The dashboard in a real headless Chromium: sign in with a secret key, read the overview,
open a user's page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.events.test_tracker_browser import CHROMIUM, FLAGS


@pytest.mark.slow
def test_sign_in_overview_and_user_page(live):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    batch = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u<1>",
            "properties": {"revenue": 5},
        },
        {"type": "page", "userId": "u2"},
        {"type": "page", "anonymousId": "a3"},
    ]
    with live.client() as http:
        assert http.post(
            "/v1/batch", json=batch, headers={"X-Write-Key": live.public_key}
        ).is_success
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{live.url}/")
        page.fill("#key", live.public_key)  # a public key may not read the dashboard
        page.click("#sign-in")
        assert "only send events" in page.inner_text("#error")
        page.fill("#key", live.secret_key)
        page.click("#sign-in")
        page.wait_for_selector("#users")
        assert page.inner_text("#users") == "3"
        assert page.inner_text("#events") == "3"
        assert page.inner_text("#last-minute") == "3"
        assert "not assigned yet" in page.inner_text("#segment-table")
        page.fill("#user-id", "u<1>")
        page.click("#find")
        page.wait_for_selector("#features")
        assert page.inner_text("#user") == "u<1>"  # shown as text, not markup
        assert "purchases" in page.inner_text("#features")
        assert "Order Completed" in page.inner_text("#recent")
        page.goto(f"{live.url}/logout")
        assert page.locator("#key").count() == 1
        browser.close()
