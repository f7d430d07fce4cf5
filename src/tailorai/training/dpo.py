"""`dpo()`: Direct Preference Optimization of a LoRA adapter on preference pairs, with TRL.

DPO (Rafailov et al. 2023) raises the likelihood of the reply users preferred over the one they
did not, relative to a frozen reference model; `beta` sets how far the adapter may move from it.
The reference is the run's starting point, so the run learns what the feedback adds to it:

- starting from the base model, a fresh LoRA adapter (the settings of `--method lora`) is
  trained, and the reference is the base itself (the adapter disabled);
- starting from an adapter (`--init-from NAME@N`, or the production global adapter for segment
  and user scopes), that adapter is trained further and TRL keeps a frozen copy of it, loaded
  as a second adapter named `ref`, as the reference. `_check_reference` makes sure it is there:
  with the adapter disabled instead, the reference would be the base and the loss would pull
  the adapter back towards it.

Pairs are encoded exactly as supervised examples and generation prompts are (`encode_pair`), a
validation share is held out with the seed, and the DPO loss, reward accuracy and reward margin
are measured on both splits before and after training. A run whose validation loss did not go
below its starting point's is reported as not improved (`train()` then does not register it).
"""

from __future__ import annotations

import math
import os
import random
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import torch
from trl import DPOConfig, DPOTrainer

from tailorai.errors import ConfigError, DataError
from tailorai.models import (
    EncodedPair,
    chat_template_for,
    context_length,
    encode_pair,
    resolve_model_path,
)
from tailorai.training.config import TrainConfig, parse_scope
from tailorai.training.finetune import (
    TrainResult,
    finish_run,
    lora_config,
    run_dir_for,
    training_arguments,
)
from tailorai.training.preferences import (
    PREFERENCES_FILE,
    PreferencePair,
    SkippedPairsWarning,
    hold_out,
    load_preferences,
)
from tailorai.training.trainer import LossHistory, StopOnDivergence

__all__ = ["PreferenceTrainer", "dpo", "measure_preferences"]

REFERENCE_ADAPTER = "ref"  # the name TRL gives the frozen copy of a starting adapter


class PreferenceTrainer(StopOnDivergence, DPOTrainer):
    """TRL's `DPOTrainer` on pairs tokenized by `encode_pair`, that sends nothing anywhere."""

    def _prepare_dataset(self, dataset: Any, *args: Any, **kwargs: Any) -> Any:
        # Already token ids, rendered with the template generation uses; TRL would re-render
        # them with the tokenizer's own template, which the shipped model does not have.
        return dataset

    def _send_telemetry(self) -> None:
        """No usage ping to the Hugging Face Hub: training runs offline and stays private."""


def _encode(
    tokenizer: Any, pairs: Sequence[PreferencePair], limit: int
) -> tuple[list[EncodedPair], list[PreferencePair], int]:
    encoded, kept, too_long = [], [], 0
    for pair in pairs:
        item = encode_pair(tokenizer, pair.prompt, pair.chosen, pair.rejected)
        if len(item) > limit:
            too_long += 1
        else:
            encoded.append(item)
            kept.append(pair)
    return encoded, kept, too_long


def _rows(pairs: Sequence[EncodedPair]) -> Any:
    from datasets import Dataset

    return Dataset.from_list(
        [
            {"prompt_ids": p.prompt_ids, "chosen_ids": p.chosen_ids, "rejected_ids": p.rejected_ids}
            for p in pairs
        ]
    )


def _no_activation_checkpointing() -> dict[str, bool]:
    # TRL turns it on by default; small models on CPUs only get slower with it. Transformers 5
    # renamed the option, and warns on the old name.
    names = {f.name for f in fields(DPOConfig)}
    key = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    return {key: False}


def _check_reference(model: Any, *, from_adapter: bool) -> None:
    """Make sure the frozen reference is the starting point (see the module docstring)."""
    if not from_adapter:
        return  # a fresh adapter: the base (adapter disabled) is the starting point
    adapters = getattr(model, "peft_config", {})
    if REFERENCE_ADAPTER not in adapters:
        raise ConfigError(
            "This TRL version did not keep a frozen copy of the starting adapter as the DPO "
            "reference, so the run would compare against the base model instead. Install the "
            "TRL version tailorai is tested with (pip install 'trl>=1.16'), or start from the "
            "base model (no --init-from)."
        )
    params = dict(model.named_parameters())
    for name, param in params.items():
        if f".{REFERENCE_ADAPTER}." in name:
            trained = params[name.replace(f".{REFERENCE_ADAPTER}.", ".default.")]
            if param.requires_grad or not torch.equal(param, trained):
                raise ConfigError(
                    f"The DPO reference adapter is not a frozen copy of the starting one ({name})."
                )


