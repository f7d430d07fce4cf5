"""Held-out evaluation for real: the shipped model, tiny adapters trained on a tiny dataset."""

from __future__ import annotations

import atexit
import functools
import json
import math
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
import torch

from tailorai.errors import ConfigError, DataError, RegistryError
from tailorai.models import IGNORE, encode_chat, load_version
from tailorai.store import Store
from tailorai.training import Registry, TrainConfig, load_base_model, train
from tailorai.training.evaluate import (
    RUNGS,
    ItemScore,
    RungScore,
    evaluate,
    evaluate_dataset,
    generate_replies,
    reply_nll,
    rouge,
)
from tests.training.conftest import write_dataset


def _chat(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The shipped model is 64 wide: a second thread buys nothing, and on a busy machine
    threads that spin waiting for each other made every step ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.cache
def trained_home() -> Path:
    """A registry with production global, segment:buyers and user:u1 adapters, trained once.

    The segment and user adapters start from the global one, as `tailor train` does.
    """
    home = Path(tempfile.mkdtemp(prefix="tailor-eval-home-"))
    atexit.register(shutil.rmtree, home, True)
    data = write_dataset(home / "dataset")
    store = Store(f"sqlite:///{home / 'tailor.db'}")
    registry = Registry(store, home=home)
    options = {"data": str(data), "batch_size": 4, "logging_steps": 5, "report_to": ["none"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Personal adapters start from the global one at a gentler rate, as fine-tuning on
        # top of a fine-tune should (a run no better than its start is not registered).
        for scope, epochs, learning_rate in (
            ("global", 2, 3e-3),
            ("segment:buyers", 1, 5e-4),
            ("user:u1", 1, 5e-4),
        ):
            [version] = train(
                TrainConfig(**options, scope=scope, epochs=epochs, learning_rate=learning_rate),
                registry=registry,
                progress=False,
            )
            registry.promote(version.ref)
    store.close()
    return home


@pytest.fixture
def registry():
    home = trained_home()
    store = Store(f"sqlite:///{home / 'tailor.db'}")
    yield Registry(store, home=home)
    store.close()


@pytest.fixture(scope="module")
def base():
    return load_base_model()


def test_reply_nll_is_the_cross_entropy_of_the_final_reply_only(base):
    model, tokenizer = base
    messages = [
        {"role": "system", "content": "Answer briefly."},
        *_chat("What color is the ball?", "The ball is red."),  # a shot: context only
        *_chat("What color is the car?", "The car is blue."),
    ]
    [(nll, tokens)] = reply_nll(model, tokenizer, [messages])

    encoded = encode_chat(tokenizer, messages)
    reply_only = encode_chat(tokenizer, _chat("x", "The car is blue.")).learned
    assert tokens == reply_only < encoded.learned
    # By hand: the last `tokens` learned labels, predicted from the position before each.
    positions = [i for i, label in enumerate(encoded.labels) if label != IGNORE][-tokens:]
    with torch.no_grad():
        logits = model(torch.tensor([encoded.input_ids])).logits[0]
    manual = sum(
        -torch.log_softmax(logits[i - 1], dim=-1)[encoded.input_ids[i]].item() for i in positions
    )
    assert nll == pytest.approx(manual, rel=1e-4)


def test_batches_with_padding_score_like_one_at_a_time(base):
    model, tokenizer = base
    conversations = [
        _chat("Hi?", "Hello."),
        _chat("What color is the kite in the tall green tree?", "The kite is yellow, I think."),
        _chat("And the box?", "Brown."),
    ]
    batched = reply_nll(model, tokenizer, conversations, batch_size=3)
    single = [reply_nll(model, tokenizer, [c], batch_size=1)[0] for c in conversations]
    for (a, n), (b, m) in zip(batched, single, strict=True):
        assert n == m and a == pytest.approx(b, rel=1e-4)
    assert not model.training


def test_generation_is_greedy_and_batched_like_single(base):
    model, tokenizer = base
    prompts = [_chat("Once upon a time", "")[:1], _chat("The dog ran to the park and", "")[:1]]
    batched = generate_replies(model, tokenizer, prompts, max_new_tokens=12, batch_size=2)
    single = [generate_replies(model, tokenizer, [p], max_new_tokens=12)[0] for p in prompts]
    assert batched == single and all(isinstance(r, str) for r in batched)


@pytest.mark.parametrize(
    ("candidate", "reference", "rouge1", "rouge_l"),
    [
        ("the cat sat", "the cat sat down", 6 / 7, 6 / 7),
        ("sat the cat", "the cat sat", 1.0, 2 / 3),
        ("The Cat, the cat!", "the cat", 2 / 3, 2 / 3),  # clipped counts, case and punctuation
        ("", "the cat", 0.0, 0.0),
        ("dogs", "the cat", 0.0, 0.0),
    ],
)
def test_rouge_f1_on_known_cases(candidate, reference, rouge1, rouge_l):
    scores = rouge(candidate, reference)
    assert scores["rouge1"] == pytest.approx(rouge1)
    assert scores["rougeL"] == pytest.approx(rouge_l)


def test_rung_figures_are_means_over_users():
    score = RungScore(
        "global_adapter",
        [
            ItemScore("a", "u1", "s", nll=2.0, tokens=2, rouge1=0.5, rougeL=0.5),
            ItemScore("b", "u1", "s", nll=4.0, tokens=2, rouge1=0.1, rougeL=0.1),
            ItemScore("c", "u2", "t", nll=3.0, tokens=1, rouge1=1.0, rougeL=0.0),
        ],
    )
    assert score.loss_by("user") == {"u1": 1.5, "u2": 3.0}
    assert score.perplexity == pytest.approx((math.exp(1.5) + math.exp(3.0)) / 2)
    assert score.pooled_perplexity == pytest.approx(math.exp(9.0 / 5))
    assert score.perplexity_by("segment") == pytest.approx({"s": math.exp(1.5), "t": math.e**3})
    assert score.rouge1 == pytest.approx((0.3 + 1.0) / 2) and score.users == 2


def test_every_rung_side_by_side_per_user(registry):
    data = trained_home() / "dataset"
    result = evaluate_dataset(data, registry=registry, max_new_tokens=8)
    assert list(result.scores) == list(RUNGS) and not result.skipped
    held_out = [json.loads(line) for line in (data / "validation.jsonl").open()]
    users = {row["user_id"] for row in held_out}
    zero, glob = result.scores["zero_shot"], result.scores["global_adapter"]
    assert zero.examples == glob.examples == len(held_out) and zero.users == len(users)
    assert zero.tokens == glob.tokens == result.scores["few_shot"].tokens  # same reply tokens
    assert glob.perplexity < zero.perplexity  # trained on exactly this kind of reply
    assert result.scores["few_shot"].shots > 0
    assert glob.versions == ["global@1"] and glob.shots == 0
    # The same global adapter with the user's own examples before the request.
    retrieval = result.scores["global_retrieval"]
    assert retrieval.versions == ["global@1"] and retrieval.shots > 0
    assert retrieval.tokens == glob.tokens and retrieval.perplexity != glob.perplexity
    # The adapter rungs cover only the examples of the scope they were trained for.
    user = result.scores["user_adapter"]
    assert {i.user_id for i in user.items} == {"u1"} and user.versions == ["user-u1@1"]
    assert user.perplexity != pytest.approx(glob.perplexity_by("user")["u1"])  # it trained
    segment = result.scores["segment_adapter"]
    assert {i.segment for i in segment.items} == {"buyers"}
    assert segment.examples == sum(r["meta"]["segment"] == "buyers" for r in held_out)
    for name in ("zero_shot", "global_adapter"):
        assert 0 <= result.scores[name].rouge1 <= 1
    # A user's perplexity is exp of their mean reply-token NLL, by hand.
    u1 = [r["messages"] for r in held_out if r["user_id"] == "u1"]
    model, tokenizer = load_version(registry.get("global@1"))
    scored = reply_nll(model, tokenizer, u1)
    by_hand = math.exp(sum(n for n, _ in scored) / sum(t for _, t in scored))
    assert glob.perplexity_by("user")["u1"] == pytest.approx(by_hand, rel=1e-4)


def test_extra_versions_and_missing_rungs(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=8, n_validation=4)
    held_out = [json.loads(line) for line in (data / "validation.jsonl").open()]
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    empty = Registry(store, home=tmp_path)
    try:
        result = evaluate(held_out, rungs=["zero_shot", "user_adapter"], registry=empty)
        assert list(result.scores) == ["zero_shot"]
        assert "tailor train --scope user:ID" in result.skipped["user_adapter"]
        with pytest.raises(RegistryError, match="Cannot evaluate global_adapter"):
            evaluate(
                held_out, rungs=["global_adapter"], required=["global_adapter"], registry=empty
            )
    finally:
        store.close()
    with pytest.raises(ConfigError, match="Unknown rung"):
        evaluate(held_out, rungs=["one_shot"])
    with pytest.raises(DataError, match="no validation examples"):
        (data / "validation.jsonl").write_text("")
        evaluate_dataset(data)


def test_an_extra_version_row_matches_its_rung(registry):
    data = trained_home() / "dataset"
    held_out = [json.loads(line) for line in (data / "validation.jsonl").open()]
    result = evaluate(
        held_out,
        rungs=["global_adapter"],
        versions=["global@1"],
        registry=registry,
        with_rouge=False,
    )
    assert result.scores["global@1"].perplexity == pytest.approx(
        result.scores["global_adapter"].perplexity
    )
    assert result.scores["global@1"].rouge1 is None


def test_a_version_trained_with_retrieval_is_scored_with_it(tmp_path):
    """A global version trained with `retrieval_k` reads the user's own examples on the
    global_adapter rung as well (as it is served), so both global rungs score alike."""
    data = write_dataset(tmp_path / "dataset", n_train=24, n_validation=8)
    store = Store(f"sqlite:///{tmp_path / 'rag.db'}")
    registry = Registry(store, home=tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            [version] = train(
                TrainConfig(
                    data=str(data),
                    epochs=1,
                    batch_size=4,
                    learning_rate=3e-3,
                    report_to=["none"],
                    retrieval_k=2,
                ),
                registry=registry,
                progress=False,
            )
        registry.promote(version.ref)
        held_out = [json.loads(line) for line in (data / "validation.jsonl").open()]
        train_rows = [json.loads(line) for line in (data / "train.jsonl").open()]
        result = evaluate(
            held_out,
            train=train_rows,
            rungs=["global_adapter", "global_retrieval"],
            registry=registry,
            with_rouge=False,
        )
    finally:
        store.close()
    assert registry is not None and version.config["retrieval_k"] == 2
    glob, retrieval = result.scores["global_adapter"], result.scores["global_retrieval"]
    assert glob.shots == retrieval.shots == 2
    assert glob.perplexity == pytest.approx(retrieval.perplexity)


def test_an_adapter_comes_off_the_base_model_again(registry):
    held_out = [json.loads(line) for line in (trained_home() / "dataset/validation.jsonl").open()]
    options = {"registry": registry, "with_rouge": False}
    alone = evaluate(held_out, rungs=["zero_shot"], **options)
    after = evaluate(held_out, rungs=["user_adapter", "global_adapter", "zero_shot"], **options)
    assert after.scores["zero_shot"].perplexity == pytest.approx(
        alone.scores["zero_shot"].perplexity, rel=1e-6
    )
