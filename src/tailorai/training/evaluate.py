"""Held-out evaluation of the personalization rungs, side by side.

Every rung is scored on the same held-out examples and, for perplexity, on the same tokens: the
example's final reply. Perplexity is `exp` of the mean negative log-likelihood of those tokens
(the `encode_chat` labels of the last assistant turn; any earlier assistant turn, such as a
few-shot example, is context, not scored). ROUGE-1 and ROUGE-L F1 compare the model's greedy
reply with the reference. Where examples carry user ids, a rung's figure is the mean over users
of each user's own figure, so a user with many examples does not drown out the others.

The rungs:

- `zero_shot`: the base model; the prompt is the template's system prompt for the example's
  segment and the request (the example's last user message), no examples.
- `global_adapter`: the production `global` version, on the example's own messages (the format
  it was trained on). The non-personalized baseline every personalized rung must beat.
- `few_shot`: the base model, prompted like `zero_shot` plus up to `k` of the user's own
  examples, retrieved from the training split (a retriever never returns another user's). The
  shots are dropped, least similar first, where prompt and reply would not fit the context.
- `global_retrieval`: the production `global` version with up to `k` of the user's own
  retrieved examples before the request (as many as it was trained with, for a version trained
  with `retrieval_k`): what the router's `few_shot` rung serves when a global version is in
  production.
- `segment_adapter`, `user_adapter`: the production version of the example's `segment:NAME` or
  `user:ID` scope, where one exists; examples without one are not scored on that rung.

A version trained with `retrieval_k` (retrieval-augmented, as LaMP and OPPU) is scored on every
rung, and as an extra version, with that many of the user's own examples before the request,
as it is served.

Any registered version can be scored as an extra row (`versions=["global@3"]`).

>>> result = evaluate_dataset("dataset")
>>> result.scores["user_adapter"].perplexity, result.scores["global_adapter"].perplexity
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailorai.errors import ConfigError, DataError, RegistryError
from tailorai.models import (
    IGNORE,
    SharedBase,
    config_context_length,
    encode_chat,
    last_reply_labels,
    version_retrieval_k,
)
from tailorai.prompting.retrieval import own_examples, with_examples
from tailorai.prompting.retrieval import row_example as to_example

__all__ = [
    "ADAPTER_RUNGS",
    "RUNGS",
    "Evaluation",
    "ItemScore",
    "RungScore",
    "evaluate",
    "evaluate_dataset",
    "generate_replies",
    "reply_nll",
    "rouge",
    "to_example",
]

RUNGS = (
    "zero_shot",
    "global_adapter",
    "few_shot",
    "global_retrieval",
    "segment_adapter",
    "user_adapter",
)
ADAPTER_RUNGS = {
    "global_adapter": "global",
    "global_retrieval": "global",
    "segment_adapter": "segment",
    "user_adapter": "user",
}
DEFAULT_TASK = "chat_reply"
_WORD = re.compile(r"\w+")

Messages = Sequence[Mapping[str, str]]


# -- ROUGE -------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _f1(overlap: float, candidate: int, reference: int) -> float:
    if overlap == 0 or candidate == 0 or reference == 0:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge(candidate: str, reference: str) -> dict[str, float]:
    """ROUGE-1 and ROUGE-L F1 (Lin, 2004) over lowercased word tokens, no stemming.

    >>> rouge("the cat sat", "the cat sat down")
    {'rouge1': 0.857..., 'rougeL': 0.857...}
    """
    c, r = _words(candidate), _words(reference)
    counts_r: dict[str, int] = defaultdict(int)
    for w in r:
        counts_r[w] += 1
    overlap = 0
    for w in c:
        if counts_r[w] > 0:
            counts_r[w] -= 1
            overlap += 1
    return {"rouge1": _f1(overlap, len(c), len(r)), "rougeL": _f1(_lcs(c, r), len(c), len(r))}


# -- scores ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ItemScore:
    """One held-out example on one rung: the reply's summed NLL and token count, its ROUGE."""

    example_id: str
    user_id: str | None
    segment: str | None
    nll: float
    tokens: int
    version: str | None = None  # the registry version scored; None for the base model
    shots: int = 0  # the user's own examples in the prompt (few_shot)
    rouge1: float | None = None
    rougeL: float | None = None


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _perplexity(nll: float, tokens: int) -> float:
    return math.exp(nll / tokens) if tokens else math.nan


