"""Training throughput and validation loss: `finetune()` beside the usual Transformers recipe.

Data: the examples `tailor data prepare` makes from the shipped persona-chat dialogues and
customer-support turns together (PII step off for speed), sampled with a fixed seed; only examples
that fit the model's context with an assistant turn to learn are kept, so both sides train on
exactly the same examples.

tailor side: `finetune(TrainConfig(method="full"))`: chat template, loss on assistant turns only,
8 examples a step packed end to end with per-example (varlen) attention, no padding. Baseline:
the recipe tutorials teach, the same base model (the shipped stories260k), the chat-template-
rendered text through `tokenizer(texts, padding=True, truncation=True, max_length=512)`,
`DataCollatorForLanguageModeling(mlm=False)` (loss on every token), no packing, and `Trainer`
with the same epochs, batch size, learning rate, schedule, optimizer, evaluation and checkpoint
every epoch. Each side runs in its own spawned child (so peak memory is its own) after the same
warm-up; by default each side runs twice, in ABBA order, so a drift in the machine's speed falls
on both alike.

Throughput is real (non-padding) tokens trained per second of `trainer.train()`, less the
evaluation passes inside it; model loading and tokenization are left out on both sides. Both
final models are then scored by one function on the same validation examples: mean loss per
assistant token (the `encode_chat` labels), as `tailor_val_loss` / `baseline_val_loss`.

Extra (not with `--quick`): tailor LoRA at its default learning rate. `--profile` adds the
training-step rates of the same examples packed flat with varlen attention (what tailor trains
with), packed with a 4D block-diagonal mask (sdpa and eager), packed with position ids only
(wrong: examples see each other), and padded as the baseline pads.

    .venv/bin/python bench/train_throughput.py [--quick] [--examples N] [--epochs N] [--repeats N]
        [--no-extras] [--profile] [--inputs FILE ...]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import DEFAULT_INPUTS, in_child, peak_rss_mb, read_jsonl, write_jsonl

MAX_LENGTH = 512  # the baseline recipe's max_length; also stories260k's context
BATCH_SIZE = 8
WARMUP_STEPS = 2


def _warm_up(base: str) -> None:
    """The same warm-up on both sides: a few full-width training steps of the base model."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    ids = torch.randint(3, model.config.vocab_size, (BATCH_SIZE, MAX_LENGTH))
    for _ in range(WARMUP_STEPS):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def _train_seconds(log_history: list[dict[str, Any]], wall: float) -> float:
    """Wall time of `trainer.train()` less the evaluation passes it ran (steps after the first)."""
    evals = sum(e["eval_runtime"] for e in log_history if "eval_runtime" in e and e.get("step"))
    return wall - evals


def _tailor(
    data: str, base: str, epochs: int, lr: float | None, method: str, batch_size: int, queue: Any
) -> None:
    from tailorai.training.config import TrainConfig
    from tailorai.training.finetune import finetune  # the package attribute is shadowed

    _warm_up(base)
    config = TrainConfig(
        data=data,
        base_model=base,
        method=method,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        report_to=["none"],
        seed=0,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FewExamplesWarning on --quick data
        result = finetune(config, progress=False)
    total = time.perf_counter() - started
    peak = peak_rss_mb()
    checkpoints = sorted(
        (result.run_dir / "checkpoints").glob("checkpoint-*"),
        key=lambda p: int(p.name.rsplit("-", 1)[1]),
    )
    state = json.loads((checkpoints[-1] / "trainer_state.json").read_text(encoding="utf-8"))
    m = result.metrics
    queue.put(
        {
            "model_dir": str(result.artifact_dir / ("adapter" if config.is_adapter else "model")),
            "adapter": config.is_adapter,
            "lr": config.lr,
            "examples": m["examples"]["train"],
            "tokens_per_epoch": m["tokens"],
            "rows": m["rows"]["train"],
            "epochs_run": m["epochs_run"],
            "steps": state["global_step"],
            "train_wall_seconds": m["seconds"],
            "seconds": _train_seconds(state["log_history"], m["seconds"]),
            "total_seconds": total,
            "peak_rss_mb": peak,
        }
    )


def _baseline(data: str, base: str, out: str, epochs: int, lr: float, queue: Any) -> None:
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from tailorai.training import render_chat

    _warm_up(base)
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:  # the GPT-2 line of the recipe; stories260k has <unk>
        tokenizer.pad_token = tokenizer.eos_token

    def tokenize(path: Path) -> list[dict[str, list[int]]]:
        texts = [render_chat(tokenizer, e["messages"]) for e in read_jsonl(path)]
        enc = tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH)
        return [
            {"input_ids": ids, "attention_mask": mask}
            for ids, mask in zip(enc["input_ids"], enc["attention_mask"], strict=True)
        ]

    train = tokenize(Path(data) / "train.jsonl")
    validation = tokenize(Path(data) / "validation.jsonl")
    args = TrainingArguments(
        output_dir=str(Path(out) / "checkpoints"),
        per_device_train_batch_size=BATCH_SIZE,
        per_device_eval_batch_size=BATCH_SIZE,
        learning_rate=lr,
        weight_decay=0.01,
        warmup_steps=0.1,
        lr_scheduler_type="linear",
        optim="adamw_torch",
        max_grad_norm=1.0,
        num_train_epochs=epochs,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=10,
        report_to="none",
        seed=0,
        use_cpu=not torch.cuda.is_available(),
        dataloader_pin_memory=False,
        disable_tqdm=True,
    )
    torch.manual_seed(0)
    trainer = Trainer(
        model=AutoModelForCausalLM.from_pretrained(base),
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False),
        processing_class=tokenizer,
    )
    train_started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - train_started
    model_dir = Path(out) / "model"
    trainer.save_model(str(model_dir))
    total = time.perf_counter() - started
    peak = peak_rss_mb()
    real = sum(sum(row["attention_mask"]) for row in train)
    slots = sum(len(row["input_ids"]) for row in train)
    queue.put(
        {
            "model_dir": str(model_dir),
            "examples": len(train),
            "tokens_per_epoch": real,
            "padded_width": len(train[0]["input_ids"]),
            "padding_share": 1 - real / slots,
            "epochs_run": float(trainer.state.epoch or 0.0),
            "steps": trainer.state.global_step,
            "train_wall_seconds": wall,
            "seconds": _train_seconds(trainer.state.log_history, wall),
            "total_seconds": total,
            "peak_rss_mb": peak,
        }
    )


