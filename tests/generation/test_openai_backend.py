"""The same requests through the local back end and through the OpenAI-compatible one, whose
upstream is a second `tailor serve` on loopback serving the same registry."""

from __future__ import annotations

import pytest

from tailorai.errors import ModelError
from tailorai.generation import GenerationRequest, LocalBackend, OpenAIBackend, Personalizer
from tailorai.server import create_app
from tailorai.training.registry import Registry
from tests.server.conftest import _free_port, serve
from tests.training.test_registry import _register, build_artifacts


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("upstream-artifacts"), tokenizer)


@pytest.fixture
def both(live, artifacts, tmp_path):
    registry = Registry(live.store, home=tmp_path, project="shop")
    registry.promote(_register(registry, "global", artifacts, scope="global").ref)
    registry.promote(_register(registry, "user-vip", artifacts, scope="user:vip").ref)
    local = LocalBackend(str(artifacts["base"]))
    upstream_app = create_app(live.store, rate_limit=0, home=tmp_path, backend=local)
    for url in serve(upstream_app):
        remote = OpenAIBackend(
            f"{url}/v1",
            api_key=live.secret_key,
            tokenizer=local.tokenizer,
            context_length=local.context_length,
        )
        make = {
            "local": local,
            "remote": remote,
        }
        yield {
            name: Personalizer(
                store=live.store,
                backend=backend,
                project="shop",
                registry=registry,
                max_new_tokens=8,
                scrub_pii=False,
            )
            for name, backend in make.items()
        }
        remote.close()
    local.close()


def test_the_same_request_gives_the_same_output_on_both(both):
    for user in ("vip", "someone"):
        here = both["local"].generate(user, "product_description", {"product": "boots"})
        there = both["remote"].generate(user, "product_description", {"product": "boots"})
        assert there.rung == here.rung and there.model_version == here.model_version
        assert there.output == here.output and there.output
        assert there.backend == "OpenAIBackend" and here.backend == "LocalBackend"
    assert here.rung == "zero_shot" and there.adapter == "global@1"  # the shared adapter


def test_streaming_through_the_upstream(both):
    remote = both["remote"].backend
    request = GenerationRequest(
        messages=[{"role": "user", "content": "Boots?"}], adapter="user-vip@1", max_new_tokens=8
    )
    remote.add_adapter("user-vip@1")
    whole = remote.generate_one(request).text
    assert "".join(remote.stream(request)) == whole


def test_an_upstream_that_is_down_is_a_model_error_after_retries():
    down = OpenAIBackend(f"http://127.0.0.1:{_free_port()}/v1", retries=1, timeout=2)
    with pytest.raises(ModelError, match="failed: ConnectError"):
        down.generate_one(GenerationRequest(prompt="hi", max_new_tokens=2))
    down.close()
