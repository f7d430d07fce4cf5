"""The Personalizer end to end on a tiny model: every rung of the ladder chosen from real data,
the prompt composed for it, the right adapter run, and the record stored."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from tailorai.errors import ConfigError
from tailorai.events import SqlEventStream, parse_event
from tailorai.generation import (
    CONTENT_DECODING,
    GenerationRequest,
    GenerationResult,
    LocalBackend,
    Personalizer,
)
from tailorai.generation.guards import trim_unfinished
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
        GenerationRequest(
            messages=rungs["vip"].prompt,
            adapter="shop/user-vip@1",  # the back end's key names the project
            max_new_tokens=8,
            **personalizer.decoding,
        )
    )
    expected = again.text.strip()
    assert rungs["vip"].output == (
        trim_unfinished(expected) if again.finish_reason == "length" else expected
    )
    stored = personalizer.log.get("shop", rungs["buyer"].id)
    assert stored.template_version.startswith("2+") and stored.latency_ms > 0  # file version + hash
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


def _plan(personalizer, **inputs):
    return personalizer._plan("vip", None, None, "email", {"goal": "hi", **inputs}, None, [])


def _reply(text, finish="stop"):
    return GenerationResult(text, 10, 20, finish, None, 0.1)


def test_personal_data_in_the_output_becomes_placeholders(world):
    personalizer, _ = world
    personalizer.scrub_pii = True
    text = personalizer._guard(
        _plan(personalizer), _reply("Write to jane.doe@example.com or call 555-123-4567.")
    )
    assert "jane.doe@example.com" not in text and "<EMAIL_ADDRESS>" in text


def test_the_requests_name_and_brand_fill_the_models_placeholders(world):
    personalizer, _ = world
    personalizer.scrub_pii = True
    plan = _plan(personalizer, first_name="Ann", brand="Cinema Club")
    text = personalizer._guard(
        plan, _reply("Dear [Customer Name],\nNew films at [Company Name].\nBest,\n[Your Name]")
    )
    # Ann came with the request: the scrub (of names the model made up) runs before the fill.
    assert text == "Dear Ann,\nNew films at Cinema Club.\nBest,\nThe Cinema Club team"


def test_a_reply_the_token_limit_cut_ends_at_its_last_whole_sentence(world):
    personalizer, _ = world
    plan = _plan(personalizer)
    cut = _reply("New films are in. Come and see them this week. We also", "length")
    assert personalizer._guard(plan, cut) == "New films are in. Come and see them this week."
    whole = _reply("New films are in. Come and see them this week. We also", "stop")
    assert personalizer._guard(plan, whole).endswith("We also")


def test_content_loses_the_header_lines_the_model_copies_but_a_chat_reply_keeps_them(world):
    personalizer, _ = world
    personalizer.scrub_pii = False
    made = "Subject: New films!\nDate: Friday\nNew films are in.\nBest regards,\n🎬🍿"
    email = _plan(personalizer, brand="Cinema Club")
    assert personalizer._guard(email, _reply(made)) == (
        "New films are in.\nBest regards,\nThe Cinema Club team"
    )
    pieces = iter(["Subject: New films!\nNew", " films are in."])
    assert "".join(personalizer._guard_stream(email, pieces)) == "New films are in."
    chat = dataclasses.replace(email, task=personalizer.CHAT_TASK)  # /v1/chat/completions
    assert personalizer._guard(chat, _reply(made)) == made


def test_streamed_output_is_scrubbed_sentence_by_sentence(world):
    personalizer, _ = world
    personalizer.scrub_pii = True
    pieces = iter(["Hello! Mail jane.", "doe@exam", "ple.com today. ", "Call 555-123-", "4567."])
    out = list(personalizer._guard_stream(_plan(personalizer), pieces))
    assert not any("jane.doe" in piece or "example.com" in piece for piece in out)
    joined = "".join(out)
    assert joined.startswith("Hello!") and "<EMAIL_ADDRESS>" in joined and "4567" not in joined


def test_two_projects_versions_of_one_name_never_share_an_adapter(tmp_path, artifacts):
    """One back end serves every project of a server: project b's `global@1` must not be
    served with project a's `global@1` adapter because a asked first."""
    store = Store(f"sqlite:///{tmp_path / 'two.db'}")
    backend = LocalBackend(str(artifacts["base"]))
    made = {}
    try:
        for project, method in (("a", "lora"), ("b", "dora")):
            create_key(store, project, "secret")
            registry = Registry(store, home=tmp_path / project, project=project)
            version = _register(registry, "global", artifacts, scope="global", method=method)
            registry.promote(version.ref)
            personalizer = Personalizer(
                store=store, backend=backend, project=project, max_new_tokens=6, scrub_pii=False
            )
            made[project] = personalizer.generate("someone", "email", {"goal": "hello"})
        assert made["a"].adapter == made["b"].adapter == "global@1"  # the records keep the ref
        assert sorted(backend.adapters) == ["a/global@1", "b/global@1"]
        for project in ("a", "b"):
            alone = backend.generate_one(
                GenerationRequest(
                    messages=made[project].prompt,
                    adapter=f"{project}/global@1",
                    max_new_tokens=6,
                    **CONTENT_DECODING,
                )
            )
            assert made[project].output == trim_unfinished(alone.text.strip()) or (
                made[project].output == alone.text.strip()
            )
        # And the two adapters differ, so sharing one would have shown.
        assert backend._adapters["a/global@1"].path != backend._adapters["b/global@1"].path
    finally:
        backend.close()
        store.close()


def test_a_version_trained_with_retrieval_reads_the_users_own_examples_on_any_rung(
    tmp_path, artifacts
):
    """A global version trained on retrieval-augmented prompts is served the way it was
    trained: with the user's retrieved examples before the request, even for a user with
    fewer than the few-shot threshold; a user with none gets none."""
    store = Store(f"sqlite:///{tmp_path / 'rag.db'}")
    create_key(store, "shop", "secret")
    registry = Registry(store, home=tmp_path, project="shop")
    registry.promote(_register(registry, "global", artifacts, config={"retrieval_k": 2}).ref)
    history = [
        Example(
            id=f"q{i}",
            user_id="quiet",
            conversation_id=f"c{i}",
            messages=[Message("user", f"Describe boot {i}"), Message("assistant", f"Boot {i}.")],
            source="test",
        )
        for i in range(2)  # under the few-shot threshold of 3 set below
    ]
    backend = LocalBackend(str(artifacts["base"]))
    personalizer = Personalizer(
        store=store,
        backend=backend,
        project="shop",
        registry=registry,
        retriever=BM25Retriever().fit(history),
        few_shot=3,
        max_new_tokens=4,
        scrub_pii=False,
    )
    try:
        quiet = personalizer.generate("quiet", "product_description", {"product": "boots"})
        newcomer = personalizer.generate("newcomer", "product_description", {"product": "boots"})
    finally:
        backend.close()
        store.close()
    assert quiet.rung == "zero_shot" and newcomer.rung == "zero_shot"
    shown = [m["content"] for m in quiet.prompt if m["role"] == "assistant"]
    assert sorted(shown) == ["Boot 0.", "Boot 1."]
    assert all(m["role"] != "assistant" for m in newcomer.prompt)