def _rate(run: dict[str, Any]) -> float:
    """Real tokens trained per second."""
    return float(run["tokens_per_epoch"] * run["epochs_run"] / run["seconds"])


def _combine(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's repeated runs as one: seconds and tokens add up, memory is the highest."""
    combined = dict(turns[0])
    combined["tokens_per_epoch"] = sum(t["tokens_per_epoch"] for t in turns)
    for key in ("seconds", "total_seconds"):
        combined[key] = sum(t[key] for t in turns)
    combined["peak_rss_mb"] = max(t["peak_rss_mb"] for t in turns)
    combined["rates"] = [round(_rate(t)) for t in turns]
    return combined


def assistant_val_loss(
    model_dir: str, base: str, examples: list[dict[str, Any]], adapter: bool = False
) -> float:
    """Mean cross-entropy per assistant token (the `encode_chat` labels) over `examples`.

    One function for every model compared, so the losses mean the same thing.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tailorai.models import IGNORE, encode_chat

    tokenizer = AutoTokenizer.from_pretrained(base)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), model_dir)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    encoded = sorted((encode_chat(tokenizer, e["messages"]) for e in examples), key=len)
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(encoded), 16):
            batch = encoded[start : start + 16]
            width = max(len(e) for e in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for i, e in enumerate(batch):
                ids[i, : len(e)] = torch.tensor(e.input_ids)
                labels[i, : len(e)] = torch.tensor(e.labels)
                mask[i, : len(e)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
            target = labels[:, 1:]
            total += float(
                torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]),
                    target.reshape(-1),
                    ignore_index=IGNORE,
                    reduction="sum",
                )
            )
            count += int((target != IGNORE).sum())
    return total / count


def profile(data: str, base: str, batches: int = 6) -> dict[str, Any]:
    """Where a packed training step's time goes, beside the padded baseline's, same examples."""
    import statistics

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tailorai.models import encode_chat
    from tailorai.training.attention import PACKED, register
    from tailorai.training.packing import PackedDataset, collate_packed

    tokenizer = AutoTokenizer.from_pretrained(base)
    encoded = [
        encode_chat(tokenizer, e["messages"]) for e in read_jsonl(Path(data) / "train.jsonl")
    ]
    rows = PackedDataset(encoded, MAX_LENGTH)
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    groups = [
        [rows[i] for i in order[j : j + BATCH_SIZE]] for j in range(0, len(order), BATCH_SIZE)
    ]
    groups = [g for g in groups if len(g) == BATCH_SIZE][:batches]
    collate_ms = []
    flat, packed = [], []
    for group in groups:
        started = time.perf_counter()
        flat.append(collate_packed(group))
        collate_ms.append((time.perf_counter() - started) * 1000)
        packed.append(collate_packed(group, flat=False, pad_token_id=tokenizer.pad_token_id or 0))
    padded = []  # the same examples, BATCH_SIZE at a time, padded to MAX_LENGTH as the recipe does
    examples = [e for group in groups for row in group for e in row]
    for start in range(0, len(examples), BATCH_SIZE):
        chunk = examples[start : start + BATCH_SIZE]
        ids = torch.zeros((len(chunk), MAX_LENGTH), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, e in enumerate(chunk):
            ids[i, : len(e)] = torch.tensor(e.input_ids)
            mask[i, : len(e)] = 1
        padded.append(
            {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}
        )
    register()
    models = {
        "sdpa": AutoModelForCausalLM.from_pretrained(base),
        "eager": AutoModelForCausalLM.from_pretrained(base, attn_implementation="eager"),
        "packed": AutoModelForCausalLM.from_pretrained(base, attn_implementation=PACKED),
    }
    no_mask = [{k: b[k] for k in ("input_ids", "labels", "position_ids")} for b in packed]
    # label: (model, the batches that hold all the examples, how many of them to time)
    runs = {
        "packed_4d_mask_sdpa": ("sdpa", packed, len(packed)),
        "packed_4d_mask_eager": ("eager", packed, 2),  # slow: two batches, scaled up
        "packed_position_ids_only_sdpa": ("sdpa", no_mask, len(no_mask)),
        "packed_flat_varlen_tailor": ("packed", flat, len(flat)),
        "padded_baseline_sdpa": ("sdpa", padded, len(padded)),
    }
    optimizers = {k: torch.optim.AdamW(m.parameters(), lr=1e-6) for k, m in models.items()}
    for model in models.values():
        model.config.use_cache = False
        model.train()

    def step(name: str, batch: dict[str, Any]) -> float:
        started = time.perf_counter()
        models[name](**batch).loss.backward()
        optimizers[name].step()
        optimizers[name].zero_grad()
        return time.perf_counter() - started

    for name, batches_, _ in runs.values():
        step(name, batches_[0])
    tokens = sum(len(e) for e in examples)
    report: dict[str, Any] = {
        "examples": len(examples),
        "packed_batches": len(packed),
        "padded_batches": len(padded),
        "collate_flat_ms_per_batch": round(statistics.median(collate_ms), 2),
    }
    for label, (name, batches_, timed) in runs.items():
        seconds = sum(step(name, b) for b in batches_[:timed]) * len(batches_) / timed
        report[f"{label}_real_tokens_per_s"] = round(tokens / seconds)
    return report


def _prepare_data(
    inputs: list[Path], out: Path, base: str, n_train: int, n_val: int
) -> dict[str, Any]:
    """Run `tailor data prepare` once, then sample the examples both sides train on."""
    from tailorai.data import PrepareConfig
    from tailorai.data.prepare import prepare
    from tailorai.models import encode_chat
    from tailorai.training import load_tokenizer

    started = time.perf_counter()
    prepared = out / "prepared"
    report = prepare(inputs, prepared, PrepareConfig(pii="off"))
    seconds = time.perf_counter() - started
    tokenizer = load_tokenizer(base)

    def sample(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
        rows = list(rows)
        random.Random(0).shuffle(rows)
        kept = []
        for row in rows:
            encoded = encode_chat(tokenizer, row["messages"])
            # finetune() drops examples longer than the context or with nothing to learn.
            if len(encoded) <= MAX_LENGTH and encoded.learned:
                kept.append(row)
                if len(kept) == n:
                    break
        return kept

    train = sample(read_jsonl(prepared / "train.jsonl"), n_train)
    validation = sample(read_jsonl(prepared / "validation.jsonl"), n_val)
    data = out / "data"
    data.mkdir()
    write_jsonl(data / "train.jsonl", train)
    write_jsonl(data / "validation.jsonl", validation)
    return {
        "path": str(data),
        "validation": validation,
        "prepared": report["examples"],
        "prepare_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 examples, 1 epoch, no extras")
    parser.add_argument("--examples", type=int, default=None, help="training examples (800)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs of each side, ABBA order (2; 1 quick)"
    )
    parser.add_argument("--validation", type=int, default=None, help="validation examples (200)")
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs on both sides (2; 1 quick)"
    )
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="both sides (5e-5)")
    parser.add_argument(
        "--extras",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time tailor LoRA (on unless --quick)",
    )
    parser.add_argument("--profile", action="store_true", help="add a per-step profile")
    parser.add_argument(
        "--inputs", type=Path, nargs="+", default=list(DEFAULT_INPUTS), help="raw data files"
    )
    args = parser.parse_args()
    n_train = args.examples or (150 if args.quick else 800)
    n_val = args.validation or (32 if args.quick else 200)
    epochs = args.epochs or (1 if args.quick else 2)
    if args.extras is None:
        args.extras = not args.quick
    if args.repeats is None:
        args.repeats = 1 if args.quick else 2

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp_name:
        tmp = Path(tmp_name)
        # Nothing this benchmark writes may touch the user's own home or database.
        os.environ["TAILOR_HOME"] = str(tmp / "home")
        os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{tmp / 'tailor.db'}"
        from tailorai.training import resolve_model_path

        base = resolve_model_path(None)  # the shipped stories260k, converted from GGUF once
        data = _prepare_data(args.inputs, tmp, base, n_train, n_val)
        print(f"prepared {data['prepared']} in {data['prepare_seconds']}s", flush=True)

        # Turns in ABBA order, so a drift in the machine's speed (other load, clocks) falls on
        # both sides alike; each side's rate is its tokens over its seconds, all turns together.
        turns: dict[str, list[dict[str, Any]]] = {"baseline": [], "tailor": []}
        for repeat in range(args.repeats):
            for side in ("baseline", "tailor") if repeat % 2 == 0 else ("tailor", "baseline"):
                if side == "baseline":
                    out = str(tmp / f"baseline-{repeat}")
                    run = in_child(_baseline, data["path"], base, out, epochs, args.learning_rate)
                else:
                    run = in_child(
                        _tailor, data["path"], base, epochs, args.learning_rate, "full", BATCH_SIZE
                    )
                turns[side].append(run)
                print(f"{side:>8}: {_rate(run):,.0f} tokens/s, {run['steps']} steps", flush=True)
        baseline, tailor = _combine(turns["baseline"]), _combine(turns["tailor"])
        baseline_rate, tailor_rate = _rate(baseline), _rate(tailor)
        extras = {}
        if args.extras:
            extras["lora"] = in_child(_tailor, data["path"], base, epochs, None, "lora", BATCH_SIZE)

        validation = data["validation"]
        losses = {
            "base": assistant_val_loss(base, base, validation),
            "tailor": assistant_val_loss(tailor["model_dir"], base, validation),
            "baseline": assistant_val_loss(baseline["model_dir"], base, validation),
        }
        for name, run in extras.items():
            losses[name] = assistant_val_loss(run["model_dir"], base, validation, run["adapter"])
        profiled = profile(data["path"], base) if args.profile else None

    result: dict[str, Any] = {
        "bench": "train_throughput",
        "base_model": "stories260k (shipped, 292K parameters)",
        "tailor_tokens_per_s": round(tailor_rate, 1),
        "baseline_tokens_per_s": round(baseline_rate, 1),
        "speedup": round(tailor_rate / baseline_rate, 2),
        "tailor_val_loss": round(losses["tailor"], 4),
        "baseline_val_loss": round(losses["baseline"], 4),
        "base_val_loss": round(losses["base"], 4),
        "tailor_peak_rss_mb": round(tailor["peak_rss_mb"], 1),
        "baseline_peak_rss_mb": round(baseline["peak_rss_mb"], 1),
        "examples": {"train": tailor["examples"], "validation": len(validation)},
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "learning_rate": args.learning_rate,
        "pii": "off",
        "tokens_per_epoch": {
            "tailor": turns["tailor"][0]["tokens_per_epoch"],
            "baseline": turns["baseline"][0]["tokens_per_epoch"],
        },
        "repeats": args.repeats,
        "tokens_per_s_each_run": {"tailor": tailor["rates"], "baseline": baseline["rates"]},
        "optimizer_steps": {"tailor": tailor["steps"], "baseline": baseline["steps"]},
        "tailor_padding_share": 0.0,  # flat packed batches hold no padding at all
        "baseline_padding_share": round(baseline["padding_share"], 3),
        "baseline_padded_width": baseline["padded_width"],
        "seconds": {
            "measured": "trainer.train() less its evaluation passes, all runs of a side",
            "tailor": round(tailor["seconds"], 1),
            "baseline": round(baseline["seconds"], 1),
            "tailor_finetune_total": round(tailor["total_seconds"], 1),
            "baseline_total": round(baseline["total_seconds"], 1),
        },
        "val_loss_measured": "mean loss per assistant token (encode_chat labels), one function",
    }
    if "lora" in extras:
        lora = extras["lora"]
        result["tailor_lora_tokens_per_s"] = round(_rate(lora), 1)
        result["tailor_lora_val_loss"] = round(losses["lora"], 4)
        result["tailor_lora_learning_rate"] = lora["lr"]
    if profiled is not None:
        result["profile"] = profiled
    print(json.dumps(result))


if __name__ == "__main__":
    main()
