"""`POST /v1/feedback` and `GET /v1/feedback` on the real server."""

from __future__ import annotations

from tailorai.events import Client
from tests.feedback.test_feedback import _generation


def test_feedback_over_http_is_stored_once_and_read_back_with_its_generation(live):
    _generation(live.store, "g1", arm="exp-1:candidate")
    public = {"Authorization": f"Bearer {live.public_key}"}
    secret = {"Authorization": f"Bearer {live.secret_key}"}
    body = {"generation_id": "g1", "thumbs": "up", "rating": 4}
    with live.client() as http:
        first = http.post("/v1/feedback", json=body, headers={**public, "Idempotency-Key": "k1"})
        retry = http.post("/v1/feedback", json=body, headers={**public, "Idempotency-Key": "k1"})
        unknown = http.post("/v1/feedback", json={**body, "generation_id": "nope"}, headers=public)
        stars = http.post("/v1/feedback", json={**body, "rating": 7}, headers=public)
        empty = http.post("/v1/feedback", json={"generation_id": "g1"}, headers=public)
        broken = http.post(
            "/v1/feedback", content=b"{", headers={**public, "Content-Type": "application/json"}
        )
        # The Python client's feedback() rides the event stream and is folded in on read.
        client = Client(live.public_key, host=live.url)
        client.feedback("u1", "g1", {"thumbs": "down", "comment": "meh"})
        client.flush()
        listed = http.get("/v1/feedback", params={"generation_id": "g1"}, headers=secret)
        by_version = http.get("/v1/feedback", params={"version": "global@1"}, headers=secret)
        not_public = http.get("/v1/feedback", headers=public)
    assert first.status_code == 200 and first.json()["stored"] is True
    assert retry.status_code == 200 and retry.json()["stored"] is False
    assert retry.json()["feedback"]["id"] == first.json()["feedback"]["id"]
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    assert stars.status_code == 422 and "rating" in stars.json()["detail"]
    assert empty.status_code == 422 and broken.status_code == 400
    rows = listed.json()["feedback"]
    assert [(r["source"], r["thumbs"]) for r in rows] == [("tracker", -1), ("api", 1)]
    assert rows[0]["experiment_arm"] == "exp-1:candidate" and rows[0]["comment"] == "meh"
    assert len(by_version.json()["feedback"]) == 2
    assert not_public.status_code == 403
