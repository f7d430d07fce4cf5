"""`prepare()`: raw user data in, a training dataset and its report out.

Outputs in `out`: `train.jsonl`, `validation.jsonl`, `quarantine.jsonl`, `report.json`, and
`openai.jsonl` when exported. Files are written to a hidden folder first and moved into place one
by one with `report.json` last: a folder without `report.json` is not a finished dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tailorai import __version__
from tailorai.data.config import PrepareConfig
from tailorai.data.format import Format
from tailorai.data.pipeline import Pipeline, StepStats, default_steps
from tailorai.data.readers import expand_inputs, read_inputs
from tailorai.data.split import split_examples
from tailorai.errors import DataError
from tailorai.records import Conversation, Example, Quarantined

__all__ = ["prepare"]

Progress = Callable[[int], None]  # called with the number of records read so far


def _percentile(sorted_values: Sequence[int], q: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return int(sorted_values[index])


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str))
            f.write("\n")
            count += 1
    return count


class _Reader:
    """Splits the reader's stream into records (passed on) and quarantine (kept aside)."""

    def __init__(self, stream: Iterable[Conversation | Quarantined], progress: Progress | None):
        self.stream = stream
        self.progress = progress
        self.quarantined: list[Quarantined] = []
        self.records = 0
        self.stats = StepStats("read")

    def __iter__(self) -> Iterator[Conversation]:
        start = time.perf_counter()
        for item in self.stream:
            if isinstance(item, Quarantined):
                self.quarantined.append(item)
                continue
            self.records += 1
            if self.progress is not None and self.records % 200 == 0:
                self.progress(self.records)
            self.stats.seconds += time.perf_counter() - start
            yield item
            start = time.perf_counter()
        self.stats.seconds += time.perf_counter() - start
        self.stats.records_in = self.stats.records_out = self.records
        if self.progress is not None:
            self.progress(self.records)


def _tokenizer(config: PrepareConfig) -> Any:
    from tailorai.models import load_tokenizer

    return load_tokenizer(config.model)


def _context_length(config: PrepareConfig) -> int | None:
    """Unless told otherwise, examples must fit the base model's context window."""
    from tailorai.models import context_length

    return context_length(config.model)


