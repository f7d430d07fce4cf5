"""DPO for real on a tiny Llama: preferred replies start with "Yes", the others with "No". The DPO
loss must go down, only the adapter may change, and the reference must be the starting point."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from tailorai.errors import ConfigError, DataError, NotImprovedError
from tailorai.models import encode_pair
from tailorai.store import Store
from tailorai.training.config import TrainConfig
from tailorai.training.dpo import dpo
from tailorai.training.job import train
from tailorai.training.preferences import SkippedPairsWarning, hold_out, load_preferences
from tailorai.training.registry import Registry
from tests.training.conftest import COLORS, THINGS, tiny_llama

LN2 = math.log(2)
# Raised by PEFT when loading adapters under transformers 5; not ours to change.
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


def _pair(i: int, *, prefer_yes: bool = True) -> dict[str, Any]:
    color, thing = COLORS[i % len(COLORS)], THINGS[(i // len(COLORS)) % len(THINGS)]
    yes, no = f"Yes, the {thing} is {color}.", f"No, the {thing} is not {color}."
    return {
        "prompt": [{"role": "user", "content": f"Is the {thing} {color}?"}],
        "chosen": yes if prefer_yes else no,
        "rejected": no if prefer_yes else yes,
        "user_id": f"u{i % 4}",
        "segment": "buyers" if i % 2 else "browsers",
        "source": "thumbs" if i % 3 else "correction",
    }


def write_preferences(
    folder: Path, n: int = 40, *, extra_lines: Sequence[str] = (), flip: Collection[int] = ()
) -> Path:
    """`n` pairs preferring "Yes ..." (pairs in `flip` prefer "No ..."), then `extra_lines`."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(_pair(i, prefer_yes=i not in flip)) for i in range(n)]
    (folder / "preferences.jsonl").write_text("\n".join([*lines, *extra_lines]) + "\n")
    return folder


def _config(data: Path, base: Path, **overrides: Any) -> TrainConfig:
    options = {
        "data": str(data),
        "method": "dpo",
        "base_model": str(base),
        "epochs": 3,
        "learning_rate": 5e-3,
        "logging_steps": 2,
        "report_to": ["none"],
    }
    options.update(overrides)
    return TrainConfig(**options)


@pytest.fixture(scope="module")
def base(tmp_path_factory, tokenizer) -> Path:
    folder = tmp_path_factory.mktemp("dpo-base") / "base"
    tiny_llama().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpo-registry")
    store = Store(f"sqlite:///{root / 'tailor.db'}")
    yield Registry(store, home=root / "home")
    store.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_preferences(tmp_path_factory.mktemp("dpo-data") / "prefs")


@pytest.fixture(scope="module")
def trained(base, data, registry):
    """One DPO run from the base model, registered."""
    [version] = train(_config(data, base), registry=registry, progress=False)
    return version


def _sequence_logps(model: Any, prompt: list[int], reply: list[int]) -> float:
    ids = torch.tensor([prompt + reply])
    logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1]
    return float(logits.log_softmax(-1).gather(1, torch.tensor(reply)[:, None]).sum())


