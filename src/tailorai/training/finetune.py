"""`finetune()`: a prepared dataset and a base model in, a trained model version out.

Full fine-tuning or a LoRA/DoRA adapter on a frozen base, for one scope (all users, one segment,
one user). Examples are rendered with the chat template, learned on the assistant turns only,
and packed; evaluation runs every epoch, early stopping keeps the best epoch, every epoch is
checkpointed so `resume=True` continues a killed run. The run's folder is named by a hash of its
config and data, so the same command finds its own checkpoints.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import random
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tailorai.errors import ConfigError, DataError, MissingDependency
from tailorai.models import (
    Encoded,
    chat_template_for,
    context_length,
    encode_chat,
    last_reply_labels,
    resolve_model_path,
    use_bf16,
)
from tailorai.prompting.retrieval import example_turns, with_examples
from tailorai.settings import get_settings
from tailorai.training.attention import packed_attention
from tailorai.training.config import TrainConfig, parse_scope
from tailorai.training.dataset import Dataset, load_dataset
from tailorai.training.packing import PackedDataset, collate_packed
from tailorai.training.trainer import LossHistory, TailorTrainer

__all__ = [
    "FewExamplesWarning",
    "TrainResult",
    "finetune",
    "finish_run",
    "lora_config",
    "run_dir_for",
    "save_artifact",
    "training_arguments",
]

# Below these counts a method rarely beats few-shot prompting with the same examples.
MIN_EXAMPLES = {"full": 1000, "lora": 50, "dora": 50, "qlora": 50}


class FewExamplesWarning(UserWarning):
    """Fewer examples than the method needs to beat few-shot prompting."""


@dataclass
class TrainResult:
    artifact_dir: Path
    config: TrainConfig
    base_model: str
    dataset_id: str
    dataset_path: str
    chat_template: str
    metrics: dict[str, Any]
    run_dir: Path
    lineage: dict[str, Any] = field(default_factory=dict)


def _run_dir(config: TrainConfig, dataset: Dataset, project: str) -> Path:
    return run_dir_for(config, dataset.dataset_id or str(dataset.path.resolve()), project)


def run_dir_for(config: TrainConfig, data_id: str, project: str = "default") -> Path:
    """The run folder of a config on some data in a project: the same command finds its own
    checkpoints, and another project's run of the same config never does."""
    key = {k: v for k, v in config.to_dict().items() if k not in ("resume", "report_to")}
    key["dataset_id"] = data_id
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    slug = config.scope.replace(":", "-")
    return get_settings().home / "runs" / project / f"{slug}-{config.method}-{digest}"


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _distributed() -> bool:
    return _world_size() > 1


def _report_to(config: TrainConfig) -> list[str]:
    if config.report_to is not None:
        return [r for r in config.report_to if r != "none"]
    if config.method == "dpo":
        return []  # DPO logs only to the loggers named in report_to
    installed = []
    for name, module in (("tensorboard", "tensorboard"), ("mlflow", "mlflow")):
        try:
            __import__(module)
        except ImportError:
            continue
        installed.append(name)
    return installed


def _encode(
    tokenizer: Any, examples: list[dict[str, Any]], limit: int
) -> tuple[list[Encoded], int]:
    """Each example's ids and labels; one with retrieved `shots` learns its final reply only,
    and sheds shots, least similar first, until it fits `limit`."""
    encoded, too_long = [], 0
    for example in examples:
        shots = example.get("shots")
        if shots is None:
            item = encode_chat(tokenizer, example["messages"])
        else:
            for n in range(len(shots), -1, -1):
                item = encode_chat(tokenizer, with_examples(example["messages"], shots[:n]))
                if len(item) <= limit:
                    break
            item.labels = last_reply_labels(item.labels)
        if len(item) > limit:
            too_long += 1
        elif item.learned:
            encoded.append(item)
    return encoded, too_long


