"""The Personalizer end to end on a tiny model: every rung of the ladder chosen from real data,
the prompt composed for it, the right adapter run, and the record stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from tailorai.errors import ConfigError
from tailorai.events import SqlEventStream, parse_event
from tailorai.generation import GenerationRequest, LocalBackend, Personalizer
from tailorai.projects import create_key
from tailorai.prompting import BM25Retriever
from tailorai.records import Example, Message
from tailorai.segments import FeatureStore
from tailorai.store import Store
from tailorai.store.tables import UserFeatureRow
from tailorai.training.registry import Registry
from tests.training.test_registry import _register, build_artifacts


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("personalizer-artifacts"), tokenizer)


@pytest.fixture
def world(tmp_path, artifacts):
    """A project whose users sit on each rung: vip (own adapter), buyer (segment adapter),
    regular (five examples of their own), newcomer (nothing yet)."""
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    create_key(store, "shop", "secret")
    registry = Registry(store, home=tmp_path, project="shop")
    for name, scope, method in (
        ("global", "global", "lora"),
        ("segment-buyers", "segment:buyers", "dora"),
        ("user-vip", "user:vip", "lora"),
    ):
        registry.promote(_register(registry, name, artifacts, scope=scope, method=method).ref)
    now = datetime.now(UTC)
    events = [
        parse_event({"type": "track", "event": "Viewed", "userId": u, "properties": p}, now)
        for u, p in (("vip", {}), ("buyer", {"category": "boots"}), ("regular", {}))
    ]
    features = FeatureStore(store)
    features.update("shop", SqlEventStream(store).append("shop", events).new)
    with store.session() as s:
        s.execute(
            update(UserFeatureRow)
            .where(UserFeatureRow.user_key == "buyer")
            .values(segment="buyers")
        )
    history = [
        Example(
            id=f"r{i}",
            user_id="regular",
            conversation_id=f"c{i}",
            messages=[Message("user", f"Describe item {i}"), Message("assistant", f"Item {i}.")],
            source="test",
        )
        for i in range(5)
    ]
    backend = LocalBackend(str(artifacts["base"]))
    personalizer = Personalizer(
        store=store,
        backend=backend,
        project="shop",
        registry=registry,
        retriever=BM25Retriever().fit(history),
        max_new_tokens=8,
        scrub_pii=False,
    )
    yield personalizer, backend
    backend.close()
    store.close()


def test_each_user_gets_the_rung_their_data_supports(world):
    personalizer, backend = world
    inputs = {"product": "hiking boots"}
    rungs = {
        user: personalizer.generate(user, "product_description", inputs)
        for user in ("vip", "buyer", "regular", "newcomer")
    }
    assert {u: g.rung for u, g in rungs.items()} == {
        "vip": "user_adapter",
        "buyer": "segment_adapter",
        "regular": "few_shot",
        "newcomer": "zero_shot",
    }
    assert rungs["vip"].model_version == "user-vip@1" == rungs["vip"].adapter
    assert rungs["buyer"].segment == "buyers" and rungs["buyer"].adapter == "segment-buyers@1"
    assert rungs["newcomer"].model_version == "global@1" and rungs["newcomer"].segment is None
    few = rungs["regular"].prompt
    assert any(m["content"].startswith("Item ") for m in few if m["role"] == "assistant")
    assert all(m["role"] != "assistant" for m in rungs["newcomer"].prompt)
    # The output is what the chosen adapter writes for that prompt, and the record keeps it all.
    again = backend.generate_one(
        GenerationRequest(messages=rungs["vip"].prompt, adapter="user-vip@1", max_new_tokens=8)
    )
    assert rungs["vip"].output == again.text.strip()
    stored = personalizer.log.get("shop", rungs["buyer"].id)
    assert stored.template_version.startswith("1+") and stored.latency_ms > 0  # file version + hash
    assert stored.inputs == inputs and stored.completion_tokens > 0


def test_anonymous_and_unknown_users_are_cold_starts_not_errors(world):
    personalizer, _ = world
    anonymous = personalizer.generate(None, "email", {"goal": "welcome"}, anonymous_id="a-1")
    assert anonymous.rung == "zero_shot" and anonymous.user_id == "a-1"
    nobody = personalizer.generate(None, "email", {"goal": "welcome"})
    assert nobody.rung == "zero_shot" and nobody.user_id is None


def test_unknown_task_names_the_known_ones(world):
    personalizer, _ = world
    with pytest.raises(ConfigError, match="Known tasks"):
        personalizer.generate("vip", "haiku", {})


def test_personal_data_in_the_output_becomes_placeholders(world):
    personalizer, _ = world
    personalizer.scrub_pii = True
    text = personalizer._guard(
        "vip", "email", "Write to jane.doe@example.com or call 555-123-4567."
    )
    assert "jane.doe@example.com" not in text and "<EMAIL_ADDRESS>" in text


def test_streamed_output_is_scrubbed_sentence_by_sentence(world):
    personalizer, _ = world
    pieces = iter(["Hello! Mail jane.", "doe@exam", "ple.com today. ", "Call 555-123-", "4567."])
    out = list(personalizer._scrub_stream(pieces))
    assert not any("jane.doe" in piece or "example.com" in piece for piece in out)
    joined = "".join(out)
    assert joined.startswith("Hello!") and "<EMAIL_ADDRESS>" in joined and "4567" not in joined
