"""`POST /v1/generate` on the real server with a real (tiny) model."""

from __future__ import annotations

import pytest

from tailorai.generation import LocalBackend
from tailorai.server import create_app
from tailorai.training.registry import Registry
from tests.server.conftest import LiveServer, serve
from tests.training.test_registry import _register, build_artifacts


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("endpoint-artifacts"), tokenizer)


@pytest.fixture
def server(live, artifacts, tmp_path):
    registry = Registry(live.store, home=tmp_path, project="shop")
    registry.promote(_register(registry, "global", artifacts, scope="global").ref)
    backend = LocalBackend(str(artifacts["base"]))
    app = create_app(live.store, rate_limit=0, home=tmp_path, backend=backend)
    for url in serve(app):
        yield LiveServer(url, live.store, app, live.public_key, live.secret_key)
    backend.close()


def test_generate_answers_with_a_recorded_generation(server):
    secret = {"Authorization": f"Bearer {server.secret_key}"}
    body = {
        "user_id": "u1",
        "task": "product_description",
        "inputs": {"product": "boots"},
        "max_tokens": 6,
    }
    with server.client() as http:
        answer = http.post("/v1/generate", json=body, headers=secret)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        record = http.get(f"/v1/generations/{result['generation_id']}", headers=secret).json()
        unknown = http.post("/v1/generate", json={**body, "task": "haiku"}, headers=secret)
        public = http.post(
            "/v1/generate", json=body, headers={"Authorization": f"Bearer {server.public_key}"}
        )
        bad = http.post("/v1/generate", json={**body, "max_tokens": 0}, headers=secret)
        extra = http.post("/v1/generate", json={**body, "temprature": 2}, headers=secret)
    assert result["rung"] == "zero_shot" and result["model_version"] == "global@1"
    assert 0 < result["usage"]["completion_tokens"] <= 6
    assert record["output"] == result["output"] and record["user_id"] == "u1"
    assert unknown.status_code == 404 and "product_description" in unknown.json()["detail"]
    assert public.status_code == 403
    assert bad.status_code == 422 and extra.status_code == 422  # naming the field


def test_a_failing_back_end_is_a_503_and_records_nothing(live, artifacts, tmp_path):
    down = LocalBackend(str(artifacts["base"]))
    down.close()  # a back end that takes no more requests, as one shutting down
    app = create_app(live.store, rate_limit=0, home=tmp_path, backend=down)
    for url in serve(app):
        server = LiveServer(url, live.store, app, live.public_key, live.secret_key)
        secret = {"Authorization": f"Bearer {server.secret_key}"}
        with server.client() as http:
            answer = http.post(
                "/v1/generate", json={"task": "email", "inputs": {"goal": "hi"}}, headers=secret
            )
            listed = http.get("/v1/generations", headers=secret).json()
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "Nothing was recorded" in answer.json()["detail"]
    assert listed["generations"] == []


def test_generate_streams_server_sent_events(server):
    import json

    secret = {"Authorization": f"Bearer {server.secret_key}"}
    body = {"user_id": "u1", "task": "email", "inputs": {"goal": "hi"}, "max_tokens": 8}
    with server.client() as http:
        whole = http.post("/v1/generate", json=body, headers=secret).json()
        events = []
        with http.stream(
            # Another (equally unknown) user: u1 had today's one email (the frequency cap).
            "POST",
            "/v1/generate",
            json={**body, "user_id": "u2", "stream": True},
            headers=secret,
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
        generation_id = events[-1]["generation_id"]
        record = http.get(f"/v1/generations/{generation_id}", headers=secret).json()
    assert events[-1]["done"] is True
    streamed = "".join(e.get("delta", "") for e in events)
    assert streamed.strip() == whole["output"]
    assert record["output"] == streamed and record["rung"] == whole["rung"]
