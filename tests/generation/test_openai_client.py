"""The official `openai` package, unmodified, against our server: plain, streamed, a named
version, and an error."""

from __future__ import annotations

import openai
import pytest

from tailorai.generation import LocalBackend
from tailorai.server import create_app
from tailorai.training.registry import Registry
from tests.server.conftest import serve
from tests.training.test_registry import _register, build_artifacts


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("openai-artifacts"), tokenizer)


@pytest.fixture
def client(live, artifacts, tmp_path):
    registry = Registry(live.store, home=tmp_path, project="shop")
    registry.promote(_register(registry, "global", artifacts, scope="global").ref)
    _register(registry, "tone", artifacts, scope="segment:buyers")  # a candidate, by name
    backend = LocalBackend(str(artifacts["base"]))
    app = create_app(live.store, rate_limit=0, home=tmp_path, backend=backend)
    for url in serve(app):
        yield openai.OpenAI(base_url=f"{url}/v1", api_key=live.secret_key, max_retries=0), app
    backend.close()


MESSAGES = [{"role": "user", "content": "Tell me about boots."}]


def test_a_completion_is_a_recorded_generation(client):
    api, app = client
    reply = api.chat.completions.create(model="tailor", messages=MESSAGES, user="u1", max_tokens=6)
    assert reply.object == "chat.completion" and reply.model == "global@1"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert 0 < reply.usage.completion_tokens <= 6
    generation_id = reply.id.removeprefix("chatcmpl-")
    record = app.state.services.generations.get("shop", generation_id)
    assert record.output == reply.choices[0].message.content and record.user_id == "u1"
    assert record.task == "chat" and record.rung == "zero_shot"


def test_streaming_joins_to_the_same_reply(client):
    api, app = client
    plain = api.chat.completions.create(model="tailor", messages=MESSAGES, max_tokens=8)
    stream = api.chat.completions.create(
        model="tailor", messages=MESSAGES, max_tokens=8, stream=True
    )
    pieces, ids = [], set()
    for chunk in stream:
        ids.add(chunk.id)
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert "".join(pieces) == plain.choices[0].message.content
    [streamed_id] = ids
    record = app.state.services.generations.get("shop", streamed_id.removeprefix("chatcmpl-"))
    assert record is not None and record.output == "".join(pieces)


def test_a_named_version_and_an_unknown_one(client):
    api, _ = client
    named = api.chat.completions.create(model="tone@1", messages=MESSAGES, max_tokens=4)
    assert named.model == "tone@1"
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(model="nope", messages=MESSAGES, max_tokens=4)
