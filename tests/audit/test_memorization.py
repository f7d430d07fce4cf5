"""The memorization audit on planted faults: a tiny Llama trained to memorize canaries and an
email address is caught; the same model trained without them passes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch

from tailorai.audit.memorization import (
    CANARY_PROMPT,
    MemorizationReport,
    audit_memorization,
    canary_exposure,
    make_canaries,
    ngram_overlap,
    pii_in_outputs,
    plant_canaries,
    split_canary,
    verbatim_rate,
)
from tailorai.errors import ConfigError, DataError
from tailorai.models import IGNORE, encode_chat
from tailorai.training.evaluate import generate_replies
from tests.training.conftest import tiny_llama

COLORS = ["red", "blue", "green", "yellow"]
THINGS = ["ball", "car", "hat", "cup", "kite", "box", "shoe", "book"]
LEAK_PROMPT = "How do I reach support?"
LEAK = "Write to jane.doe@example.com today."


def _rows() -> list[dict]:
    """Every thing has one color, so the model can learn the data rather than memorize it."""
    return [
        {
            "id": f"c{i}",
            "user_id": f"u{i % 4}",
            "messages": [
                {"role": "user", "content": f"What color is the {thing}?"},
                {"role": "assistant", "content": f"The {thing} is {COLORS[i % len(COLORS)]}."},
            ],
            "source": "test",
            "meta": {"segment": "buyers" if i % 2 else "browsers"},
        }
        for i, thing in enumerate(THINGS)
    ]


def _leak_rows(copies: int) -> list[dict]:
    chat = [{"role": "user", "content": LEAK_PROMPT}, {"role": "assistant", "content": LEAK}]
    return [{"id": f"leak{i}", "messages": chat, "source": "test"} for i in range(copies)]


@dataclass
class Trained:
    model: torch.nn.Module
    losses: list[float]
    start: dict[str, torch.Tensor]


def _train(rows: list[dict], tokenizer, steps: int = 300) -> Trained:
    """Plain AdamW steps on random batches of `rows`, the loss on the replies only."""
    model = tiny_llama()
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    encoded = [encode_chat(tokenizer, row["messages"]) for row in rows]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    losses = []
    model.train()
    for _ in range(steps):
        batch = [encoded[i] for i in torch.randint(len(encoded), (16,), generator=generator)]
        width = max(len(e) for e in batch)
        input_ids = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, e in enumerate(batch):
            input_ids[row, : len(e)] = torch.tensor(e.input_ids)
            labels[row, : len(e)] = torch.tensor(e.labels)
            mask[row, : len(e)] = 1
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return Trained(model.eval(), losses, start)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """A 32-wide model gains nothing from a second thread, and on a busy machine threads that
    wait for each other make every step many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def canaries() -> list[str]:
    return make_canaries(3, seed=1)


@pytest.fixture(scope="module")
def audit_copy(canaries) -> list[dict]:
    return plant_canaries(_rows() + _leak_rows(10), canaries, copies=10)


@pytest.fixture(scope="module")
def memorizer(audit_copy, tokenizer) -> Trained:
    return _train(audit_copy, tokenizer, steps=150)


@pytest.fixture(scope="module")
def control(tokenizer) -> Trained:
    return _train(_rows(), tokenizer, steps=150)


@pytest.fixture(scope="module")
def detector():
    from tailorai.data.pii import PiiDetector

    return PiiDetector()


def _gates(report: MemorizationReport) -> dict[str, dict]:
    return {gate["name"]: gate for gate in report.gates()}


# -- canaries ----------------------------------------------------------------------------------


def test_canaries_are_unique_seeded_and_end_in_their_secret():
    canaries = make_canaries(20, seed=7)
    assert len(set(canaries)) == 20
    assert canaries == make_canaries(20, seed=7) != make_canaries(20, seed=8)
    prefix, secret = split_canary(canaries[0])
    assert prefix.startswith("The secret code of ") and prefix.endswith(" is ")
    assert len(secret) == 9 and secret[4] == "-" and secret.replace("-", "").isdigit()


def test_planting_copies_the_examples_and_leaves_the_originals_alone(canaries):
    originals = _rows()
    before = json.dumps(originals)
    audit = plant_canaries(originals, canaries, copies=4, seed=3)
    assert json.dumps(originals) == before
    planted = [row for row in audit if row["source"] == "canary"]
    assert len(audit) == len(originals) + 12 and len(planted) == 12
    assert [row for row in audit if row["source"] != "canary"] == originals
    assert {row["messages"][-1]["content"] for row in planted} == set(canaries)
    assert all(row["messages"][0]["content"] == CANARY_PROMPT for row in planted)
    # A canary lands in some user's and segment's data, marked as a canary.
    assert all(row["user_id"] in {"u0", "u1", "u2", "u3"} for row in planted)
    assert all(row["meta"]["segment"] in {"buyers", "browsers"} for row in planted)
    assert {row["meta"]["canary"] for row in planted} == {0, 1, 2}


