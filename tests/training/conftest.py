"""A tiny prepared dataset, written the way `tailor data prepare` writes one, and a tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM

COLORS = ["red", "blue", "green", "yellow", "black", "white", "pink", "brown"]
THINGS = ["ball", "car", "hat", "cup", "kite", "box", "shoe", "book"]


def _example(i: int, user: str, segment: str) -> dict:
    color, thing = COLORS[i % len(COLORS)], THINGS[(i // len(COLORS)) % len(THINGS)]
    return {
        "id": f"c{i}#1",
        "user_id": user,
        "messages": [
            {"role": "user", "content": f"What color is the {thing}?"},
            {"role": "assistant", "content": f"The {thing} is {color}."},
        ],
        "source": "test",
        "meta": {"segment": segment, "conversation_id": f"c{i}"},
    }


def tiny_llama() -> LlamaForCausalLM:
    """A randomly initialised 2-layer Llama, seeded so that every call builds the same one."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(config)


def write_dataset(
    folder: Path, n_train: int = 48, n_validation: int = 12, *, contradict: bool = False
) -> Path:
    """`contradict`: validation answers contradict training ones, so validation loss rises."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        _example(i, f"u{i % 4}", "buyers" if i % 2 else "browsers")
        for i in range(n_train + n_validation)
    ]
    random.Random(0).shuffle(rows)
    if contradict:
        for row in rows[n_train:]:
            row["messages"][-1]["content"] = "Zebra quantum marmalade."
    for name, part in (("train", rows[:n_train]), ("validation", rows[n_train:])):
        with (folder / f"{name}.jsonl").open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in part)
    (folder / "report.json").write_text(json.dumps({"dataset_id": f"tiny{n_train}"}))
    return folder


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    return write_dataset(tmp_path / "dataset")
