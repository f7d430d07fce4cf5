"""Repetition control over the reply alone, as logits processors for `generate`.

A 135M model left greedy loops within a few sentences ("I'm sure you're fans of the latest
sci-fi movies" four times). Transformers' own `repetition_penalty` and `no_repeat_ngram_size`
count the prompt too, which is wrong for personalized content: the reply should name the
product, the customer's favourite category and the brand the prompt gives, and a penalty on
prompt tokens pushes the model away from exactly those words (an n-gram ban forbids repeating a
four-token product name at all). These two look only at what the model wrote after the prompt:
every row's reply starts at the same position, `start`, because prompts are left-padded.

Hand-written because transformers has no reply-only n-gram ban; the n-grams seen are kept per
row and extended by one each step, so a step costs O(rows), not O(rows x length).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ReplyNoRepeatNGram", "ReplyRepetitionPenalty"]


class ReplyRepetitionPenalty:
    """CTRL's penalty (Keskar et al. 2019) on tokens the reply already holds: a positive logit
    is divided by `penalty`, a negative one multiplied."""

    def __init__(self, penalty: float, start: int) -> None:
        self.penalty = penalty
        self.start = start

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        reply = input_ids[:, self.start :]
        if reply.shape[1] == 0:
            return scores
        seen = torch.gather(scores, 1, reply)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, reply, seen)


class ReplyNoRepeatNGram:
    """Forbid any token that would complete an n-gram the reply already holds."""

    def __init__(self, n: int, start: int) -> None:
        self.n = n
        self.start = start
        self._seen: list[dict[tuple[int, ...], set[int]]] = []
        self._upto = 0  # reply tokens already indexed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        reply = input_ids[:, self.start :].tolist()
        length = len(reply[0]) if reply else 0
        if not self._seen:
            self._seen = [{} for _ in reply]
        n = self.n
        # Index the n-grams that ended since the last step (one, after the first call).
        for end in range(max(self._upto, n), length + 1):
            for row, tokens in enumerate(reply):
                self._seen[row].setdefault(tuple(tokens[end - n : end - 1]), set()).add(
                    tokens[end - 1]
                )
        self._upto = length + 1
        if length < n - 1:
            return scores
        for row, tokens in enumerate(reply):
            banned = self._seen[row].get(tuple(tokens[length - n + 1 :]))
            if banned:
                scores[row, list(banned)] = -float("inf")
        return scores