def prepare(
    inputs: Sequence[str | Path],
    out: str | Path,
    config: PrepareConfig | None = None,
    *,
    progress: Progress | None = None,
    tokenizer: Any = None,
    forgotten: tuple[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """Prepare training data from `inputs` into the folder `out`; return the report.

    `forgotten` (a project and its tombstones, `privacy.forgotten_hashes`) drops the records of
    users erased on request, counted as `forgotten`.

    >>> report = prepare(["chats.jsonl", "mail/"], "dataset", PrepareConfig(languages=["en"]))
    >>> report["examples"]
    {'train': 812, 'validation': 95}
    """
    config = config or PrepareConfig()
    started = time.perf_counter()
    files = expand_inputs(inputs)  # fails early, before any model loads, on a bad path
    steps = default_steps(config)
    if forgotten is not None and forgotten[1]:
        from tailorai.data.forgotten import ForgottenUsers

        steps.insert(0, ForgottenUsers(*forgotten))
    max_tokens = config.max_tokens or _context_length(config)
    formatter = Format(
        context_turns=config.context_turns,
        max_tokens=max_tokens,
        tokenizer=tokenizer if tokenizer is not None else _tokenizer(config),
    )
    reader = _Reader(
        read_inputs(
            inputs, format=config.format, columns=config.columns, our_addresses=config.our_addresses
        ),
        progress,
    )
    pipeline = Pipeline(steps)
    format_stats = StepStats("format")
    examples: list[Example] = []
    format_start = time.perf_counter()
    kept_records = pipeline.run(reader)
    for example in formatter.run(kept_records):
        examples.append(example)
    format_seconds = time.perf_counter() - format_start - sum(s.seconds for s in pipeline.stats)
    format_seconds -= reader.stats.seconds
    format_stats.records_in = pipeline.stats[-1].records_out if pipeline.stats else reader.records
    format_stats.records_out = format_stats.records_in - sum(formatter.records_dropped.values())
    format_stats.seconds = max(0.0, format_seconds)

    if not examples:
        raise DataError(
            f"Nothing usable remained from {len(files)} input file(s): {reader.records} record(s) "
            f"read, {len(reader.quarantined)} quarantined, all others dropped "
            f"({_reasons(pipeline, formatter) or 'no records'}). Check the inputs' format "
            "(--format) and the filter options."
        )

    split_start = time.perf_counter()
    train, validation = split_examples(
        examples,
        by=config.split_by,
        validation_fraction=config.validation_fraction,
        seed=config.seed,
    )
    split_stats = StepStats("split", len(examples), len(train) + len(validation))
    split_stats.seconds = time.perf_counter() - split_start

    augment_report: dict[str, Any] = {}
    extra_stats: list[StepStats] = []
    if config.augment:
        from tailorai.data.augment import augment

        aug_start = time.perf_counter()
        result = augment(
            train,
            config.augment,
            seed=config.seed,
            min_similarity=config.augment_min_similarity,
        )
        train = train + result.examples
        augment_report = {"added": len(result.examples), "methods": result.stats}
        aug = StepStats("augment", len(train) - len(result.examples), len(train))
        aug.seconds = time.perf_counter() - aug_start
        extra_stats.append(aug)

    dropped: Counter[str] = Counter()
    for stats in pipeline.stats:
        dropped.update(stats.dropped)
    dropped.update(formatter.records_dropped)
    records_kept = format_stats.records_out
    lengths = sorted(formatter.token_lengths)
    entities = next((getattr(s, "entities", None) for s in steps if s.name == "anonymize"), None)
    language_step = next(s for s in steps if s.name == "language")
    report: dict[str, Any] = {
        "records_in": reader.records + len(reader.quarantined),
        "records_kept": records_kept,
        "records_dropped": dict(sorted(dropped.items())),
        "records_quarantined": len(reader.quarantined),
        "examples": {"train": len(train), "validation": len(validation)},
        "examples_dropped": dict(sorted(formatter.dropped.items())),
        "examples_truncated": formatter.truncated,
        "pii": dict(sorted((entities or {}).items())),
        "languages": dict(language_step.languages_seen.most_common()),
        "max_tokens": max_tokens,
        "tokens": {
            "p50": _percentile(lengths, 0.5),
            "p95": _percentile(lengths, 0.95),
            "max": lengths[-1] if lengths else 0,
        },
        "augmented": augment_report,
        "steps": [
            s.as_dict()
            for s in [reader.stats, *pipeline.stats, format_stats, split_stats, *extra_stats]
        ],
        "inputs": [{"path": str(p), "sha256": _file_sha256(p)} for p in files],
        "config": config.to_dict(),
        "tailorai_version": __version__,
    }
    _write_dataset(Path(out), train, validation, reader.quarantined, report, config)
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _reasons(pipeline: Pipeline, formatter: Format) -> str:
    counts: Counter[str] = Counter()
    for stats in pipeline.stats:
        counts.update(stats.dropped)
    counts.update(formatter.records_dropped)
    return ", ".join(f"{reason}: {n}" for reason, n in counts.most_common())


def _write_dataset(
    out: Path,
    train: list[Example],
    validation: list[Example],
    quarantined: list[Quarantined],
    report: dict[str, Any],
    config: PrepareConfig,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)  # the old dataset stops looking complete now
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        _write_jsonl(staging / "train.jsonl", (e.as_dict() for e in train))
        _write_jsonl(staging / "validation.jsonl", (e.as_dict() for e in validation))
        _write_jsonl(staging / "quarantine.jsonl", (q.as_dict() for q in quarantined))
        names = ["train.jsonl", "validation.jsonl", "quarantine.jsonl"]
        if "openai" in config.export:
            rows = ({"messages": [m.as_dict() for m in e.messages]} for e in train)
            _write_jsonl(staging / "openai.jsonl", rows)
            names.append("openai.jsonl")
        else:
            (out / "openai.jsonl").unlink(missing_ok=True)
        digest = hashlib.sha256()
        for name in ("train.jsonl", "validation.jsonl"):
            digest.update(_file_sha256(staging / name).encode())
        report["dataset_id"] = digest.hexdigest()[:16]
        (staging / "report.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        for name in [*names, "report.json"]:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