def _retrieve_shots(dataset: Dataset, k: int) -> float:
    """Give every example up to `k` of its user's other training examples (`shots`), retrieved
    by BM25 on its request: what the version will read when it is served. Returns the mean."""
    from tailorai.prompting import BM25Retriever, own_examples, row_example

    retriever = BM25Retriever().fit(row_example(row) for row in dataset.train)
    found: list[int] = []

    def augment(row: dict[str, Any]) -> dict[str, Any]:
        example = row_example(row)
        turns = example_turns(example)
        request = turns[0] if turns is not None else ""
        shots = own_examples(retriever, example.user_id, request, k, exclude_ids=[example.id])
        found.append(len(shots))
        return {**row, "shots": [pair for _, pair in shots]}

    dataset.train = [augment(row) for row in dataset.train]
    dataset.validation = [augment(row) for row in dataset.validation]
    return sum(found) / len(found) if found else 0.0


def _model(config: TrainConfig, base: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    if config.method == "qlora":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise MissingDependency("bitsandbytes (for QLoRA)", "pip install bitsandbytes") from exc
        if not torch.cuda.is_available():
            raise ConfigError(
                "QLoRA needs a CUDA GPU and this machine has none: use --method lora."
            )
    torch.manual_seed(config.seed)
    if config.method == "qlora":
        # The frozen base in 4-bit NF4 on the GPU; the adapter trains in bfloat16 on top.
        model = AutoModelForCausalLM.from_pretrained(
            base, quantization_config=quantization_config(), device_map={"": 0}
        )
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(base)
    if not config.is_adapter:
        return model
    from peft import PeftModel, get_peft_model

    if config.init_from:
        return PeftModel.from_pretrained(model, config.init_from, is_trainable=True)
    return get_peft_model(model, lora_config(config))


def quantization_config() -> Any:
    """QLoRA's base-model quantization (Dettmers et al. 2023): 4-bit NormalFloat weights, double
    quantization of their scales, bfloat16 compute."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def lora_config(config: TrainConfig) -> Any:
    """The PEFT `LoraConfig` of a LoRA, DoRA or DPO run (all linear layers when none named)."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules or "all-linear",
        use_dora=config.method == "dora",
        task_type="CAUSAL_LM",
    )


def save_artifact(
    trainer: Any,
    tokenizer: Any,
    config: TrainConfig,
    metrics: dict[str, Any],
    history: LossHistory,
    template: str,
    run_dir: Path,
) -> Path:
    """Write the trained model and its papers to `run_dir/artifact`, atomically."""
    from tailorai.training.loss_curve import plot_loss_curve

    final = run_dir / "artifact"
    staging = Path(tempfile.mkdtemp(prefix=".artifact-", dir=run_dir))
    try:
        if config.is_adapter:
            # Only the trained adapter: a DPO run also holds a frozen copy as its reference.
            trainer.model.save_pretrained(staging / "adapter", selected_adapters=["default"])
        else:
            trainer.model.save_pretrained(staging / "model")
        tokenizer.save_pretrained(staging / "tokenizer")
        (staging / "chat_template.jinja").write_text(template, encoding="utf-8")
        (staging / "train_config.yaml").write_text(yaml.safe_dump(config.to_dict()), "utf-8")
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        plot_loss_curve(history.train, history.validation, staging / "loss_curve.png")
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def finish_run(
    trainer: Any,
    tokenizer: Any,
    config: TrainConfig,
    metrics: dict[str, Any],
    history: LossHistory,
    template: str,
    run_dir: Path,
    data: tuple[str | None, Path],
    *,
    resumed: bool,
    lineage: dict[str, Any] | None = None,
) -> TrainResult:
    """Add what every method reports (the curves, the best checkpoint, the lineage of `data`,
    its dataset id and folder), save the artifact (on the main process) and describe the run.
    `lineage` holds the method's own entries."""
    dataset_id, data_path = data
    metrics.update(
        best_checkpoint=trainer.state.best_model_checkpoint,
        train_loss=history.train,
        val_loss=history.validation,
        resumed=resumed,
    )
    lineage = {
        "base_model": str(config.base_model or get_settings().base_model),
        "dataset_id": dataset_id,
        "dataset_path": str(data_path.resolve()),
        "scope": config.scope,
        "method": config.method,
        **(lineage or {}),
    }
    artifact = run_dir / "artifact"
    if trainer.is_world_process_zero():
        artifact = save_artifact(trainer, tokenizer, config, metrics, history, template, run_dir)
    return TrainResult(
        artifact_dir=artifact,
        config=config,
        base_model=lineage["base_model"],
        dataset_id=dataset_id,
        dataset_path=lineage["dataset_path"],
        chat_template=template,
        metrics=metrics,
        run_dir=run_dir,
        lineage=lineage,
    )


