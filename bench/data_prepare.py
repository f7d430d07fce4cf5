"""Data preparation throughput and PII quality, beside Presidio's own BatchAnalyzerEngine.

tailor side: the whole pipeline (clean, language, sentences, filter, exact and near dedupe,
anonymize, format with the base model's tokenizer) over the shipped samples, 20,000 messages.
Baseline: Presidio's `BatchAnalyzerEngine` with the same spaCy model analyzing the same 20,000
message texts, and nothing else. Each side runs in its own child process (so peak memory is its
own), gets the same warm-up on the same first messages, and is timed on the same inputs. Then
both score PII recall and precision on the shipped labelled file (`--pii`) and on our own set
that is not it (`bench/pii_set.py`: our templates of chats, emails and form answers filled by
Faker in nine locales, `--own-records`, 0 for none), reported as `own_set`, and on templates
written blind, by someone who never saw the recognizers (`blind_set`; `blind2_set` and
`blind3_set` were written the same way later, each to check the changes made from the misses on
the set before it: the newest set is the one no change was tuned on).

    .venv/bin/python bench/data_prepare.py [--quick] [--pii FILE] [--messages N] [--own-records N]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from _common import ROOT, SAMPLES, in_child, peak_rss_mb

DEFAULT_PII = ROOT.parent / "shared" / "data" / "pii" / "presidio_generated_small.json"
SOURCES = (
    "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv",
    "Synthetic-Persona-Chat_valid.csv",
    "SMSSpamCollection",
)
WARMUP_MESSAGES = 300


def load_records(messages: int) -> list[Any]:
    """Records from the three shipped samples, taken in turn, until `messages` messages."""
    from tailorai.data.readers import read_inputs
    from tailorai.records import Conversation

    streams = [
        [r for r in read_inputs([SAMPLES / name]) if isinstance(r, Conversation)]
        for name in SOURCES
    ]
    records, total, index = [], 0, 0
    while total < messages and any(index < len(s) for s in streams):
        for stream in streams:
            if index < len(stream) and total < messages:
                record = stream[index]
                record.messages = record.messages[: messages - total]
                records.append(record)
                total += len(record.messages)
        index += 1
    return records


def _tailor(records: list[Any], pii_paths: dict[str, str], queue: Any) -> None:
    import copy

    from tailorai.data import PrepareConfig
    from tailorai.data.format import Format
    from tailorai.data.pii import PiiDetector, evaluate_pii
    from tailorai.data.pipeline import Pipeline, default_steps
    from tailorai.training import load_tokenizer

    config = PrepareConfig()
    tokenizer = load_tokenizer()
    warmup = copy.deepcopy(records[: WARMUP_MESSAGES // 2])
    list(Format(tokenizer=tokenizer).run(Pipeline(default_steps(config)).run(warmup)))

    pipeline = Pipeline(default_steps(config))  # fresh: dedupe has seen nothing
    formatter = Format(tokenizer=tokenizer)
    messages = sum(len(r.messages) for r in records)
    start = time.perf_counter()
    examples = sum(1 for _ in formatter.run(pipeline.run(records)))
    seconds = time.perf_counter() - start
    steps = {s.name: round(s.seconds, 3) for s in pipeline.stats}
    dropped: dict[str, int] = {}
    for s in pipeline.stats:
        for reason, n in s.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + n
    anonymize = next(s for s in pipeline.steps if s.name == "anonymize")
    detector = PiiDetector()
    scores = {name: evaluate_pii(detector, path) for name, path in pii_paths.items()}
    queue.put(
        {
            "messages": messages,
            "seconds": seconds,
            "examples": examples,
            "steps": steps,
            "dropped": dropped,
            "records": len(records),
            "entities": dict(anonymize.entities),
            "scores": scores,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def _presidio(texts: list[str], pii_paths: dict[str, str], queue: Any) -> None:
    from tailorai.data.pii import PresidioBatchDetector, evaluate_pii

    detector = PresidioBatchDetector()
    detector.analyze(texts[:WARMUP_MESSAGES])
    start = time.perf_counter()
    detector.analyze(texts)
    seconds = time.perf_counter() - start
    scores = {name: evaluate_pii(detector, path) for name, path in pii_paths.items()}
    queue.put({"seconds": seconds, "scores": scores, "peak_rss_mb": peak_rss_mb()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 messages instead of 20,000")
    parser.add_argument("--messages", type=int, default=None, help="messages to run through")
    parser.add_argument("--pii", type=Path, default=DEFAULT_PII, help="labelled PII JSON file")
    parser.add_argument(
        "--own-records", type=int, default=None, help="records of our own set (1,200; --quick 300)"
    )
    args = parser.parse_args()
    n = args.messages or (3_000 if args.quick else 20_000)
    own = args.own_records if args.own_records is not None else (300 if args.quick else 1200)
    pii_paths = {"shipped": str(args.pii)}
    if own:
        import tempfile

        from pii_set import build

        folder = Path(tempfile.mkdtemp(prefix="tailor-pii-set-"))
        for templates in ("own", "blind", "blind2", "blind3"):
            name = "own_set" if templates == "own" else f"{templates}_set"
            (folder / f"{name}.json").write_text(
                json.dumps(build(own, templates=templates)), encoding="utf-8"
            )
            pii_paths[name] = str(folder / f"{name}.json")

    records = load_records(n)
    texts = [m.content for r in records for m in r.messages]
    print(f"{len(texts):,} messages in {len(records):,} records", flush=True)
    presidio = in_child(_presidio, texts, pii_paths)
    print(f"presidio: {len(texts) / presidio['seconds']:.0f} msgs/s", flush=True)
    tailor = in_child(_tailor, records, pii_paths)
    print(f"tailor:   {tailor['messages'] / tailor['seconds']:.0f} msgs/s", flush=True)

    # Recall is compared on the personal-data types the anonymizer targets; the types only
    # Presidio flags (organizations, dates, URLs, ...) are reported apart, not hidden.
    from tailorai.data.pii import COMPATIBLE, DEFAULT_ENTITIES

    targeted = set(DEFAULT_ENTITIES) | {t for e in DEFAULT_ENTITIES for t in COMPATIBLE.get(e, ())}

    def recall(side: dict[str, Any], keep: bool, on: str = "shipped") -> dict[str, float]:
        return {
            k: round(v, 3)
            for k, v in side["scores"][on]["recall"].items()
            if (k in targeted) == keep
        }

    tailor_rate = tailor["messages"] / tailor["seconds"]
    presidio_rate = len(texts) / presidio["seconds"]
    result = {
        "bench": "data_prepare",
        "messages": len(texts),
        "tailor_msgs_per_s": round(tailor_rate, 1),
        "presidio_msgs_per_s": round(presidio_rate, 1),
        "speedup": round(tailor_rate / presidio_rate, 2),
        "tailor_recall": recall(tailor, True),
        "presidio_recall": recall(presidio, True),
        "tailor_precision": round(tailor["scores"]["shipped"]["precision"], 3),
        "presidio_precision": round(presidio["scores"]["shipped"]["precision"], 3),
        "tailor_peak_rss_mb": round(tailor["peak_rss_mb"], 1),
        "presidio_peak_rss_mb": round(presidio["peak_rss_mb"], 1),
        "pii_support": presidio["scores"]["shipped"]["support"],
        "not_targeted_recall": {
            "tailor": recall(tailor, False),
            "presidio": recall(presidio, False),
        },
        "tailor_records": tailor["records"],
        "tailor_examples": tailor["examples"],
        "tailor_dropped": tailor["dropped"],
        "tailor_step_seconds": tailor["steps"],
        "tailor_entities": tailor["entities"],
    }
    for name in ("own_set", "blind_set", "blind2_set", "blind3_set"):
        if name in pii_paths:
            result[name] = {
                "records": own,
                "tailor_recall": recall(tailor, True, name),
                "presidio_recall": recall(presidio, True, name),
                "tailor_precision": round(tailor["scores"][name]["precision"], 3),
                "presidio_precision": round(presidio["scores"][name]["precision"], 3),
                "support": presidio["scores"][name]["support"],
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
