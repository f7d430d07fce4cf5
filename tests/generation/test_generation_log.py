"""Generation records: stored whole, read back by id and newest first, never across projects."""

from __future__ import annotations

from tailorai.generation.generation_log import GenerationLog, new_generation_id
from tailorai.projects import create_key
from tailorai.records import Generation
from tests.server.conftest import sign_in


def _record(project: str, user: str | None, output: str) -> Generation:
    return Generation(
        id=new_generation_id(),
        project_id=project,
        task="product_description",
        rung="segment_adapter",
        output=output,
        backend="local",
        user_id=user,
        segment="buyers",
        model_version="segment-buyers@2",
        adapter="segment-buyers@2",
        template_version="product_description@3",
        inputs={"product": "boots"},
        prompt=[{"role": "user", "content": "Describe boots."}],
        prompt_tokens=12,
        completion_tokens=30,
        latency_ms=41.5,
    )


def test_records_round_trip_and_stay_in_their_project(live):
    log = live.app.state.services.generations
    assert isinstance(log, GenerationLog)
    first = log.add(_record("shop", "u1", "Sturdy boots for every trail."))
    second = log.add(_record("shop", None, "Boots."))
    other_key = create_key(live.store, "elsewhere", "secret")
    log.add(_record("elsewhere", "u1", "Not yours."))
    secret = {"Authorization": f"Bearer {live.secret_key}"}
    with live.client() as http:
        one = http.get(f"/v1/generations/{first.id}", headers=secret)
        listed = http.get("/v1/generations?user_id=u1", headers=secret)
        foreign = http.get(
            f"/v1/generations/{first.id}", headers={"Authorization": f"Bearer {other_key}"}
        )
        missing = http.get("/v1/generations/nope", headers=secret)
        sign_in(http, live.secret_key)
        page = http.get("/generations")
    assert one.status_code == 200
    body = one.json()
    assert body["output"] == "Sturdy boots for every trail." and body["rung"] == "segment_adapter"
    assert body["inputs"] == {"product": "boots"} and body["prompt_tokens"] == 12
    assert body["created_at"] and body["experiment_arm"] is None
    assert [g["id"] for g in listed.json()["generations"]] == [first.id]
    assert foreign.status_code == 404 and missing.status_code == 404
    assert page.status_code == 200
    assert "segment-buyers@2" in page.text and "anonymous" in page.text
    assert second.id and "Not yours." not in page.text