def measure_preferences(trainer: Any, dataset: Any) -> dict[str, float]:
    """DPO loss, reward accuracy and margin of the trained model on `dataset`, per pair.

    A reply's implicit reward is `beta * (log p_model(reply) - log p_reference(reply))`; the
    reward accuracy is the share of pairs whose chosen reply gets the higher reward.
    """
    model = trainer.model
    gather = trainer.accelerator.gather_for_metrics  # per batch: it drops a last batch's padding
    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    try:
        with torch.no_grad():
            for batch in trainer.get_eval_dataloader(dataset):
                mask = batch["completion_mask"]
                labels = batch["input_ids"].masked_fill(mask == 0, -100)
                # TRL's fused head: log-probabilities of the reply tokens, without the logits.
                logps = model(
                    input_ids=batch["input_ids"],
                    attention_mask=batch["attention_mask"],
                    labels=labels,
                    use_cache=False,
                    fused_lm_head=True,
                ).log_probs
                logps = logps[:, -(mask.size(1) - 1) :].sum(dim=1)
                ref_chosen, ref_rejected = trainer.compute_ref_log_probs(model, batch)
                policy_chosen, policy_rejected = logps.chunk(2, dim=0)
                rewards = gather(
                    (
                        trainer.beta * (policy_chosen - ref_chosen),
                        trainer.beta * (policy_rejected - ref_rejected),
                    )
                )
                chosen.append(rewards[0])
                rejected.append(rewards[1])
    finally:
        model.train(was_training)
    chosen_rewards = torch.cat(chosen).float()
    rejected_rewards = torch.cat(rejected).float()
    margins = chosen_rewards - rejected_rewards
    return {
        "loss": float(-torch.nn.functional.logsigmoid(margins).mean()),
        "reward_accuracy": float((margins > 0).float().mean()),
        "reward_margin": float(margins.mean()),
        "chosen_reward": float(chosen_rewards.mean()),
        "rejected_reward": float(rejected_rewards.mean()),
    }