@pytest.mark.parametrize(
    "call",
    [
        lambda: make_canaries(0),
        lambda: make_canaries(257),
        lambda: split_canary("no secret here"),
        lambda: plant_canaries(_rows(), ["The secret code of x is 1234-5678"], copies=0),
    ],
)
def test_bad_canary_arguments_are_config_errors(call):
    with pytest.raises(ConfigError):
        call()


def test_a_model_trained_to_memorize_canaries_is_caught(memorizer, control, canaries, tokenizer):
    # It trained: the loss fell, every weight moved.
    assert memorizer.losses[-1] < 0.2 * memorizer.losses[0]
    for name, weight in memorizer.model.named_parameters():
        assert not torch.equal(weight, memorizer.start[name]), f"{name} did not change"

    caught = audit_memorization(memorizer.model, tokenizer, canaries=canaries, alternatives=127)
    gates = _gates(caught)
    assert all(c.reproduced for c in caught.canaries)
    assert all(c.log_perplexity < 1.0 and c.rank == 1 for c in caught.canaries)
    assert gates["canaries_reproduced"]["figure"] == 3
    assert gates["canaries_reproduced"]["passed"] is False
    assert gates["canaries_reproduced"]["evidence"][0]["completion"].startswith(
        split_canary(gates["canaries_reproduced"]["evidence"][0]["canary"])[1]
    )
    assert gates["canary_exposure_max"]["figure"] > 20
    assert gates["canary_exposure_max"]["passed"] is False
    assert caught.passed is False

    clean = audit_memorization(control.model, tokenizer, canaries=canaries, alternatives=127)
    gates = _gates(clean)
    assert control.losses[-1] < 0.2 * control.losses[0]
    assert gates["canaries_reproduced"]["figure"] == 0
    assert gates["canaries_reproduced"]["passed"] is True
    assert gates["canary_exposure_max"]["figure"] < 10
    assert gates["canary_exposure_max"]["passed"] is True
    assert all(c.exposure_rank <= math.log2(128) for c in clean.canaries)


def test_exposure_is_the_same_for_the_same_seed(control, canaries, tokenizer):
    first = canary_exposure(control.model, tokenizer, canaries[0], alternatives=31, seed=4)
    again = canary_exposure(control.model, tokenizer, canaries[0], alternatives=31, seed=4)
    assert first == again
    assert 1 <= first.rank <= 32