@dataclass
class RungScore:
    """The items of one rung (or one extra version) and their aggregates."""

    rung: str
    items: list[ItemScore] = field(default_factory=list)

    def _groups(self, by: str) -> dict[str | None, list[ItemScore]]:
        groups: dict[str | None, list[ItemScore]] = defaultdict(list)
        for item in self.items:
            groups[item.user_id if by == "user" else item.segment].append(item)
        return groups

    def loss_by(self, by: str = "user") -> dict[str, float]:
        """Mean NLL per reply token of each user (or segment, `by="segment"`)."""
        return {
            str(key): sum(i.nll for i in items) / sum(i.tokens for i in items)
            for key, items in self._groups(by).items()
            if key is not None and sum(i.tokens for i in items)
        }

    def perplexity_by(self, by: str = "user") -> dict[str, float]:
        """Held-out perplexity of each user (or segment)."""
        return {key: math.exp(loss) for key, loss in self.loss_by(by).items()}

    @property
    def examples(self) -> int:
        return len(self.items)

    @property
    def tokens(self) -> int:
        return sum(i.tokens for i in self.items)

    @property
    def users(self) -> int:
        return len({i.user_id for i in self.items if i.user_id is not None})

    @property
    def versions(self) -> list[str]:
        return sorted({i.version for i in self.items if i.version is not None})

    @property
    def pooled_perplexity(self) -> float:
        """Perplexity over all scored tokens together."""
        return _perplexity(sum(i.nll for i in self.items), self.tokens)

    @property
    def perplexity(self) -> float:
        """Mean of the users' perplexities; pooled when the examples carry no user ids."""
        per_user = self.perplexity_by("user")
        return _mean(list(per_user.values())) if per_user else self.pooled_perplexity

    def _rouge(self, key: str) -> float | None:
        scored = [i for i in self.items if getattr(i, key) is not None]
        if not scored:
            return None
        by_user: dict[str | None, list[float]] = defaultdict(list)
        for item in scored:
            by_user[item.user_id].append(getattr(item, key))
        if any(user is not None for user in by_user):
            return _mean([_mean(v) for user, v in by_user.items() if user is not None])
        return _mean([getattr(i, key) for i in scored])

    @property
    def rouge1(self) -> float | None:
        return self._rouge("rouge1")

    @property
    def rougeL(self) -> float | None:
        return self._rouge("rougeL")

    @property
    def shots(self) -> float:
        """Mean number of the user's own examples in the prompt."""
        return _mean([i.shots for i in self.items]) if self.items else 0.0

    def as_dict(self, *, items: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {
            "rung": self.rung,
            "versions": self.versions,
            "users": self.users,
            "examples": self.examples,
            "tokens": self.tokens,
            "perplexity": self.perplexity,
            "pooled_perplexity": self.pooled_perplexity,
            "rouge1": self.rouge1,
            "rougeL": self.rougeL,
            "mean_shots": self.shots,
            "perplexity_by_user": self.perplexity_by("user"),
            "perplexity_by_segment": self.perplexity_by("segment"),
        }
        if items:
            result["items"] = [
                {name: getattr(i, name) for name in ItemScore.__slots__} for i in self.items
            ]
        return result


@dataclass
class Evaluation:
    """Every rung's scores on the same held-out examples, and what could not be scored."""

    scores: dict[str, RungScore]
    examples: int
    skipped: dict[str, str] = field(default_factory=dict)  # rung -> why it was not scored
    too_long: int = 0  # examples left out of every rung: they do not fit the context

    def as_dict(self, *, items: bool = False) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "too_long": self.too_long,
            "rungs": {name: s.as_dict(items=items) for name, s in self.scores.items()},
            "skipped": dict(self.skipped),
        }