def training_arguments(
    config: TrainConfig,
    output_dir: Path,
    steps: int,
    *,
    evaluate: bool,
    progress: bool,
    kind: Any = None,
    **extra: Any,
) -> Any:
    """Trainer arguments; `steps` is the number of optimizer steps the run will take.

    `kind` is the arguments class (`TrainingArguments`, or a subclass such as TRL's `DPOConfig`)
    and `extra` its own fields.
    """
    import torch
    from transformers import TrainingArguments

    return (kind or TrainingArguments)(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        # Floored: a run of a few steps must not spend them at a learning rate near zero.
        warmup_steps=int(config.warmup_ratio * steps),
        lr_scheduler_type="linear",
        optim="adamw_torch",
        max_grad_norm=config.max_grad_norm,
        num_train_epochs=config.epochs,
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=evaluate,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=config.logging_steps,
        logging_first_step=True,  # short runs still draw a training curve
        report_to=_report_to(config) or "none",
        seed=config.seed,
        use_cpu=not torch.cuda.is_available(),
        # Under torchrun/accelerate on CPUs, processes talk over gloo; alone, no backend at all.
        ddp_backend="gloo" if _distributed() and not torch.cuda.is_available() else None,
        remove_unused_columns=False,
        dataloader_pin_memory=False,
        disable_tqdm=not progress,
        **extra,
    )


def _plant_canaries(config: TrainConfig, dataset: Dataset) -> dict[str, Any] | None:
    """Train on an audit copy with `config.canaries` canaries planted (the dataset on disk is
    untouched); what was planted, for the lineage, so the audit can look for it."""
    if not config.canaries:
        return None
    from tailorai.audit.memorization import CANARY_PROMPT, make_canaries, plant_canaries

    # Secret per dataset, scope and seed: repeatable, yet not the same in every model.
    seed = int(
        hashlib.sha256(f"{dataset.dataset_id}|{config.scope}|{config.seed}".encode()).hexdigest()[
            :12
        ],
        16,
    )
    strings = make_canaries(config.canaries, seed=seed)
    dataset.train = plant_canaries(
        dataset.train, strings, copies=config.canary_copies, seed=config.seed
    )
    return {"strings": strings, "copies": config.canary_copies, "prompt": CANARY_PROMPT}