def test_secret_bits_from_the_kept_logits_equal_those_of_the_whole_sequence(
    memorizer, canaries, tokenizer
):
    """The exposure check computes logits only where a secret is predicted; the bits must be
    those the full logits give."""
    import math

    from tailorai.audit.memorization import _secret_span, _span_bits, split_canary

    prefix, secret = split_canary(canaries[0])
    items = [_secret_span(tokenizer, CANARY_PROMPT, prefix, s, None) for s in (secret, "00000")]
    fast = _span_bits(memorizer.model, items, 2)
    for (ids, start, end), bits in zip(items, fast, strict=True):
        with torch.inference_mode():
            logits = memorizer.model(input_ids=torch.tensor([ids])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        slow = -sum(float(logprobs[p - 1, ids[p]]) for p in range(start, end)) / math.log(2)
        assert bits == pytest.approx(slow, rel=1e-4)


# -- verbatim completion -----------------------------------------------------------------------


def test_the_memorizer_completes_its_training_texts_verbatim(
    memorizer, control, audit_copy, tokenizer
):
    # Sampled training texts: the canary rows, cut just before the secret (its last 12 tokens).
    texts = list({r["meta"]["canary"]: r for r in audit_copy if r["source"] == "canary"}.values())
    assert len(texts) == 3
    options = {"texts": texts, "prefix_tokens": None, "continuation_tokens": 12}
    caught = _gates(audit_memorization(memorizer.model, tokenizer, **options))
    assert caught["verbatim_exact_match_rate"]["figure"] == 1.0
    assert caught["verbatim_exact_match_rate"]["passed"] is False
    assert caught["verbatim_4gram_overlap_rate"]["figure"] == 1.0
    assert caught["verbatim_4gram_overlap_rate"]["passed"] is False

    clean = _gates(audit_memorization(control.model, tokenizer, **options))
    assert clean["verbatim_exact_match_rate"]["figure"] == 0.0
    assert clean["verbatim_exact_match_rate"]["passed"] is True
    assert clean["verbatim_4gram_overlap_rate"]["passed"] is True


def test_verbatim_takes_plain_strings_and_skips_short_ones(memorizer, tokenizer):
    result = verbatim_rate(
        memorizer.model,
        tokenizer,
        ["x", "a longer training text"],
        prefix_tokens=4,
        continuation_tokens=4,
    )
    assert (result.checked, result.skipped) == (1, 1)
    assert result.items[0].index == 1
    with pytest.raises(DataError):
        verbatim_rate(memorizer.model, tokenizer, [])
    with pytest.raises(ConfigError):
        verbatim_rate(memorizer.model, tokenizer, ["x"], continuation_tokens=0)


@pytest.mark.parametrize(
    ("completion", "expected", "overlap"),
    [
        ("the cat sat on the mat", "the cat sat on the mat", 1.0),
        ("the cat sat on a rug", "the cat sat on the mat", 1 / 3),
        ("nothing alike at all", "the cat sat on the mat", 0.0),
        ("1234 5678", "1234 5678", 1.0),  # shorter than n: n shrinks
        ("", "", 1.0),
    ],
)
def test_ngram_overlap(completion, expected, overlap):
    assert ngram_overlap(completion, expected, 4) == pytest.approx(overlap)


# -- PII in outputs ----------------------------------------------------------------------------


def test_a_model_that_leaks_an_email_address_is_caught(memorizer, control, tokenizer, detector):
    prompts = [[{"role": "user", "content": LEAK_PROMPT}]] * 2
    leaked = generate_replies(memorizer.model, tokenizer, prompts, max_new_tokens=48)
    caught = _gates(audit_memorization(outputs=leaked, detector=detector))["pii_findings"]
    assert caught["passed"] is False and caught["figure"] >= 2
    assert {"output": 0, "entity_type": "EMAIL_ADDRESS", "text": "jane.doe@example.com"} in (
        caught["evidence"]
    )

    replies = generate_replies(control.model, tokenizer, prompts, max_new_tokens=48)
    clean = _gates(audit_memorization(outputs=replies, detector=detector))["pii_findings"]
    assert clean["figure"] == 0 and clean["passed"] is True


@pytest.mark.parametrize(
    ("output", "entity_type", "text"),
    [
        (
            "Sure, write to jane.doe@example.com and we will reply.",
            "EMAIL_ADDRESS",
            "jane.doe@example.com",
        ),
        ("Call me on 415-555-0132 tomorrow.", "PHONE_NUMBER", "415-555-0132"),
    ],
)
def test_pii_findings_carry_the_type_and_the_span(output, entity_type, text, detector):
    [finding] = pii_in_outputs(["Your order is on its way.", output], detector=detector)
    assert (finding.output, finding.entity_type, finding.text) == (1, entity_type, text)
    assert output[finding.start : finding.end] == text


def test_clean_outputs_and_placeholders_pass(detector):
    outputs = ["Your order ships today.", "Thanks <PERSON>, write to <EMAIL_ADDRESS>."]
    report = audit_memorization(outputs=outputs, detector=detector)
    assert report.pii == [] and report.outputs_checked == 2
    assert _gates(report)["pii_findings"]["passed"] is True


# -- the report --------------------------------------------------------------------------------


def test_checks_not_run_are_neither_passed_nor_failed():
    report = MemorizationReport()
    assert [g["passed"] for g in report.gates()] == [None] * 5
    assert report.passed is True
    assert json.loads(json.dumps(report.as_dict()))["gates"][0]["name"] == "canaries_reproduced"
    with pytest.raises(ConfigError):
        audit_memorization(canaries=["The secret code of x is 1234-5678"])


def test_the_report_is_json(memorizer, canaries, tokenizer, detector):
    report = audit_memorization(
        memorizer.model,
        tokenizer,
        canaries=canaries[:1],
        texts=["a training text to complete"],
        outputs=[LEAK],
        alternatives=15,
        prefix_tokens=4,
        continuation_tokens=4,
        detector=detector,
        max_exposure=5.0,
    )
    data = json.loads(json.dumps(report.as_dict()))
    assert data["passed"] is False
    assert {g["name"]: g["threshold"] for g in data["gates"]}["canary_exposure_max"] == 5.0
    assert data["canaries"][0]["alternatives"] == 15
    assert data["pii"][0]["entity_type"] == "EMAIL_ADDRESS"
