"""Retrieval of a user's own past examples, to show the model how this user is answered.

A `Retriever` is fitted on the dataset's training examples; a user's history is the examples with
that `user_id`. `search(user_id, query, k)` returns up to `k` of that user's examples, most similar
to `query` first. Whatever the query, only the named user's examples come back: never another
user's, never those without a user, and never the examples named in `exclude_ids` (the query's
own, so that an example is not shown its own answer). An earlier example with the very same
request is the user's history, not the query: it ranks first (in the Stack Exchange dump of the
personalization bench, 38 of 165 held-out texts follow one of their author's own on the same
question).

The prompt of an example is its last user message and the reply its final assistant message;
examples without both are skipped at `fit` and counted in `skipped_`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from tailorai.errors import ConfigError
from tailorai.records import Example, Message

__all__ = [
    "HistoryRetriever",
    "Retriever",
    "example_turns",
    "own_examples",
    "row_example",
    "with_examples",
]


@runtime_checkable
class Retriever(Protocol):
    """What `PromptBuilder` needs: fit on examples, then find one user's most similar ones."""

    def fit(self, examples: Iterable[Example]) -> Retriever: ...

    def search(
        self, user_id: str | None, query: str, k: int = 3, *, exclude_ids: Collection[str] = ()
    ) -> list[Example]: ...


def example_turns(example: Example) -> tuple[str, str] | None:
    """`(prompt, reply)` of an example: its last user message and final assistant message."""
    messages = example.messages
    if not messages or messages[-1].role != "assistant" or not messages[-1].content.strip():
        return None
    for message in reversed(messages[:-1]):
        if message.role == "user" and message.content.strip():
            return message.content, messages[-1].content
    return None


def row_example(row: Mapping[str, Any]) -> Example:
    """A prepared dataset row (as in `train.jsonl`) as an `Example` record, for retrievers."""
    meta = dict(row.get("meta") or {})
    return Example(
        id=str(row.get("id", "")),
        user_id=None if row.get("user_id") is None else str(row["user_id"]),
        conversation_id=str(meta.get("conversation_id", row.get("id", ""))),
        messages=[Message(m["role"], m["content"]) for m in row["messages"]],
        source=str(row.get("source", "")),
        meta=meta,
    )


def own_examples(
    retriever: Retriever | None,
    user_id: str | None,
    request: str,
    k: int,
    exclude_ids: Collection[str] = (),
) -> list[tuple[Example, tuple[str, str]]]:
    """Up to `k` of the user's own examples for `request`, best first, with their turns.

    A retriever that returns another user's example is a bug that would leak one user's data to
    another: it fails loudly here, whatever calls it.
    """
    if k == 0 or retriever is None or user_id is None:
        return []
    shots = []
    for example in retriever.search(user_id, request, k, exclude_ids=exclude_ids)[:k]:
        if example.user_id != user_id:
            raise ConfigError(
                f"{type(retriever).__name__} returned example {example.id!r} of another "
                f"user for user {user_id!r}. A retriever must only return the requesting "
                "user's own examples."
            )
        turns = example_turns(example)
        if turns is not None and example.id not in exclude_ids:
            shots.append((example, turns))
    return shots


def with_examples(
    messages: Sequence[Mapping[str, str]], shots: Sequence[tuple[str, str]]
) -> list[dict[str, str]]:
    """`messages` with `(prompt, reply)` shots as earlier turns: after any system prompt, before
    the conversation, as a few-shot prompt shows them."""
    turns = [dict(m) for m in messages]
    start = 1 if turns and turns[0]["role"] == "system" else 0
    examples = [
        {"role": role, "content": text}
        for prompt, reply in shots
        for role, text in (("user", prompt), ("assistant", reply))
    ]
    return turns[:start] + examples + turns[start:]


class HistoryRetriever:
    """Base class: groups examples by user and ranks one user's examples at a time.

    Subclasses build their index in `_build(prompts_by_user)` and score one user's prompts, in
    the order given, in `_scores(user_id, query)`. Ties keep the order of the examples in `fit`.
    """

    name: ClassVar[str] = "retriever"

    def fit(self, examples: Iterable[Example]) -> HistoryRetriever:
        histories: dict[str, list[Example]] = {}
        prompts: dict[str, list[str]] = {}
        skipped: Counter[str] = Counter()
        for example in examples:
            turns = example_turns(example)
            if example.user_id is None:
                skipped["no_user"] += 1  # nobody's history: never shown to anyone
            elif turns is None:
                skipped["no_prompt_or_reply"] += 1
            else:
                histories.setdefault(example.user_id, []).append(example)
                prompts.setdefault(example.user_id, []).append(turns[0])
        self._build(prompts)
        self.histories_ = histories
        self.prompts_ = prompts
        self.skipped_ = skipped
        return self

    def history(self, user_id: str | None) -> list[Example]:
        """All the examples of one user that `search` can return."""
        self._check_fitted()
        return list(self.histories_.get(user_id, [])) if user_id is not None else []

    def scores(self, user_id: str | None, query: str) -> list[float]:
        """The similarity of `query` to each example of `history(user_id)`, in that order."""
        self._check_fitted()
        if user_id is None or user_id not in self.histories_:
            return []
        return [float(s) for s in self._scores(user_id, query)]

    def search(
        self, user_id: str | None, query: str, k: int = 3, *, exclude_ids: Collection[str] = ()
    ) -> list[Example]:
        """Up to `k` of `user_id`'s examples, most similar to `query` first."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ConfigError(
                f"The 'k' parameter of {type(self).__name__}.search must be an int >= 0. "
                f"Got {k!r} instead."
            )
        self._check_fitted()
        if k == 0 or user_id is None or user_id not in self.histories_:
            return []
        examples = self.histories_[user_id]
        candidates = [i for i, example in enumerate(examples) if example.id not in exclude_ids]
        if not candidates:
            return []
        scores = np.asarray(self._scores(user_id, query), dtype=float)
        ranked = sorted(candidates, key=lambda i: -scores[i])  # stable: ties keep fit order
        return [examples[i] for i in ranked[:k]]

    def _check_fitted(self) -> None:
        if not hasattr(self, "histories_"):
            raise ConfigError(
                f"This {type(self).__name__} is not fitted yet. Call fit(examples) with the "
                "training examples before search()."
            )

    def _build(self, prompts_by_user: dict[str, list[str]]) -> None:
        raise NotImplementedError

    def _scores(self, user_id: str, query: str) -> Any:
        raise NotImplementedError