def _margin(
    base: Path, policy: Path, reference: Path | None, data: Path, beta: float, seed: int = 0
) -> float:
    """The mean reward margin on the held-out pairs, computed here with plain forward passes:
    `policy` is an adapter folder, `reference` another one or None for the base model."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    pairs = load_preferences(data).pairs
    _, validation = hold_out(len(pairs), 0.2, seed)

    def load(adapter: Path | None) -> Any:
        model = AutoModelForCausalLM.from_pretrained(base)
        return (PeftModel.from_pretrained(model, adapter) if adapter else model).eval()

    models = {"policy": load(policy), "reference": load(reference)}
    margins = []
    with torch.no_grad():
        for i in validation:
            pair = encode_pair(tokenizer, pairs[i].prompt, pairs[i].chosen, pairs[i].rejected)
            reward = {}
            for reply in ("chosen", "rejected"):
                ids = getattr(pair, f"{reply}_ids")
                logps = {k: _sequence_logps(m, pair.prompt_ids, ids) for k, m in models.items()}
                reward[reply] = beta * (logps["policy"] - logps["reference"])
            margins.append(reward["chosen"] - reward["rejected"])
    return sum(margins) / len(margins)


def test_dpo_learns_the_preferred_replies(trained):
    m = trained.metrics
    before, after = m["dpo"]["before"], m["dpo"]["after"]
    # At the start the model is its own reference: every reward is 0 and the loss is ln 2.
    assert before["validation"]["loss"] == pytest.approx(LN2, abs=1e-6)
    assert before["validation"]["reward_margin"] == pytest.approx(0.0, abs=1e-6)
    assert m["initial_val_loss"] == before["validation"]["loss"]
    assert after["validation"]["loss"] < before["validation"]["loss"] - 0.05
    assert after["train"]["loss"] < before["train"]["loss"]
    assert m["best_val_loss"] == after["validation"]["loss"] and m["improved"] is True
    assert m["reward_accuracy"] == after["validation"]["reward_accuracy"] > 0.5
    assert m["reward_margin"] > 0 and after["validation"]["chosen_reward"] > 0
    assert m["pairs"] == {"train": 32, "validation": 8}
    assert m["sources"] == {"correction": 14, "thumbs": 26}
    train_losses = [loss for _, loss in m["train_loss"]]
    assert train_losses[-1] < train_losses[0]


def test_the_reference_of_a_run_from_the_base_is_the_base(trained, base, data):
    margin = _margin(base, trained.adapter_path, None, data, trained.config["beta"])
    assert margin == pytest.approx(trained.metrics["reward_margin"], rel=1e-4, abs=1e-6)


def test_only_the_adapter_changed(trained, base):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    original = AutoModelForCausalLM.from_pretrained(base).state_dict()
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base), trained.adapter_path
    )
    lora_b = [p for n, p in tuned.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # LoRA B starts at zero
    frozen = {
        n.replace("base_model.model.", "").replace(".base_layer", ""): p
        for n, p in tuned.named_parameters()
        if "lora_" not in n
    }
    for name, weight in original.items():
        assert torch.equal(frozen[name], weight), f"frozen weight {name} changed"


def test_the_version_is_registered_like_other_adapters(trained, registry, base, data):
    from tailorai.generation.local_backend import GenerationRequest, LocalBackend

    got = registry.get(trained.ref)
    assert (got.ref, got.method, got.scope, got.stage) == ("global@1", "dpo", "global", "candidate")
    assert got.lineage["preference_pairs"] == 40 and got.lineage["parent"] is None
    assert got.lineage["dataset_path"] == str(data.resolve())
    assert got.metrics["started_from"] == "base"
    files = {p.name for p in got.adapter_path.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= files
    assert "ref" not in files  # only the trained adapter, not a reference copy
    assert {"tokenizer", "metrics.json", "train_config.yaml", "chat_template.jinja"} <= {
        p.name for p in got.path.iterdir()
    }
    with LocalBackend(str(base)) as backend:
        backend.add_version(got)
        prompt = [{"role": "user", "content": "Is the ball red?"}]
        [result] = backend.generate(
            [GenerationRequest(messages=prompt, adapter=got.ref, max_new_tokens=4)]
        )
    assert result.adapter == got.ref and result.completion_tokens > 0


def test_init_from_an_adapter_version_uses_it_as_start_and_reference(
    trained, base, data, registry, tmp_path
):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    start = tmp_path / "start-run"
    torch.manual_seed(3)
    # Random B: this adapter answers unlike the base.
    lora = LoraConfig(
        r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), lora)
    model.save_pretrained(start / "adapter")
    registry.register("start", start, scope="global", method="lora", base_model=str(base))

    config = _config(data, base, init_from="start@1", name="from-start", epochs=2)
    [version] = train(config, registry=registry, progress=False)
    m = version.metrics
    assert version.lineage["parent"] == m["started_from"] == "start@1"
    # The run starts as its own reference: policy and reference are both the start adapter...
    assert m["dpo"]["before"]["validation"]["loss"] == pytest.approx(LN2, abs=1e-6)
    assert m["best_val_loss"] < m["initial_val_loss"] and m["reward_accuracy"] > 0.5
    # ...which differs from the base, so a base reference would have shown a margin at once.
    assert _margin(base, start / "adapter", None, data, 0.1) != pytest.approx(0.0, abs=1e-3)
    # After training the reference is still exactly the start adapter (frozen).
    margin = _margin(base, version.adapter_path, start / "adapter", data, 0.1)
    assert margin == pytest.approx(m["reward_margin"], rel=1e-4, abs=1e-6)
    adapter = json.loads((version.adapter_path / "adapter_config.json").read_text())
    assert adapter["r"] == 4  # the start adapter's shape, trained further


@pytest.mark.filterwarnings("ignore::tailorai.training.job.NotImprovedWarning")
def test_a_run_that_got_worse_is_not_registered(base, registry, tmp_path):
    _, validation = hold_out(24, 0.2, 0)
    data = write_preferences(tmp_path / "prefs", 24, flip=set(validation))  # held out: "No"
    config = _config(data, base, name="worse", epochs=2, patience=0)
    with pytest.raises(NotImprovedError, match="DPO loss on held-out preference pairs never"):
        train(config, registry=registry, progress=False)
    assert not [v for v in registry.list() if v.name == "worse"]


def test_too_few_pairs_is_a_clear_error(base, tmp_path):
    data = write_preferences(tmp_path / "prefs", 5)
    with pytest.raises(DataError, match=r"Only 5 preference pair\(s\) .* at least 16"):
        dpo(_config(data, base), progress=False)
    with pytest.raises(DataError, match=r"Only 20 preference pair\(s\) for scope segment:buyers"):
        dpo(
            _config(
                write_preferences(tmp_path / "more"), base, scope="segment:buyers", min_pairs=30
            )
        )


def test_a_missing_preferences_file_says_how_to_make_one(base, tmp_path):
    with pytest.raises(
        DataError, match=r"No preferences\.jsonl in .*Export them from user feedback"
    ):
        dpo(_config(tmp_path, base), progress=False)


def test_bad_lines_are_skipped_counted_and_reported(base, tmp_path):
    bad = (
        "not json",
        json.dumps({"prompt": [{"role": "user", "content": "Hi"}], "chosen": "A", "rejected": "A"}),
        json.dumps({"prompt": "Hi", "chosen": "A", "rejected": "B"}),
        json.dumps(
            {"prompt": [{"role": "assistant", "content": "Hi"}], "chosen": "A", "rejected": "B"}
        ),
        json.dumps({"prompt": [{"role": "user", "content": "Hi"}], "chosen": "A"}),
    )
    data = write_preferences(tmp_path / "prefs", 3, extra_lines=bad)
    preferences = load_preferences(data)
    assert len(preferences.pairs) == 3
    assert [(q.line, q.error.split(" (")[0]) for q in preferences.skipped] == [
        (4, "not valid JSON"),
        (5, "'chosen' and 'rejected' are the same reply"),
        (6, "'prompt' must be a non-empty list of {role: system|user|assistant, content: text}"),
        (7, "the prompt's last message is the assistant's; it must end before the reply"),
        (8, "'rejected' must be a non-empty text"),
    ]
    with (
        pytest.warns(SkippedPairsWarning, match=r"5 line\(s\) .* skipped: line 4 \(not valid JSON"),
        pytest.raises(DataError, match=r"Only 3 .*5 unusable lines skipped"),
    ):
        dpo(_config(data, base), progress=False)


def test_dpo_options_are_validated():
    assert TrainConfig(data="x", method="dpo").batch_size == 4
    assert TrainConfig(data="x").batch_size == 8
    assert TrainConfig(data="x", method="dpo").lr == 2e-5
    with pytest.raises(ConfigError, match="`min_pairs` must be an int of 2 or more"):
        TrainConfig(data="x", method="dpo", min_pairs=1)
    with pytest.raises(ConfigError, match="`validation_share` must be in"):
        TrainConfig(data="x", method="dpo", validation_share=1.0)
    with pytest.raises(ConfigError, match="`beta` must be positive"):
        TrainConfig(data="x", method="dpo", beta=0)
