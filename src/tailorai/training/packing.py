"""Sequence packing: many short examples in one full-length row, none attending to another.

Rows are filled first-fit by decreasing length. In a packed row every example restarts its
position ids at 0 and sees only itself through a block-diagonal causal mask (a 4D float mask:
0 inside each example's causal triangle, -inf elsewhere). Resetting positions alone is not
enough: without the mask, an example's logits change with whatever was packed before it.
Batches are padded only to their longest row, and padding attends to itself alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from tailorai.training.encode import IGNORE, Encoded

__all__ = ["PackedDataset", "collate_packed", "pack"]


def pack(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of examples grouped into rows of at most `capacity` tokens (first-fit decreasing)."""
    rows: list[list[int]] = []
    free: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        size = lengths[index]
        for row, room in enumerate(free):
            if size <= room:
                rows[row].append(index)
                free[row] -= size
                break
        else:
            rows.append([index])
            free.append(capacity - size)
    return rows


class PackedDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Rows of encoded examples; one example per row when `packing` is off."""

    def __init__(self, examples: Sequence[Encoded], capacity: int, *, packing: bool = True):
        self.examples = list(examples)
        if packing:
            groups = pack([len(e) for e in self.examples], capacity)
        else:
            groups = [[i] for i in range(len(self.examples))]
        self.rows = [[self.examples[i] for i in group] for group in groups]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> list[Encoded]:
        return self.rows[index]

    @property
    def tokens(self) -> int:
        return sum(len(e) for e in self.examples)


def collate_packed(
    rows: Sequence[Sequence[Encoded]], *, pad_token_id: int = 0, pad_to_multiple_of: int = 8
) -> dict[str, Any]:
    """A batch: input ids, labels, reset position ids and the block-diagonal 4D attention mask."""
    width = max(sum(len(e) for e in row) for row in rows)
    width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    batch = len(rows)
    input_ids = torch.full((batch, width), pad_token_id, dtype=torch.long)
    labels = torch.full((batch, width), IGNORE, dtype=torch.long)
    position_ids = torch.zeros((batch, width), dtype=torch.long)
    allowed = torch.zeros((batch, width, width), dtype=torch.bool)
    for b, row in enumerate(rows):
        at = 0
        for example in row:
            n = len(example)
            input_ids[b, at : at + n] = torch.tensor(example.input_ids)
            labels[b, at : at + n] = torch.tensor(example.labels)
            # The first token is never predicted from the example packed before it.
            labels[b, at] = IGNORE
            position_ids[b, at : at + n] = torch.arange(n)
            allowed[b, at : at + n, at : at + n] = torch.ones(n, n, dtype=torch.bool).tril()
            at += n
        pad = torch.arange(at, width)
        allowed[b, pad, pad] = True  # a fully masked row would give NaN in softmax
    mask = torch.zeros((batch, 1, width, width), dtype=torch.float32)
    mask.masked_fill_(~allowed.unsqueeze(1), float("-inf"))
    return {
        "input_ids": input_ids,
        "labels": labels,
        "position_ids": position_ids,
        "attention_mask": mask,
    }
