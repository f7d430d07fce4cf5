"""Segment adapters: 8 LoRA adapters on one base, beside 8 separate full fine-tunes.

Data: the examples `tailor data prepare` makes from the shipped persona-chat dialogues and
customer-support turns (PII step off for speed), each given a `meta.segment` (one of 8, by a hash
of its user id, so a user's examples stay in one segment), then sampled to the same number of
examples per segment.

Base model: stories260k (292K parameters) is too small for adapters to matter, so both sides
start from a randomly initialised Llama of ~26M parameters (stories260k's tokenizer and context,
a wider and deeper body) built from a config and saved to a temp folder; `--quick` uses a ~1M one.

tailor side: `finetune(TrainConfig(method="lora", scope="segment:NAME"))` for each segment.
Baseline: `finetune(TrainConfig(method="full", scope="segment:NAME"))` for each segment, the same
pipeline (template, assistant-only loss, packing, evaluation and checkpoint every epoch), so the
only difference is adapter versus whole model. Each side runs in its own spawned child (so peak
memory is its own) after the same warm-up, and the two take turns segment by segment, so load from
other processes falls on both alike. Time is the wall time of the 8 `finetune()` calls (loading,
encoding, training, evaluation, saving); disk is the size of what each run keeps as its model (the
adapter folder versus the model folder).

    .venv/bin/python bench/adapters.py [--quick] [--per-segment N] [--epochs N] [--inputs FILE ...]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import DEFAULT_INPUTS, peak_rss_mb, read_jsonl, write_jsonl

SEGMENTS = 8
# (hidden, intermediate, layers, heads) of the randomly initialised base
BASES = {"default": (512, 1376, 8, 8), "quick": (128, 344, 4, 4)}


def _folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def build_base(out: Path, size: str) -> int:
    """A randomly initialised Llama with the shipped model's tokenizer; returns its parameters."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tailorai.training import load_tokenizer

    tokenizer = load_tokenizer()  # the shipped stories260k's
    hidden, intermediate, layers, heads = BASES[size]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def _warm_up(base: str) -> None:
    """The same warm-up on both sides: imports, and two training steps of the base model."""
    import matplotlib  # noqa: F401  (finetune draws a loss curve)
    import peft  # noqa: F401
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    ids = torch.randint(3, model.config.vocab_size, (2, 256))
    for _ in range(2):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def _worker(data: str, base: str, method: str, epochs: int, tasks: Any, results: Any) -> None:
    """One side: train one model per segment name received, with `method`, in this process."""
    from tailorai.training.config import TrainConfig
    from tailorai.training.finetune import finetune  # the package attribute is shadowed

    _warm_up(base)
    results.put(None)  # ready
    while (segment := tasks.get()) is not None:
        config = TrainConfig(
            data=data,
            base_model=base,
            method=method,
            scope=f"segment:{segment}",
            epochs=epochs,
            report_to=["none"],
            seed=0,
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FewExamplesWarning: small segments on purpose
            result = finetune(config, progress=False)
        seconds = time.perf_counter() - started
        kept = result.artifact_dir / ("adapter" if config.is_adapter else "model")
        run_mb = _folder_mb(result.run_dir)
        # Keep the disk low while the next trains: its size is taken already.
        shutil.rmtree(result.run_dir / "checkpoints", ignore_errors=True)
        results.put(
            {
                "segment": segment,
                "seconds": seconds,
                "model_mb": _folder_mb(kept),
                "run_mb": run_mb,
                "train_seconds": result.metrics["seconds"],
                "tokens": result.metrics["tokens"],
                "best_val_loss": result.metrics["best_val_loss"],
                "initial_val_loss": result.metrics["initial_val_loss"],
                "lr": config.lr,
                "peak_rss_mb": peak_rss_mb(),
            }
        )


def _run_sides(
    data: str, base: str, segments: list[str], epochs: int
) -> dict[str, list[dict[str, Any]]]:
    """Both sides in their own processes, taking turns segment by segment.

    Taking turns spreads any load from other processes on the machine over both sides alike.
    """
    context = mp.get_context("spawn")
    sides = {}
    for method in ("full", "lora"):
        tasks, results = context.Queue(), context.Queue()
        process = context.Process(target=_worker, args=(data, base, method, epochs, tasks, results))
        process.start()
        sides[method] = (process, tasks, results)
    for _, _, results in sides.values():
        results.get()  # warmed up
    runs: dict[str, list[dict[str, Any]]] = {"full": [], "lora": []}
    for index, segment in enumerate(segments):
        order = ("full", "lora") if index % 2 == 0 else ("lora", "full")
        for method in order:
            _, tasks, results = sides[method]
            tasks.put(segment)
            run = results.get()
            runs[method].append(run)
            print(f"{method:>4} {segment}: {run['seconds']:.1f}s", flush=True)
    for process, tasks, _ in sides.values():
        tasks.put(None)
        process.join()
    return runs


def _segment_of(user_id: str) -> str:
    return f"seg{int(hashlib.sha256(user_id.encode()).hexdigest(), 16) % SEGMENTS}"


def _prepare_data(
    inputs: list[Path], out: Path, base: str, per_segment: int
) -> tuple[Path, list[str], dict[str, Any]]:
    """`tailor data prepare` once, a `meta.segment` on every example, `per_segment` of each."""
    from tailorai.data import PrepareConfig
    from tailorai.data.prepare import prepare
    from tailorai.models import encode_chat
    from tailorai.training import load_tokenizer

    prepared = out / "prepared"
    report = prepare(inputs, prepared, PrepareConfig(pii="off"))
    tokenizer = load_tokenizer(base)

    def sample(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
        random.Random(0).shuffle(rows)
        taken: dict[str, int] = {}
        kept = []
        for row in rows:
            segment = _segment_of(str(row.get("user_id") or row["id"]))
            if taken.get(segment, 0) >= n:
                continue
            encoded = encode_chat(tokenizer, row["messages"])
            if len(encoded) > 512 or not encoded.learned:
                continue  # finetune() would drop it; keep both sides on the same examples
            row.setdefault("meta", {})["segment"] = segment
            taken[segment] = taken.get(segment, 0) + 1
            kept.append(row)
        return kept

    data = out / "data"
    data.mkdir()
    train = sample(read_jsonl(prepared / "train.jsonl"), per_segment)
    validation = sample(read_jsonl(prepared / "validation.jsonl"), max(2, per_segment // 4))
    write_jsonl(data / "train.jsonl", train)
    write_jsonl(data / "validation.jsonl", validation)
    segments = sorted({e["meta"]["segment"] for e in train})
    return data, segments, {"train": len(train), "validation": len(validation), **report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a ~1M base, 6 examples a segment, 1 epoch"
    )
    parser.add_argument(
        "--per-segment", type=int, default=None, help="training examples per segment (32)"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs on both sides (2; 1 with --quick)"
    )
    parser.add_argument(
        "--inputs", type=Path, nargs="+", default=list(DEFAULT_INPUTS), help="raw data files"
    )
    args = parser.parse_args()
    per_segment = args.per_segment or (6 if args.quick else 32)
    size = "quick" if args.quick else "default"
    epochs = args.epochs or (1 if args.quick else 2)

    with tempfile.TemporaryDirectory(prefix="bench-adapters-") as tmp_name:
        tmp = Path(tmp_name)
        # Nothing this benchmark writes may touch the user's own home or database.
        os.environ["TAILOR_HOME"] = str(tmp / "home")
        os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{tmp / 'tailor.db'}"
        base = tmp / "base"
        parameters = build_base(base, size)
        data, segments, counts = _prepare_data(args.inputs, tmp, str(base), per_segment)
        print(
            f"base: {parameters / 1e6:.1f}M parameters; {counts['train']} training examples "
            f"in {len(segments)} segments",
            flush=True,
        )
        runs = _run_sides(str(data), str(base), segments, epochs)
        base_mb = _folder_mb(base)
    tailor, baseline = runs["lora"], runs["full"]

    def total(side: list[dict[str, Any]], key: str) -> float:
        return float(sum(run[key] for run in side))

    def mean_loss(side: list[dict[str, Any]]) -> float | None:
        losses = [r["best_val_loss"] for r in side if r["best_val_loss"] is not None]
        return round(sum(losses) / len(losses), 4) if losses else None

    tailor_mb, baseline_mb = total(tailor, "model_mb"), total(baseline, "model_mb")
    tailor_s, baseline_s = total(tailor, "seconds"), total(baseline, "seconds")
    result = {
        "bench": "adapters",
        "adapters": len(tailor),
        "tailor_seconds": round(tailor_s, 1),
        "baseline_seconds": round(baseline_s, 1),
        "speedup": round(baseline_s / tailor_s, 2),
        # Robust to a burst of load from other processes during one segment's turn.
        "speedup_median_segment": round(
            statistics.median(
                b["seconds"] / t["seconds"] for b, t in zip(baseline, tailor, strict=True)
            ),
            2,
        ),
        "tailor_disk_mb": round(tailor_mb, 2),
        "baseline_disk_mb": round(baseline_mb, 2),
        "disk_ratio": round(tailor_mb / baseline_mb, 4),
        "tailor_peak_rss_mb": round(max(r["peak_rss_mb"] for r in tailor), 1),
        "baseline_peak_rss_mb": round(max(r["peak_rss_mb"] for r in baseline), 1),
        "base_model": (
            f"randomly initialised Llama, {parameters / 1e6:.1f}M parameters "
            f"(hidden, intermediate, layers, heads = {BASES[size]}), stories260k tokenizer"
        ),
        "base_model_mb": round(base_mb, 1),
        "tailor": "finetune(method='lora', scope='segment:NAME'), r=16, all linear layers",
        "baseline": "finetune(method='full', scope='segment:NAME'): same pipeline",
        "epochs": epochs,
        "examples": {"train": counts["train"], "validation": counts["validation"]},
        "tokens_per_segment": round(total(tailor, "tokens") / len(tailor)),
        "train_seconds": {
            "measured": "trainer.train() of all 8 runs, inside the seconds above",
            "tailor": round(total(tailor, "train_seconds"), 1),
            "baseline": round(total(baseline, "train_seconds"), 1),
        },
        "run_folder_mb_with_checkpoints": {
            "tailor": round(total(tailor, "run_mb"), 1),
            "baseline": round(total(baseline, "run_mb"), 1),
        },
        "learning_rate": {"tailor": tailor[0]["lr"], "baseline": baseline[0]["lr"]},
        "mean_best_val_loss": {"tailor": mean_loss(tailor), "baseline": mean_loss(baseline)},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
