"""Training for real on the shipped base model and a tiny dataset: the loss must go down, the
trainable weights must change and the frozen ones must not."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from transformers import AutoModelForCausalLM

from tailorai.errors import ConfigError, DataError, MissingDependency
from tailorai.training import resolve_model_path
from tailorai.training.config import TrainConfig
from tailorai.training.finetune import FewExamplesWarning, finetune
from tailorai.training.trainer import DivergedError, LossHistory, TailorTrainer


def _config(data, **overrides) -> TrainConfig:
    options = {
        "data": str(data),
        "epochs": 3,
        "batch_size": 4,
        "logging_steps": 2,
        "report_to": ["none"],
        "learning_rate": 3e-3,
    }
    options.update(overrides)
    return TrainConfig(**options)


def _base_state() -> dict[str, torch.Tensor]:
    return AutoModelForCausalLM.from_pretrained(resolve_model_path(None)).state_dict()


def test_lora_trains_only_the_adapter_and_the_loss_goes_down(tiny_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(_config(tiny_dataset, method="lora"), progress=False)
    metrics = result.metrics
    assert metrics["best_val_loss"] < metrics["initial_val_loss"] * 0.8
    train_losses = [loss for _, loss in metrics["train_loss"]]
    assert train_losses[-1] < train_losses[0]
    files = {p.name for p in result.artifact_dir.iterdir()}
    assert {
        "adapter",
        "tokenizer",
        "chat_template.jinja",
        "train_config.yaml",
        "metrics.json",
        "loss_curve.png",
    } <= files
    assert (result.artifact_dir / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (result.artifact_dir / "chat_template.jinja").read_text() == result.chat_template

    from peft import PeftModel

    base = _base_state()
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(resolve_model_path(None)),
        result.artifact_dir / "adapter",
    )
    lora_b = [p for n, p in tuned.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # LoRA B starts at zero
    frozen = {
        n.replace("base_model.model.", "").replace(".base_layer", ""): p
        for n, p in tuned.named_parameters()
        if "lora_" not in n
    }
    for name, weight in base.items():
        assert torch.equal(frozen[name], weight), f"frozen weight {name} changed"


def test_retrieval_augmented_training_learns_the_final_reply_after_the_users_own(
    tiny_dataset,
):
    """With `retrieval_k`, every example is prompted with its user's other training examples
    (each tiny user has a dozen), the shots are context, and only the final reply is learned:
    as many learned tokens as plain training, several times the tokens read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        plain = finetune(_config(tiny_dataset, method="lora", epochs=1), progress=False)
        rag = finetune(_config(tiny_dataset, method="lora", retrieval_k=2), progress=False)
    assert rag.metrics["retrieved_shots"] == 2 and plain.metrics["retrieved_shots"] == 0
    assert rag.metrics["learned_tokens"] == plain.metrics["learned_tokens"]
    assert rag.metrics["tokens"] > 2.5 * plain.metrics["tokens"]
    assert rag.metrics["best_val_loss"] < rag.metrics["initial_val_loss"] * 0.8
    assert rag.config.retrieval_k == 2


def test_retrieved_examples_are_shed_until_an_example_fits():
    from transformers import AutoTokenizer

    from tailorai.models import IGNORE, encode_chat
    from tailorai.training.finetune import _encode

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(None))
    messages = [
        {"role": "user", "content": "What color is the ball?"},
        {"role": "assistant", "content": "The ball is red."},
    ]
    shot = ("What color is the hat?", "The hat is blue.")
    alone = encode_chat(tokenizer, messages)
    [fitted], too_long = _encode(
        tokenizer, [{"messages": messages, "shots": [shot, shot]}], len(alone) + 5
    )
    assert too_long == 0 and fitted.input_ids == alone.input_ids  # both shots shed
    [with_one], _ = _encode(tokenizer, [{"messages": messages, "shots": [shot]}], 10_000)
    learned = [t for t in with_one.labels if t != IGNORE]
    assert learned == [t for t in alone.labels if t != IGNORE]  # the shot's reply is context
    assert len(with_one) > len(alone)


