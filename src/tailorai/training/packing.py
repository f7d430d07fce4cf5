"""Sequence packing: many short examples in one full-length row, none attending to another.

Rows are filled first-fit by decreasing length; a batch is a few rows. Every example restarts
its position ids at 0 and must see only itself: resetting positions alone is not enough, since
an example's logits would change with whatever was packed before it. Two batch layouts do that:

- flat (the default): the batch's examples end to end in one row with no padding at all, and
  `cu_seq_lens_q/k` (cumulative lengths, FlashAttention's varlen convention) saying where each
  starts, for `attention.PACKED` or FlashAttention to attend within each example;
- masked: rows padded to the longest, with a block-diagonal causal 4D float mask (0 inside each
  example's causal triangle, -inf elsewhere; padding attends to itself alone), for models that
  only take masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from tailorai.models import IGNORE, Encoded

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
    rows: Sequence[Sequence[Encoded]],
    *,
    flat: bool = True,
    pad_token_id: int = 0,
    pad_to_multiple_of: int = 8,
) -> dict[str, Any]:
    """A batch: input ids, labels, reset position ids, and example bounds (flat) or the mask."""
    if flat:
        return _collate_flat([example for row in rows for example in row])
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


def _collate_flat(examples: Sequence[Encoded]) -> dict[str, Any]:
    lengths = torch.tensor([len(e) for e in examples], dtype=torch.int32)
    bounds = torch.zeros(len(examples) + 1, dtype=torch.int32)
    bounds[1:] = lengths.cumsum(0)
    labels = []
    for example in examples:
        # The first token is never predicted from the example packed before it.
        labels += [IGNORE, *example.labels[1:]]
    longest = int(lengths.max())
    return {
        "input_ids": torch.tensor([[t for e in examples for t in e.input_ids]]),
        "labels": torch.tensor([labels]),
        "position_ids": torch.cat([torch.arange(n) for n in lengths.tolist()]).unsqueeze(0),
        "cu_seq_lens_q": bounds,
        "cu_seq_lens_k": bounds,
        "max_length_q": longest,
        "max_length_k": longest,
    }
