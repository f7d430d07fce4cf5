"""The chatbot simulation on the real system: the shipped model answers support questions, poor
replies escalate with the agent's answer as a correction, the retrain flow learns from them and
the candidate it puts in an experiment escalates less."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tailorai.errors import ConfigError
from tailorai.retrain import RetrainFlow
from tailorai.retrain.chatbot import agent_answer, questions, simulate_chatbot
from tailorai.rollout.experiments import Experiments
from tailorai.store import Store
from tailorai.store.tables import FeedbackRow, GenerationRewardRow
from tailorai.training.registry import Registry

# A week of 64 customers: about 60 corrections in the first, enough for a LoRA retrain (under 50
# the trainer warns that few-shot prompting would do as well), and 32 customers an arm.
CUSTOMERS = 64


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'chatbot.db'}")
    yield store
    store.close()


def test_an_agent_answer_ends_at_a_sentence_end():
    reply = (
        "I'm here to help you cancel your order. Sign in first. " + "Then follow the steps. " * 20
    )
    answer = agent_answer(reply, limit=60)
    assert answer == "I'm here to help you cancel your order. Sign in first."
    assert agent_answer("Short and sweet.", limit=60) == "Short and sweet."
    assert agent_answer("word " * 30, limit=24) == "word word word word"


def test_questions_are_the_samples_of_the_intents_shuffled_by_seed():
    found = questions(["track_order", "cancel_order"], seed=1)
    assert {q.intent for q in found} == {"track_order", "cancel_order"}
    assert len(found) == 181 + 139
    assert [q.text for q in found] == [
        q.text for q in questions(["track_order", "cancel_order"], seed=1)
    ]
    assert [q.text for q in found] != [
        q.text for q in questions(["track_order", "cancel_order"], seed=2)
    ]
    with pytest.raises(ConfigError, match=r"Unknown intent.*order_pizza"):
        questions(["order_pizza"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"cycles": 0}, r"The 'cycles' parameter of simulate_chatbot must be an int in \[1, 20\]"),
        ({"threshold": 1.5}, r"'threshold' parameter .* a number in \[0, 1\]\. Got 1\.5"),
        ({"cycles": 6, "customers": 120}, "need 720 questions; the sample has 666"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(store, tmp_path, arguments, message):
    with pytest.raises(ConfigError, match=message):
        simulate_chatbot(store, tmp_path, **arguments)


# The second retrain has only the second week's escalations (about 30) to learn from.
@pytest.mark.filterwarnings("ignore::tailorai.training.finetune.FewExamplesWarning")
def test_escalations_fall_as_candidates_learn_from_corrections(store, tmp_path):
    result = simulate_chatbot(store, tmp_path, cycles=3, customers=CUSTOMERS, project="support")
    first, second, last = result.rows

    # Week 1: the plain base answers everyone with a story, and nearly everyone escalates.
    assert first["production"] == "base" and first["experiment"] == ""
    assert first["escalation_rate"] >= 0.9
    # Week 2: the retrain's experiment splits the customers; the candidate's half escalates far
    # less, and the experiment promotes it on reward.
    arms = second["arms"]
    assert arms["control"]["version"] == "base" and arms["candidate"]["version"] == "global@1"
    assert arms["control"]["customers"] + arms["candidate"]["customers"] == CUSTOMERS
    assert arms["candidate"]["rate"] < arms["control"]["rate"]
    assert second["decision"] == "promoted"
    # Week 3: the promoted version serves; the next candidate was trained from it.
    assert last["production"] == "global@1"
    assert last["arms"]["candidate"]["version"] == "global@2"
    assert last["escalation_rate"] < second["escalation_rate"] < first["escalation_rate"]
    assert last["rouge_l"] > first["rouge_l"] and last["mean_reward"] > first["mean_reward"]

    # Every conversation was rated through the feedback log; escalations carry a correction.
    with store.session() as s:
        feedback = s.execute(
            select(FeedbackRow.rating, FeedbackRow.correction).where(
                FeedbackRow.project_id == "support"
            )
        ).all()
        rewards = s.scalars(
            select(GenerationRewardRow.reward).where(GenerationRewardRow.project_id == "support")
        ).all()
    assert len(feedback) == len(rewards) == 3 * CUSTOMERS
    escalated = sum(row["escalated"] for row in result.rows)
    assert sum(1 for rating, correction in feedback if rating == 1 and correction) == escalated
    assert {rating for rating, _ in feedback} == {1, 5}
    assert sorted(set(rewards)) == [-1.5, 1.0]  # 1 star and corrected; 5 stars

    # Each retrain learnt from the week before's corrections: a registered candidate, better
    # on them than the production it started from.
    registry = Registry(store, home=tmp_path, project="support")
    runs = RetrainFlow(store, project="support", home=tmp_path, registry=registry).runs()
    assert [r.status for r in runs] == ["done", "done"]
    for run, week in zip(reversed(runs), (first, second), strict=True):
        assert run.output("gather")["corrections"] == week["escalated"]
        assert run.output("finetune")["production"] == (None, "global@1")[week is second]
        scores = run.output("evaluate")
        assert scores["candidate"]["corrections_loss"] < scores["production"]["corrections_loss"]
    assert sorted(v.ref for v in registry.list()) == ["global@1", "global@2"]
    assert registry.production("global").ref == "global@1"
    # Both experiments were decided at the end of their week.
    experiments = Experiments(store, registry, project="support")
    for week in (second, last):
        assert experiments.get(week["experiment"]).status == week["decision"] != "running"

    table = result.table().splitlines()
    assert len(table) == 5 and table[3].startswith(f"| 2 | {CUSTOMERS} | base | retrain-")
    png = result.plot(tmp_path / "plots" / "escalations.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with pytest.raises(ConfigError, match="already has 2 model versions"):
        simulate_chatbot(store, tmp_path, cycles=1, customers=8, project="support")