# -- models ------------------------------------------------------------------------------------


def _context(model: Any) -> int:
    return config_context_length(model.config) or 2048


# -- perplexity and generation -----------------------------------------------------------------


def _encode_scored(
    tokenizer: Any, messages: Messages, template: str | None
) -> tuple[list[int], list[int]]:
    if not messages or messages[-1]["role"] != "assistant":
        raise DataError("Each example to score must end with the assistant's reply.")
    encoded = encode_chat(tokenizer, messages, template=template)
    return encoded.input_ids, last_reply_labels(encoded.labels)


def _batches(order: list[int], lengths: list[int], size: int, tokens: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for index in order:
        width = max([lengths[i] for i in batch] + [lengths[index]])
        if batch and (len(batch) >= size or width * (len(batch) + 1) > tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


@contextmanager
def inference(model: Any) -> Iterator[None]:
    """Eval mode without gradients; the model's own mode (training or not) again after."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def reply_nll(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Messages],
    *,
    batch_size: int = 8,
    batch_tokens: int = 8192,
    template: str | None = None,
) -> list[tuple[float, int]]:
    """`(summed NLL, tokens)` of each conversation's final assistant reply, in nats.

    Batched (longest first, at most `batch_size` rows and `batch_tokens` padded tokens), without
    gradients, in eval mode. A conversation longer than the model's context is an error: the
    caller decides what to drop.
    """
    import torch

    encoded = [_encode_scored(tokenizer, messages, template) for messages in conversations]
    limit = _context(model)
    for ids, _ in encoded:
        if len(ids) > limit:
            raise DataError(
                f"A conversation of {len(ids)} tokens does not fit the model's context of "
                f"{limit}. Shorten it or leave it out."
            )
    lengths = [len(ids) for ids, _ in encoded]
    order = sorted(range(len(encoded)), key=lambda i: -lengths[i])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    results: list[tuple[float, int]] = [(0.0, 0)] * len(encoded)
    with inference(model):
        for batch in _batches(order, lengths, batch_size, batch_tokens):
            width = max(lengths[i] for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                ids, target = encoded[index]
                input_ids[row, : len(ids)] = torch.tensor(ids)
                labels[row, : len(ids)] = torch.tensor(target)
                mask[row, : len(ids)] = 1
            logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
            shifted = labels[:, 1:]
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].transpose(1, 2), shifted, ignore_index=IGNORE, reduction="none"
            )
            sums = nll.sum(dim=1).tolist()
            counts = (shifted != IGNORE).sum(dim=1).tolist()
            for row, index in enumerate(batch):
                results[index] = (float(sums[row]), int(counts[row]))
    return results


def generate_replies(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Messages],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    template: str | None = None,
) -> list[str]:
    """The greedy reply to each prompt (chat messages without the reply), batched."""
    import torch

    encoded = [
        encode_chat(tokenizer, messages, add_generation_prompt=True, template=template).input_ids
        for messages in prompts
    ]
    limit = _context(model)
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    eos = tokenizer.eos_token_id
    replies = [""] * len(encoded)
    with inference(model):
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in batch)
            new_tokens = min(max_new_tokens, limit - width)
            if new_tokens <= 0:
                continue  # no room left to answer in: an empty reply, scored as such
            # Left padding, so every row's reply starts right after the same position.
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                ids = encoded[index]
                input_ids[row, width - len(ids) :] = torch.tensor(ids)
                mask[row, width - len(ids) :] = 1
            output = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=pad,
                eos_token_id=eos,
            )
            for row, index in enumerate(batch):
                text = tokenizer.decode(output[row, width:], skip_special_tokens=True)
                replies[index] = text.split("<|im_start|>")[0].strip()
    return replies


# -- the rungs ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    index: int
    messages: list[dict[str, str]]  # what the model reads, ending with the reference reply
    version: Any = None
    shots: int = 0


def _check_rungs(rungs: Sequence[str]) -> list[str]:
    unknown = [r for r in rungs if r not in RUNGS]
    if unknown:
        raise ConfigError(
            f"Unknown rung(s) {', '.join(unknown)}: rungs are {', '.join(RUNGS)}. "
            "Pass them comma-separated, e.g. --rungs zero_shot,global_adapter."
        )
    return list(dict.fromkeys(rungs))


def _segment(row: Mapping[str, Any], group_by: str) -> str | None:
    value = (row.get("meta") or {}).get(group_by)
    return None if value is None else str(value)


def _request(row: Mapping[str, Any]) -> str:
    for message in reversed(row["messages"][:-1]):
        if message["role"] == "user" and message["content"].strip():
            return str(message["content"])
    return ""


def _user(row: Mapping[str, Any]) -> str | None:
    return None if row.get("user_id") is None else str(row["user_id"])


def _check_rows(examples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not examples:
        raise DataError("No held-out examples to evaluate on. Pass a validation split.")
    rows = [dict(row) for row in examples]
    for number, row in enumerate(rows, start=1):
        messages = row.get("messages")
        if not messages or messages[-1].get("role") != "assistant":
            raise DataError(
                f"Held-out example {number} ({row.get('id', '?')}) does not end with an "
                "assistant reply to score."
            )
    return rows


@dataclass
class _Prompting:
    """What zero- and few-shot prompts are built from."""

    templates: Any
    retriever: Any
    tokenizer: Any
    context: int
    task: str
    k: int
    group_by: str

    def item(self, rung: str, index: int, row: Mapping[str, Any]) -> _Item | None:
        """The prompt and reply of one example; None when they cannot fit the context."""
        from tailorai.prompting import PromptBuilder, PromptTooLong

        # Room for the prompt: the context minus (a little over) what the reply takes.
        budget = self.context - _reply_tokens(self.tokenizer, row)
        if budget <= 0:
            return None
        few_shot = rung == "few_shot"
        builder = PromptBuilder(
            self.templates,
            self.retriever if few_shot else None,
            self.tokenizer,
            max_tokens=budget,
            answer_tokens=0,
        )
        try:
            prompt = builder.build(
                user_id=_user(row),
                task=self.task,
                inputs={"message": _request(row)},
                segment=_segment(row, self.group_by),
                k=self.k if few_shot else 0,
                exclude_ids=[str(row.get("id", ""))],
            )
        except PromptTooLong:
            return None
        reply = {"role": "assistant", "content": row["messages"][-1]["content"]}
        return _Item(index, [*prompt.messages, reply], shots=len(prompt.example_ids))

    def version_item(self, rung: str, index: int, row: Mapping[str, Any], version: Any) -> _Item:
        """The example's own messages for a version; with the user's retrieved examples before
        them for `global_retrieval` and for a version trained with them, shed, least similar
        first, where they would not fit the context."""
        messages = [dict(m) for m in row["messages"]]
        k = version_retrieval_k(version) or (self.k if rung == "global_retrieval" else 0)
        shots = own_examples(self.retriever, _user(row), _request(row), k, [str(row.get("id", ""))])
        pairs = [pair for _, pair in shots]
        while pairs:
            augmented = with_examples(messages, pairs)
            if len(encode_chat(self.tokenizer, augmented).input_ids) <= self.context:
                return _Item(index, augmented, version, shots=len(pairs))
            pairs.pop()
        return _Item(index, messages, version)


def evaluate(
    examples: Sequence[Mapping[str, Any]],
    *,
    train: Sequence[Mapping[str, Any]] = (),
    rungs: Sequence[str] = RUNGS,
    versions: Sequence[str] = (),
    registry: Any = None,
    base_model: str | None = None,
    group_by: str = "segment",
    templates: Any = None,
    task: str = DEFAULT_TASK,
    k: int = 3,
    retriever: Any = None,
    with_rouge: bool = True,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    required: Sequence[str] = (),
    on_progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Score `examples` (held-out dataset rows) on each rung and on each extra version.

    `train` holds the rows the few-shot retriever may show (the user's own only); `registry`
    (default: `Registry()`) provides the production versions of the adapter rungs. A rung with
    no model at all is left out and listed in `skipped`, unless it is in `required`, which makes
    that an error. Examples that do not fit the context on some rung are left out of all rungs,
    so every rung is scored on the same reply tokens.
    """
    from tailorai.prompting import BM25Retriever, TemplateSet

    rungs = _check_rungs(rungs)
    rows = _check_rows(examples)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ConfigError(f"`k` must be an int >= 0, got {k!r}.")
    template_set = templates if isinstance(templates, TemplateSet) else TemplateSet.load(templates)
    template_set.get(task)  # an unknown task fails here, before any model is loaded
    owns_registry = registry is None
    if registry is None and (versions or any(r in ADAPTER_RUNGS for r in rungs)):
        from tailorai.training.registry import Registry

        registry = Registry()
    try:
        production = _production_versions(registry, rungs, rows, group_by)
        skipped: dict[str, str] = {}
        for rung in rungs:
            keys = (
                {_scope_key(rung, row, group_by) for row in rows} if rung in ADAPTER_RUNGS else ()
            )
            if keys and not keys & production.keys():
                why = _missing(rung, group_by)
                if rung in required:
                    raise RegistryError(f"Cannot evaluate {rung}: {why}")
                skipped[rung] = why
        rungs = [rung for rung in rungs if rung not in skipped]
        extra = [registry.get(ref) for ref in versions]
        if base_model is None and ("global", None) in production:
            base_model = production[("global", None)].base_model
        models = SharedBase(base_model)
        reads_examples = {"few_shot", "global_retrieval"} & set(rungs) or any(
            version_retrieval_k(v) for v in [*production.values(), *extra]
        )
        if reads_examples and retriever is None:
            retriever = BM25Retriever().fit(to_example(row) for row in train)
        prompting = _Prompting(
            template_set, retriever, models.tokenizer, _context(models.base), task, k, group_by
        )

        # What each rung reads for each example; None where the rung has no model for it.
        plans: dict[str, list[_Item | None]] = {}
        too_long = {
            index
            for index, row in enumerate(rows)
            if len(encode_chat(models.tokenizer, row["messages"]).input_ids) > prompting.context
        }
        for rung in rungs:
            if rung in ADAPTER_RUNGS:
                items = [
                    prompting.version_item(rung, index, row, version)
                    if (version := production.get(_scope_key(rung, row, group_by)))
                    else None
                    for index, row in enumerate(rows)
                ]
            else:
                items = [prompting.item(rung, index, row) for index, row in enumerate(rows)]
                too_long |= {index for index, item in enumerate(items) if item is None}
            plans[rung] = items
        for version in extra:
            plans[version.ref] = [
                prompting.version_item(version.ref, index, row, version)
                for index, row in enumerate(rows)
            ]

        scores = {}
        for name, items in plans.items():
            kept = [item for item in items if item is not None and item.index not in too_long]
            progress = on_progress or (lambda _text: None)
            progress(f"{name}: {len(kept)} examples")
            scores[name] = _score(
                name,
                kept,
                rows,
                models,
                group_by=group_by,
                with_rouge=with_rouge,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
        return Evaluation(scores, examples=len(rows), skipped=skipped, too_long=len(too_long))
    finally:
        if owns_registry and registry is not None:
            registry.close()


def _reply_tokens(tokenizer: Any, row: Mapping[str, Any]) -> int:
    # The reply after an empty request: a little over what the reply adds to any prompt.
    turns = [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]
    turns[1]["content"] = row["messages"][-1]["content"]
    return len(encode_chat(tokenizer, turns).input_ids)


def _scope_key(rung: str, row: Mapping[str, Any], group_by: str) -> tuple[str, str | None]:
    kind = ADAPTER_RUNGS[rung]
    if kind == "global":
        return ("global", None)
    if kind == "segment":
        return ("segment", _segment(row, group_by))
    return ("user", _user(row))


def _missing(rung: str, group_by: str) -> str:
    kind = ADAPTER_RUNGS[rung]
    scope = {"global": "global", "segment": "segment:NAME", "user": "user:ID"}[kind]
    extra = f" (segments come from meta.{group_by})" if kind == "segment" else ""
    return (
        f"no production version in any {scope} scope of the held-out examples{extra}. Train "
        f"one with `tailor train --scope {scope}` and promote it with `tailor models promote`."
    )


def _production_versions(
    registry: Any, rungs: Sequence[str], rows: Sequence[Mapping[str, Any]], group_by: str
) -> dict[tuple[str, str | None], Any]:
    found: dict[tuple[str, str | None], Any] = {}
    for rung in rungs:
        if rung not in ADAPTER_RUNGS:
            continue
        for key in {_scope_key(rung, row, group_by) for row in rows}:
            kind, value = key
            if key in found or (kind != "global" and value is None):
                continue
            version = registry.production(kind if value is None else f"{kind}:{value}")
            if version is not None:
                found[key] = version
    return found


def _score(
    name: str,
    items: list[_Item],
    rows: Sequence[Mapping[str, Any]],
    models: SharedBase,
    *,
    group_by: str,
    with_rouge: bool,
    max_new_tokens: int,
    batch_size: int,
) -> RungScore:
    by_version: dict[str | None, list[_Item]] = defaultdict(list)
    versions: dict[str | None, Any] = {}
    for item in items:
        ref = item.version.ref if item.version is not None else None
        by_version[ref].append(item)
        versions[ref] = item.version
    scored: list[ItemScore] = []
    by_index: list[int] = []  # the example index of each score, to restore the input order
    for ref, group in by_version.items():
        # A version is read with the chat template it was trained with, where it saved one.
        template = getattr(versions[ref], "chat_template", None)
        with models.use(versions[ref]) as model:
            losses = reply_nll(
                model,
                models.tokenizer,
                [i.messages for i in group],
                batch_size=batch_size,
                template=template,
            )
            replies = (
                generate_replies(
                    model,
                    models.tokenizer,
                    [i.messages[:-1] for i in group],
                    max_new_tokens=max_new_tokens,
                    batch_size=batch_size,
                    template=template,
                )
                if with_rouge
                else [None] * len(group)
            )
        for item, (nll, tokens), reply in zip(group, losses, replies, strict=True):
            row = rows[item.index]
            score = ItemScore(
                example_id=str(row.get("id", item.index)),
                user_id=_user(row),
                segment=_segment(row, group_by),
                nll=nll,
                tokens=tokens,
                version=ref,
                shots=item.shots,
            )
            if reply is not None:
                found = rouge(reply, row["messages"][-1]["content"])
                score.rouge1, score.rougeL = found["rouge1"], found["rougeL"]
            scored.append(score)
            by_index.append(item.index)
    position = {item.index: n for n, item in enumerate(items)}
    order = sorted(range(len(scored)), key=lambda n: position[by_index[n]])
    return RungScore(name, [scored[n] for n in order])


def evaluate_dataset(data: str | Path, *, split: str = "validation", **options: Any) -> Evaluation:
    """`evaluate` on a prepared dataset: its `split` is held out, `train` feeds few-shot.

    >>> evaluate_dataset("dataset", rungs=["global_adapter", "user_adapter"]).as_dict()
    """
    from tailorai.training.dataset import load_dataset

    if split not in ("validation", "train"):
        raise ConfigError(f"`split` must be 'validation' or 'train', got {split!r}.")
    dataset = load_dataset(data)
    held_out = dataset.validation if split == "validation" else dataset.train
    if not held_out:
        raise DataError(
            f"{data} has no {split} examples to evaluate on. Prepare it with a validation "
            "split (tailor data prepare --validation-fraction 0.1 --split-by conversation, so "
            "each user has held-out examples)."
        )
    return evaluate(held_out, train=dataset.train, **options)