def test_full_fine_tune_changes_the_weights_and_lowers_the_loss(tiny_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(_config(tiny_dataset, method="full", epochs=2), progress=False)
    assert result.metrics["best_val_loss"] < result.metrics["initial_val_loss"]
    tuned = AutoModelForCausalLM.from_pretrained(result.artifact_dir / "model").state_dict()
    base = _base_state()
    changed = [n for n in base if not torch.equal(base[n], tuned[n])]
    assert len(changed) >= len(base) // 2


def test_dora_and_scopes(tiny_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(
            _config(tiny_dataset, method="dora", scope="segment:buyers", epochs=1), progress=False
        )
    adapter = json.loads((result.artifact_dir / "adapter" / "adapter_config.json").read_text())
    assert adapter["use_dora"] is True
    train = [json.loads(x) for x in (tiny_dataset / "train.jsonl").read_text().splitlines()]
    buyers = sum(e["meta"]["segment"] == "buyers" for e in train)
    assert 0 < result.metrics["examples"]["train"] == buyers < len(train)
    with pytest.raises(DataError, match="No training examples for scope user:nobody"):
        finetune(_config(tiny_dataset, scope="user:nobody"), progress=False)


def test_few_examples_warn_and_name_the_recommended_route(tiny_dataset):
    with pytest.warns(FewExamplesWarning, match="few-shot"):
        finetune(_config(tiny_dataset, epochs=1), progress=False)


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    from tests.training.conftest import write_dataset

    data = write_dataset(tmp_path / "d", n_train=16, n_validation=8, contradict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(
            _config(data, method="full", epochs=12, patience=1, learning_rate=1e-2),
            progress=False,
        )
    metrics = result.metrics
    assert metrics["stopped_early"] and metrics["epochs_run"] < 12
    val = [loss for epoch, loss in metrics["val_loss"] if epoch > 0]  # less the starting point
    assert metrics["best_val_loss"] == pytest.approx(min(val))
    assert val[-1] > min(val)
    assert metrics["improved"] is (min(val) < metrics["initial_val_loss"])


def test_a_run_of_one_step_still_learns(tmp_path):
    """Warmup is floored to whole steps: one step must not be spent at learning rate zero."""
    from tests.training.conftest import write_dataset

    data = write_dataset(tmp_path / "d", n_train=6, n_validation=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(_config(data, method="full", epochs=1, batch_size=8), progress=False)
    tuned = AutoModelForCausalLM.from_pretrained(result.artifact_dir / "model").state_dict()
    base = _base_state()
    assert any(not torch.equal(base[n], tuned[n]) for n in base)


def test_a_killed_run_resumes_from_its_last_checkpoint(tiny_dataset, monkeypatch):
    config = _config(tiny_dataset, epochs=2)

    def die_in_second_epoch(self, args, state, control, **kwargs):
        if state.epoch >= 1:  # epoch 1 is finished and checkpointed
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(LossHistory, "on_epoch_begin", die_in_second_epoch, raising=False)
    with warnings.catch_warnings(), pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("ignore", FewExamplesWarning)
        finetune(config, progress=False)
    monkeypatch.delattr(LossHistory, "on_epoch_begin")
    config.resume = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        # The same command for another project starts afresh: run folders are per project.
        theirs = finetune(config, progress=False, project="toys")
        result = finetune(config, progress=False)
    assert theirs.metrics["resumed"] is False and theirs.run_dir != result.run_dir
    assert result.metrics["resumed"] is True
    assert result.metrics["epochs_run"] == 2
    assert [epoch for epoch, _ in result.metrics["val_loss"]] == [2.0]  # epoch 1 was not redone


def test_diverging_loss_stops_the_run():
    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, **inputs):
            return {"loss": self.w * float("nan")}

    from transformers import TrainingArguments

    trainer = TailorTrainer(
        model=Broken(),
        args=TrainingArguments(output_dir="/tmp/unused", use_cpu=True, report_to="none"),
    )
    trainer.model.train()
    with pytest.raises(DivergedError, match="loss became nan"):
        trainer.compute_loss(trainer.model, {"x": torch.zeros(1)})


def test_bad_data_and_options_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="retrieval_k"):
        TrainConfig(data="d", retrieval_k=-1)
    with pytest.raises(DataError, match=r"No train\.jsonl"):
        finetune(_config(tmp_path), progress=False)
    (tmp_path / "train.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "x"}]}\nnope\n'
    )
    with pytest.raises(DataError, match="line 1: the last message must be the assistant's"):
        finetune(_config(tmp_path), progress=False)
    (tmp_path / "train.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}'
        "\nnope\n"
    )
    with pytest.raises(DataError, match=r"train.jsonl line 2: not valid JSON"):
        finetune(_config(tmp_path), progress=False)
    with pytest.raises(ConfigError, match="--method"):
        TrainConfig(data="x", method="adapter")
    with pytest.raises(ConfigError, match="--scope"):
        TrainConfig(data="x", scope="team:a")
    with pytest.raises(ConfigError, match="`epochs` must be a positive int"):
        TrainConfig(data="x", epochs=0)


def test_qlora_without_a_gpu_says_what_to_use(tiny_dataset):
    with (
        warnings.catch_warnings(),
        pytest.raises((MissingDependency, ConfigError), match=r"bitsandbytes|--method lora"),
    ):
        warnings.simplefilter("ignore", FewExamplesWarning)
        finetune(_config(tiny_dataset, method="qlora"), progress=False)


def test_max_examples_samples_train_and_validation(tiny_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(_config(tiny_dataset, epochs=1, max_examples=12), progress=False)
    assert result.metrics["examples"] == {"train": 12, "validation": 3}


def test_the_saved_template_encodes_prompts_exactly_as_training_did(tiny_dataset):
    from transformers import AutoTokenizer

    from tailorai.models import encode_chat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(_config(tiny_dataset, epochs=1), progress=False)
    saved = (result.artifact_dir / "chat_template.jinja").read_text()
    tokenizer = AutoTokenizer.from_pretrained(result.artifact_dir / "tokenizer")
    chat = [
        {"role": "user", "content": "What color is the kite?"},
        {"role": "assistant", "content": "The kite is red."},
    ]
    trained = encode_chat(tokenizer, chat)  # as finetune encoded it
    asked = encode_chat(tokenizer, chat[:1], add_generation_prompt=True, template=saved)
    assert saved == result.chat_template
    assert trained.input_ids[: len(asked.input_ids)] == asked.input_ids


def test_qlora_quantizes_the_base_to_4_bit_nf4():
    from tailorai.training.finetune import quantization_config

    config = quantization_config()
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant


def _cuda_and_bitsandbytes() -> bool:
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


@pytest.mark.skipif(not _cuda_and_bitsandbytes(), reason="QLoRA needs a CUDA GPU and bitsandbytes")
def test_qlora_trains_an_adapter_on_a_4_bit_base(tiny_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)
        result = finetune(_config(tiny_dataset, method="qlora", epochs=2), progress=False)
    losses = [loss for _, loss in result.metrics["train_loss"]]
    assert losses[-1] < losses[0]
    assert (result.artifact_dir / "adapter" / "adapter_config.json").is_file()