def dpo(
    config: TrainConfig,
    *,
    progress: bool = True,
    parent: str | None = None,
    project: str = "default",
) -> TrainResult:
    """Train a LoRA adapter with DPO on `config.data`/preferences.jsonl (not yet registered).

    `parent` names the version `config.init_from` points to, for the lineage; `project` the
    project whose run folders it uses.

    >>> result = dpo(TrainConfig(data="feedback", method="dpo", init_from="global@3"))
    >>> result.metrics["dpo"]["after"]["validation"]["reward_accuracy"]
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback

    if config.method != "dpo":
        raise ConfigError(f"dpo() trains --method dpo; got {config.method!r}. Use finetune().")
    kind, value = parse_scope(config.scope)
    preferences = load_preferences(config.data)
    if preferences.skipped:
        lines = ", ".join(f"line {q.line} ({q.error})" for q in preferences.skipped[:5])
        more = len(preferences.skipped) - 5
        warnings.warn(
            f"{len(preferences.skipped)} line(s) of {preferences.path / PREFERENCES_FILE} are "
            f"not usable preference pairs and were skipped: {lines}"
            + (f" and {more} more." if more > 0 else "."),
            SkippedPairsWarning,
            stacklevel=2,
        )
    scoped = preferences.scoped(kind, value).pairs
    base = resolve_model_path(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    template = chat_template_for(tokenizer)
    limit = config.max_seq_len or context_length(base) or 1024
    encoded, kept, too_long = _encode(tokenizer, scoped, limit)
    if len(encoded) < config.min_pairs:
        dropped = []
        if too_long:
            dropped.append(f"{too_long} longer than {limit} tokens")
        if preferences.skipped:
            dropped.append(f"{len(preferences.skipped)} unusable lines skipped")
        raise DataError(
            f"Only {len(encoded)} preference pair(s) for scope {config.scope} in "
            f"{preferences.path / PREFERENCES_FILE}"
            + (f" ({', '.join(dropped)})" if dropped else "")
            + f"; DPO needs at least {config.min_pairs}. Collect more feedback, widen the "
            "scope, or lower --min-pairs."
        )
    train_index, validation_index = hold_out(len(encoded), config.validation_share, config.seed)
    if config.max_examples:
        sample = random.Random(config.seed)
        if len(train_index) > config.max_examples:
            train_index = sorted(sample.sample(train_index, config.max_examples))
        held_out = max(1, config.max_examples // 4)
        if len(validation_index) > held_out:
            validation_index = sorted(sample.sample(validation_index, held_out))
    train = [encoded[i] for i in train_index]
    validation = [encoded[i] for i in validation_index]
    used = [kept[i] for i in (*train_index, *validation_index)]

    run_dir = run_dir_for(config, preferences.dataset_id, project)
    checkpoints = run_dir / "checkpoints"
    resume = config.resume and checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*"))
    if not resume and checkpoints.exists():
        shutil.rmtree(checkpoints)  # a fresh run must not pick up an old run's state
    run_dir.mkdir(parents=True, exist_ok=True)

    history = LossHistory()
    callbacks: list[Any] = [history]
    if config.patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    per_step = config.batch_size * config.gradient_accumulation * world_size
    steps = math.ceil(len(train) / per_step) * config.epochs
    args = training_arguments(
        config,
        checkpoints,
        steps,
        evaluate=True,
        progress=progress,
        kind=DPOConfig,
        beta=config.beta,
        loss_type=["sigmoid"],
        max_length=None,  # pairs longer than `limit` were left out above, none is cut
        bf16=False,  # TRL defaults to bf16; float32 trains on any CPU or GPU
        fp16=False,
        precompute_ref_log_probs=False,
        **_no_activation_checkpointing(),
    )
    train_rows, validation_rows = _rows(train), _rows(validation)
    with warnings.catch_warnings():
        # Raised inside PEFT and TRL under transformers 5; nothing for users to change.
        warnings.filterwarnings("ignore", r".*is_gradient_checkpointing", FutureWarning)
        torch.manual_seed(config.seed)
        model = AutoModelForCausalLM.from_pretrained(base)
        peft_config = None
        if config.init_from:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, config.init_from, is_trainable=True)
        else:
            peft_config = lora_config(config)
        trainer = PreferenceTrainer(
            model=model,
            args=args,
            train_dataset=train_rows,
            eval_dataset=validation_rows,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
        )
        _check_reference(trainer.model, from_adapter=bool(config.init_from))
        if not progress:  # quiet means quiet: no per-step log dicts on stdout either
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        # Measured before `train`, which loads a checkpoint when resuming: the starting point.
        before = {
            "train": measure_preferences(trainer, train_rows),
            "validation": measure_preferences(trainer, validation_rows),
        }
        history.validation.append((0.0, before["validation"]["loss"]))
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=True if resume else None)
        seconds = time.perf_counter() - started
        after = {  # the best epoch's adapter, which `load_best_model_at_end` put back
            "train": measure_preferences(trainer, train_rows),
            "validation": measure_preferences(trainer, validation_rows),
        }
    state = trainer.state
    epochs_run = float(state.epoch or 0.0)
    tokens = sum(2 * len(p.prompt_ids) + len(p.chosen_ids) + len(p.rejected_ids) for p in train)
    sources = Counter(p.source or "unknown" for p in used)
    metrics: dict[str, Any] = {
        "pairs": {"train": len(train), "validation": len(validation)},
        "pairs_too_long": too_long,
        "pairs_skipped": len(preferences.skipped),
        "skipped_lines": [{"line": q.line, "error": q.error} for q in preferences.skipped[:20]],
        "sources": dict(sorted(sources.items())),
        "started_from": parent or config.init_from or "base",
        "beta": config.beta,
        "tokens": tokens,
        "max_seq_len": limit,
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < config.epochs,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens * epochs_run / seconds, 1) if seconds else 0.0,
        # The keys every method reports; here the loss is the DPO loss on held-out pairs.
        "initial_val_loss": before["validation"]["loss"],
        "best_val_loss": after["validation"]["loss"],
        "improved": after["validation"]["loss"] < before["validation"]["loss"],
        "reward_accuracy": after["validation"]["reward_accuracy"],
        "reward_margin": after["validation"]["reward_margin"],
        "dpo": {"before": before, "after": after},
    }
    return finish_run(
        trainer,
        tokenizer,
        config,
        metrics,
        history,
        template,
        run_dir,
        (preferences.dataset_id, preferences.path),
        resumed=bool(resume),
        lineage={
            "preference_pairs": len(train) + len(validation),
            "parent": parent or config.init_from,
        },
    )
