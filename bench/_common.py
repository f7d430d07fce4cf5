"""What the benchmarks share: the shipped samples, offline settings, files, memory and children.

The scripts import it as `from _common import ...`: running `.venv/bin/python bench/NAME.py` puts
`bench/` first on `sys.path`, and children started with `spawn` get the parent's `sys.path`.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_INPUTS",
    "ROOT",
    "SAMPLES",
    "in_child",
    "peak_rss_mb",
    "read_jsonl",
    "write_jsonl",
]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "tailorai" / "assets" / "samples"
# The raw data the training benchmarks prepare: persona-chat dialogues and customer-support turns.
DEFAULT_INPUTS = (
    SAMPLES / "Synthetic-Persona-Chat_valid.csv",
    SAMPLES / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv",
)

# Benchmarks run offline: no public-suffix download, no Hub lookups.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    """`target(*args, queue)` in a spawned child of its own (so peak memory is its own); what it
    puts on the queue."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result
