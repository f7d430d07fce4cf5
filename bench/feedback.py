"""Feedback loops: ingest, assignment, one retrain, and whether rollouts decide right.

- `feedback_per_s`: `FeedbackLog.add` calls a second (each one row, idempotency key, the
  generation's reward recomputed) into SQLite, beside `raw_insert_rows_per_s`, the same rows
  inserted by `executemany` in one transaction (the ceiling).
- `assign_p50_ms`, `assign_p99_ms`: `rollout.assign` (SHA-256 into 10,000 buckets, traffic gate
  and arm) per unit, over 100,000 units (goal p99 < 0.1 ms).
- `retrain_seconds`: `RetrainFlow.run` on the shipped support and persona samples (gather,
  prepare, fine-tune a LoRA adapter of the shipped model 1 epoch on 400 examples, evaluate,
  start an experiment), wall time.
- `decision_accuracy`: the share of seeded `simulate_rollout` runs that promote a candidate with
  +25% click-through and roll back one with -25%, at the documented sample size (2,000 new
  users a day, at most 14 days, ramp 5/25/50/100%); `aa_false_promotion_rate`: the share of A/A
  runs that promote (goal <= 5%); `aa_inconclusive_rate` beside it; `runs` per scenario.

    .venv/bin/python bench/feedback.py [--quick]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import SAMPLES


def feedback_ingest(folder: Path, count: int) -> tuple[float, float]:
    from tailorai.feedback import FeedbackLog
    from tailorai.generation.generation_log import GenerationLog
    from tailorai.projects import ensure_project
    from tailorai.records import Generation
    from tailorai.store import Store

    store = Store(f"sqlite:///{folder / 'feedback.db'}")
    ensure_project(store, "bench")
    GenerationLog(store).add_many(
        [
            Generation(
                id=f"g{i}",
                project_id="bench",
                task="email",
                rung="zero_shot",
                output="x",
                backend="bench",
                user_id=f"u{i % 500}",
            )
            for i in range(count)
        ]
    )
    log = FeedbackLog(store)
    started = time.perf_counter()
    for i in range(count):
        log.add("bench", f"g{i}", key=f"k{i}", thumbs="up" if i % 3 else "down", rating=1 + i % 5)
    api = count / (time.perf_counter() - started)
    store.close()
    raw = sqlite3.connect(folder / "raw.db")
    raw.execute(
        "CREATE TABLE feedback (id INTEGER PRIMARY KEY, project_id TEXT, generation_id TEXT, "
        "thumbs INTEGER, rating INTEGER, idempotency_key TEXT, created_at TEXT, "
        "UNIQUE (project_id, idempotency_key))"
    )
    rows = [
        ("bench", f"g{i}", 1, 1 + i % 5, f"k{i}", datetime.now(UTC).isoformat())
        for i in range(count)
    ]
    started = time.perf_counter()
    with raw:
        raw.executemany(
            "INSERT INTO feedback (project_id, generation_id, thumbs, rating, idempotency_key, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    ceiling = count / (time.perf_counter() - started)
    raw.close()
    return api, ceiling


def assignment(units: int) -> tuple[float, float]:
    from tailorai.rollout import assign

    arms = {"control": 1.0, "candidate": 1.0}
    times = []
    for i in range(units):
        started = time.perf_counter()
        assign("bench-salt", f"user-{i}", arms, 0.5)
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000


def retrain_seconds(folder: Path) -> float:
    from tailorai.projects import ensure_project
    from tailorai.retrain import RetrainConfig, RetrainFlow
    from tailorai.store import Store

    store = Store(f"sqlite:///{folder / 'retrain.db'}")
    ensure_project(store, "bench")
    config = RetrainConfig(
        sources=[
            str(SAMPLES / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv"),
            str(SAMPLES / "Synthetic-Persona-Chat_valid.csv"),
        ],
        epochs=1,
        max_examples=400,
    )
    started = time.perf_counter()
    run = RetrainFlow(store, project="bench", home=folder / "home", config=config).run()
    seconds = time.perf_counter() - started
    store.close()
    if run.status != "done":
        print(f"retrain ended {run.status}: {run.reason}", file=sys.stderr)
    return seconds


def decisions(folder: Path, runs: int) -> dict[str, Any]:
    from tailorai.rollout.simulate import simulate_rollout
    from tailorai.store import Store

    outcomes: dict[float, list[str]] = {0.25: [], -0.25: [], 0.0: []}
    for lift in outcomes:
        for seed in range(runs):
            store = Store(f"sqlite:///{folder / f'rollout-{lift}-{seed}.db'}")
            result = simulate_rollout(
                store, folder, lift=lift, seed=seed, users_per_day=2000, max_days=14
            )
            outcomes[lift].append(result.outcome)
            store.close()
            (folder / f"rollout-{lift}-{seed}.db").unlink()
    right = outcomes[0.25].count("promoted") + outcomes[-0.25].count("rolled_back")
    return {
        "decision_accuracy": right / (2 * runs),
        "aa_false_promotion_rate": outcomes[0.0].count("promoted") / runs,
        "aa_inconclusive_rate": outcomes[0.0].count("inconclusive") / runs,
        "outcomes": {str(k): {o: v.count(o) for o in set(v)} for k, v in outcomes.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows, units and runs")
    parser.add_argument("--runs", type=int, help="seeded runs per rollout scenario (100)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-feedback-"))
    os.environ["TAILOR_HOME"] = str(folder / "home")
    os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{folder / 'tailor.db'}"
    runs = args.runs or (10 if args.quick else 100)
    try:
        api, ceiling = feedback_ingest(folder, 500 if args.quick else 3000)
        p50, p99 = assignment(20_000 if args.quick else 100_000)
        seconds = retrain_seconds(folder)
        decided = decisions(folder, runs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "feedback",
                "feedback_per_s": round(api, 1),
                "raw_insert_rows_per_s": round(ceiling, 1),
                "assign_p50_ms": round(p50, 4),
                "assign_p99_ms": round(p99, 4),
                "retrain_seconds": round(seconds, 1),
                "decision_accuracy": round(decided["decision_accuracy"], 3),
                "aa_false_promotion_rate": round(decided["aa_false_promotion_rate"], 3),
                "aa_inconclusive_rate": round(decided["aa_inconclusive_rate"], 3),
                "outcomes": decided["outcomes"],
                "runs": runs,
                "goals": {
                    "assign_p99_ms": 0.1,
                    "decision_accuracy": 0.95,
                    "aa_false_promotion_rate": 0.05,
                },
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
