"""Campaign emails rendered, over HTTP with a real (tiny) model, and the click redirect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from tailorai.campaigns import Campaign, Placement, Send
from tailorai.campaigns.render import render_email
from tailorai.events import SqlEventStream, parse_event
from tailorai.generation import LocalBackend
from tailorai.segments import FeatureStore
from tailorai.server import create_app
from tailorai.store.tables import CampaignSendRow, UserFeatureRow
from tests.campaigns.test_spec import GOOD
from tests.server.conftest import LiveServer, serve
from tests.training.test_registry import build_artifacts

WEEKLY = GOOD.replace("slots: 2", "slots: 2\nmax_tokens: 4")


def test_an_email_escapes_model_output_and_links_through_the_redirect():
    campaign = Campaign.from_yaml(WEEKLY)
    block = campaign.block("recommendations")
    send = Send(
        "s1",
        "u1",
        "browsers",
        [Placement(block, 0, 0.5, [], "g1", 'Try <script>alert("x")</script> & more')],
        {"top_category": "shoes"},
    )
    email = render_email(campaign, send, click_url="https://t.example/")
    assert email.subject == "News from Shop"
    assert "&lt;script&gt;" in email.html and "<script>" not in email.html
    assert 'Try <script>alert("x")</script> & more' in email.text
    assert "https://t.example/v1/c/s1/recommendations" in email.html
    assert "https://t.example/v1/c/s1/recommendations" in email.text
    assert email.blocks[0]["generation_id"] == "g1" and email.blocks[0]["title"] == "Picked for you"
    plain = render_email(campaign, send, click_url=None)
    assert "https://shop.example/recs" in plain.html  # no redirect: the block's own link


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("campaign-artifacts"), tokenizer)


@pytest.fixture
def server(live, artifacts, tmp_path):
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "weekly.yaml").write_text(WEEKLY)
    (tmp_path / "campaigns" / "broken.yaml").write_text(
        WEEKLY.replace("name: weekly", "name: broken").replace("slots: 2", "slots: many")
    )
    now = datetime.now(UTC)
    features = FeatureStore(live.store)
    SqlEventStream(live.store).append(
        "shop",
        [parse_event({"type": "track", "event": "Viewed", "userId": "u1"}, now)],
        then=lambda c, new: features.update("shop", new, connection=c),
    )
    with live.store.engine.begin() as connection:
        connection.execute(update(UserFeatureRow).values(segment="browsers"))
    backend = LocalBackend(str(artifacts["base"]))
    app = create_app(live.store, rate_limit=0, home=tmp_path, backend=backend)
    for url in serve(app):
        yield LiveServer(url, live.store, app, live.public_key, live.secret_key)
    backend.close()


def test_render_over_http_then_a_click_teaches_the_bandit(server):
    secret = {"Authorization": f"Bearer {server.secret_key}"}
    with server.client() as http:
        listed = http.get("/v1/campaigns", headers=secret).json()["campaigns"]
        answer = http.post(
            "/v1/campaigns/weekly/render", json={"user_ids": ["u1", "stranger"]}, headers=secret
        )
        assert answer.status_code == 200, answer.text
        emails = {e["user_id"]: e for e in answer.json()["emails"]}
        block = emails["u1"]["blocks"][0]
        record = http.get(f"/v1/generations/{block['generation_id']}", headers=secret).json()
        clicked = http.get(block["url"].removeprefix(server.url))
        clicked_again = http.get(block["url"].removeprefix(server.url))
        # The next render learns from the click first, whoever it then sends to.
        segment = http.post(
            "/v1/campaigns/weekly/render", json={"segment": "browsers"}, headers=secret
        )
    assert {"weekly", "broken", "movie_night"} <= set(listed)
    assert set(emails) == {"u1", "stranger"}
    assert block["url"].startswith(f"{server.url}/v1/c/{emails['u1']['send_id']}/")
    assert "<html" in emails["u1"]["html"] and block["title"] in emails["u1"]["text"]
    assert record["user_id"] == "u1" and record["task"] == "email_block"
    assert clicked.status_code == 302 and clicked.headers["location"] == block["link"]
    assert clicked_again.status_code == 302
    clicks = [e for _, e in SqlEventStream(server.store).read("shop") if e.event == "Email Clicked"]
    assert len(clicks) == 1 and clicks[0].properties["block"] == block["name"]
    # u1 had today's email (the default cap is one a day): none now, but the click was learned.
    assert segment.status_code == 200 and segment.json()["emails"] == []
    assert segment.json()["skipped"] == 1
    with server.store.session() as s:
        clicked_at = s.scalar(
            select(CampaignSendRow.clicked_at).where(
                CampaignSendRow.send_id == emails["u1"]["send_id"],
                CampaignSendRow.block == block["name"],
            )
        )
    assert clicked_at is not None


def test_bad_campaign_requests_get_clear_answers(server):
    secret = {"Authorization": f"Bearer {server.secret_key}"}
    public = {"Authorization": f"Bearer {server.public_key}"}
    users = {"user_ids": ["u1"]}
    with server.client() as http:
        unknown = http.post("/v1/campaigns/nope/render", json=users, headers=secret)
        broken = http.post("/v1/campaigns/broken/render", json=users, headers=secret)
        both = http.post(
            "/v1/campaigns/weekly/render", json={**users, "segment": "x"}, headers=secret
        )
        neither = http.post("/v1/campaigns/weekly/render", json={}, headers=secret)
        empty = http.post("/v1/campaigns/weekly/render", json={"segment": "x"}, headers=secret)
        by_public = http.post("/v1/campaigns/weekly/render", json=users, headers=public)
        bogus = http.get("/v1/c/0123456789abcdef/recommendations")
        garbage = http.post("/v1/campaigns/weekly/render", content=b"{", headers=secret)
    assert unknown.status_code == 404 and "weekly" in unknown.json()["detail"]
    assert broken.status_code == 422 and "line 5, field `slots`" in broken.json()["detail"]
    assert both.status_code == 422 and neither.status_code == 422
    assert empty.status_code == 404 and "segment 'x'" in empty.json()["detail"]
    assert by_public.status_code == 403
    assert bogus.status_code == 404
    assert garbage.status_code in (400, 422)


def test_email_links_never_take_their_host_from_the_request(server):
    """Whoever sends the render request picks its Host header; the links go to every
    recipient. They use the configured public URL, else the address the server listens on."""
    secret = {"Authorization": f"Bearer {server.secret_key}", "Host": "evil.example"}
    users = {"user_ids": ["stranger-1"]}
    with server.client() as http:
        spoofed = http.post("/v1/campaigns/weekly/render", json=users, headers=secret)
        settings = server.app.state.settings
        server.app.state.settings = settings.model_copy(
            update={"public_url": "https://tailor.example.com/"}
        )
        try:
            users = {"user_ids": ["stranger-2"]}
            configured = http.post("/v1/campaigns/weekly/render", json=users, headers=secret)
        finally:
            server.app.state.settings = settings
    [spoofed_email], [configured_email] = spoofed.json()["emails"], configured.json()["emails"]
    assert spoofed_email["blocks"][0]["url"].startswith(f"{server.url}/v1/c/")
    assert "evil.example" not in spoofed_email["html"]
    assert configured_email["blocks"][0]["url"].startswith("https://tailor.example.com/v1/c/")
