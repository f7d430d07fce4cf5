"""The router's choice for users with little, some and much data, and for nobody at all."""

from __future__ import annotations

import pytest

from tailorai.generation.router import Router
from tailorai.store import Store
from tailorai.training.registry import Registry
from tests.training.test_registry import _register, build_artifacts


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("router-artifacts"), tokenizer)


@pytest.fixture
def registry(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    yield Registry(store, home=tmp_path)
    store.close()


def test_each_rung_where_the_data_supports_it(registry, adapters):
    router = Router(registry, few_shot=3, ttl=0)
    # Nothing trained yet: zero-shot on the base, or few-shot with enough of one's own.
    assert router.route(None, None, 0).rung == "zero_shot"
    assert router.route("u1", "buyers", 2).rung == "zero_shot"
    few = router.route("u1", "buyers", 3)
    assert few.rung == "few_shot" and few.version is None and "base model" in few.reason
    shared = _register(registry, "global", adapters, scope="global")
    registry.promote(shared.ref)
    assert router.route("u1", "buyers", 5).model_version == "global@1"
    segment = _register(registry, "segment-buyers", adapters, scope="segment:buyers")
    registry.promote(segment.ref)
    route = router.route("u1", "buyers", 5)
    assert route.rung == "segment_adapter" and route.model_version == "segment-buyers@1"
    assert router.route("u2", "browsers", 0).rung == "zero_shot"  # another segment
    mine = _register(registry, "user-u1", adapters, scope="user:u1")
    registry.promote(mine.ref)
    assert router.route("u1", "buyers", 5).rung == "user_adapter"
    assert router.route("u1", None, 0).rung == "user_adapter"  # even before a segment
    # An anonymous visitor is never an error: the default prompt on the shared model.
    anonymous = router.route(None, None, 0)
    assert anonymous.rung == "zero_shot" and anonymous.model_version == "global@1"


def test_production_versions_are_cached_for_ttl(registry, adapters):
    router = Router(registry, ttl=60)
    assert router.route("u1", "buyers", 0).version is None
    segment = _register(registry, "segment-buyers", adapters, scope="segment:buyers")
    registry.promote(segment.ref)
    assert router.route("u1", "buyers", 0).rung == "zero_shot"  # still the cached answer
    assert Router(registry, ttl=60).route("u1", "buyers", 0).rung == "segment_adapter"


def test_the_default_few_shot_threshold_is_the_ladders(registry):
    """Serving and `tailor plan` agree on when a user's own examples are shown: from one."""
    from tailorai.training.ladder import LadderThresholds

    router = Router(registry, ttl=0)
    assert router.few_shot == LadderThresholds().few_shot == 1
    assert router.route("u1", "buyers", 1).rung == "few_shot"
    assert router.route("u1", "buyers", 0).rung == "zero_shot"