def finetune(
    config: TrainConfig,
    *,
    progress: bool = True,
    parent: str | None = None,
    project: str = "default",
) -> TrainResult:
    """Train one model for one scope and return where its artifact is (not yet registered).

    `parent` names the version `config.init_from` points to, for the lineage; `project` the
    project it is trained for, whose run folders it uses (`HOME/runs/PROJECT/...`).

    >>> result = finetune(TrainConfig(data="dataset", method="lora", scope="global"))
    >>> result.metrics["best_val_loss"]
    """
    from transformers import AutoTokenizer, EarlyStoppingCallback

    if config.method == "dpo":
        raise ConfigError(
            "finetune() trains on examples; --method dpo trains on preference pairs: use "
            "tailorai.training.dpo.dpo(), or train(), which picks the right one."
        )
    kind, value = parse_scope(config.scope)
    dataset = load_dataset(config.data).scoped(kind, value, config.group_by)
    if not dataset.train:
        raise DataError(
            f"No training examples for scope {config.scope} in {config.data}. "
            f"Check the user id or the segment name (segments come from meta.{config.group_by})."
        )
    if config.max_examples:
        sample = random.Random(config.seed)
        held_out = max(1, config.max_examples // 4)
        if len(dataset.train) > config.max_examples:
            dataset.train = sample.sample(dataset.train, config.max_examples)
        if len(dataset.validation) > held_out:
            dataset.validation = sample.sample(dataset.validation, held_out)
    canaries = _plant_canaries(config, dataset)
    if len(dataset.train) < MIN_EXAMPLES[config.method]:
        warnings.warn(
            f"Only {len(dataset.train)} training examples for {config.method} fine-tuning of "
            f"{config.scope}; under {MIN_EXAMPLES[config.method]} few-shot prompting with these "
            "examples is usually as good (see `tailor plan`).",
            FewExamplesWarning,
            stacklevel=2,
        )
    base = resolve_model_path(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    template = chat_template_for(tokenizer)
    limit = config.max_seq_len or context_length(base) or 1024
    mean_shots = _retrieve_shots(dataset, config.retrieval_k) if config.retrieval_k else 0.0
    train, too_long = _encode(tokenizer, dataset.train, limit)
    validation, too_long_val = _encode(tokenizer, dataset.validation, limit)
    if not train:
        raise DataError(
            f"None of the {len(dataset.train)} training examples fits {limit} tokens with an "
            "assistant turn to learn. Raise --max-seq-len or prepare with --max-tokens."
        )

    run_dir = _run_dir(config, dataset, project)
    checkpoints = run_dir / "checkpoints"
    resume = config.resume and checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*"))
    if not resume and checkpoints.exists():
        shutil.rmtree(checkpoints)  # a fresh run must not pick up an old run's state
    run_dir.mkdir(parents=True, exist_ok=True)

    has_validation = bool(validation)
    history = LossHistory()
    callbacks: list[Any] = [history]
    if has_validation and config.patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    model = _model(config, base)
    initial_val_loss = None
    # Saving happens after the block, so the saved model keeps its own attention.
    with packed_attention(model, enabled=config.packing) as flat:
        # Flat batches are padding-free whatever they hold, so a batch is `batch_size` examples
        # (as in the usual recipe); only the masked layout fills rows of `limit` tokens.
        train_rows = PackedDataset(train, limit, packing=config.packing and not flat)
        validation_rows = (
            PackedDataset(validation, limit, packing=config.packing and not flat)
            if validation
            else None
        )
        per_step = config.batch_size * config.gradient_accumulation * _world_size()
        steps = math.ceil(len(train_rows) / per_step) * config.epochs
        args = training_arguments(
            config,
            checkpoints,
            steps,
            evaluate=has_validation,
            progress=progress,
            # bfloat16 autocast over float32 weights where it pays (QLoRA computes in bf16).
            bf16=config.method != "qlora" and use_bf16(model, config.precision),
        )
        collate = functools.partial(
            collate_packed, flat=flat, pad_token_id=tokenizer.pad_token_id or 0
        )
        trainer = TailorTrainer(
            model=model,
            args=args,
            data_collator=collate,
            train_dataset=train_rows,
            eval_dataset=validation_rows,
            callbacks=callbacks,
        )
        if not progress:  # quiet means quiet: no per-step log dicts on stdout either
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        if has_validation and not resume:
            initial_val_loss = float(trainer.evaluate()["eval_loss"])
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=True if resume else None)
        seconds = time.perf_counter() - started
    state = trainer.state
    epochs_run = float(state.epoch or 0.0)
    metrics: dict[str, Any] = {
        "examples": {"train": len(train), "validation": len(validation)},
        "examples_too_long": too_long + too_long_val,
        "retrieved_shots": round(mean_shots, 2),  # the mean per example (retrieval_k)
        "rows": {"train": len(train_rows), "validation": len(validation_rows or [])},
        "tokens": train_rows.tokens,
        "learned_tokens": sum(e.learned for e in train),
        "max_seq_len": limit,
        "precision": "bf16" if args.bf16 else "fp32",
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < config.epochs,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(train_rows.tokens * epochs_run / seconds, 1) if seconds else 0.0,
        "initial_val_loss": initial_val_loss,
        "best_val_loss": state.best_metric,
        # False when no epoch beat the starting point: the model is worse than what it began as.
        "improved": (
            None
            if initial_val_loss is None or state.best_metric is None
            else state.best_metric < initial_val_loss
        ),
    }
    lineage: dict[str, Any] = {}
    if parent or config.init_from:
        lineage["parent"] = parent or config.init_from
    if canaries:
        lineage["canaries"] = canaries
    return finish_run(
        trainer,
        tokenizer,
        config,
        metrics,
        history,
        template,
        run_dir,
        (dataset.dataset_id, dataset.path),
        resumed=bool(resume),
        lineage=lineage,
    )
