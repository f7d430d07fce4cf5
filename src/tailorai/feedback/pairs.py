"""What users said, as training data: DPO preference pairs and corrected conversations.

    export_preferences(store, "shop", "feedback/")     # feedback/preferences.jsonl
    export_corrections(store, "shop", "feedback/corrections.jsonl")
    # tailor train --data feedback --method dpo
    # tailor data prepare feedback/corrections.jsonl --out dataset

A preference pair (the shape `tailorai.training.preferences` reads)::

    {"prompt": [{"role": "system", ...}, {"role": "user", ...}], "chosen": "...",
     "rejected": "...", "user_id": "u1", "segment": "browsers", "source": "correction",
     "generation_ids": ["9f2c..."]}

- from a correction: chosen = the user's corrected text, rejected = the generation's output;
- from thumbs on the same prompt (the same task and identical prompt messages): an output that
  got a thumbs up or 4-5 stars is chosen over one that got a thumbs down or 1-2 stars. Each up
  is paired with each down, at most `MAX_PAIRS_PER_PROMPT` per prompt (spread over as many
  outputs as possible, so one popular prompt cannot swamp the rest); a generation whose latest
  thumbs and stars disagree (up and 1 star) takes no side.

`prompt` is the generation's `prompt` as stored: the messages the model read. A pair whose two
texts are the same (after trimming), or whose prompt is not a list of role/content messages
ending before the reply, is skipped and counted. `user_id` and `segment` are the generations'
when both sides share them, else None.

`since` keeps feedback given at or after it (a thumbs pair: when either side's latest feedback
is), so a retrain picks up corrections made to older generations too. Exported files hold
users' own words: the data pipeline anonymizes corrections.jsonl, and `export_preferences`
runs the same anonymize step over every pair's prompt, chosen and rejected text (a pair it
cannot anonymize is left out and counted, never written with its personal data).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from tailorai.store.tables import FeedbackRow, GenerationRow

__all__ = [
    "MAX_PAIRS_PER_PROMPT",
    "correction_examples",
    "export_corrections",
    "export_preferences",
    "preference_pairs",
]

MAX_PAIRS_PER_PROMPT = 16
PREFERENCES_FILE = "preferences.jsonl"
_ROLES = ("system", "user", "assistant")
_CHUNK = 500


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _usable(prompt: Any) -> bool:
    """A non-empty list of role/content messages that ends before the reply."""
    return (
        isinstance(prompt, list)
        and bool(prompt)
        and all(
            isinstance(m, dict) and m.get("role") in _ROLES and isinstance(m.get("content"), str)
            for m in prompt
        )
        and prompt[-1]["role"] != "assistant"
    )


def _shared(a: Any, b: Any) -> Any:
    return a if a == b else None


def _corrections(store: Any, project: str, since: datetime | None) -> list[dict[str, Any]]:
    """Every correction with its generation, oldest feedback first."""
    query = (
        select(
            FeedbackRow.id.label("feedback_id"),
            FeedbackRow.correction,
            FeedbackRow.user_key.label("feedback_user"),
            GenerationRow.id.label("generation_id"),
            GenerationRow.user_key,
            GenerationRow.segment,
            GenerationRow.prompt,
            GenerationRow.output,
            GenerationRow.project_id,
        )
        .join(GenerationRow, GenerationRow.id == FeedbackRow.generation_id)
        .where(
            FeedbackRow.project_id == project,
            FeedbackRow.correction.is_not(None),
            FeedbackRow.correction != "",
        )
        .order_by(FeedbackRow.id)
    )
    if since is not None:
        query = query.where(FeedbackRow.created_at >= _utc(since))
    with store.session() as s:
        # The generation's project is checked here, not in SQL, so that SQLite drives the join
        # from the project's feedback rather than from all of the project's generations.
        rows = [dict(r) for r in s.execute(query).mappings() if r["project_id"] == project]
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:  # the same correction sent twice (a retry, an import) counts once
        key = (row["generation_id"], row["correction"].strip())
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _correction_pairs(
    store: Any, project: str, since: datetime | None, skipped: Counter[str]
) -> Iterator[dict[str, Any]]:
    for row in _corrections(store, project, since):
        if not _usable(row["prompt"]):
            skipped["unusable_prompt"] += 1
        elif row["correction"].strip() == (row["output"] or "").strip():
            skipped["same_text"] += 1
        else:
            yield {
                "prompt": row["prompt"],
                "chosen": row["correction"],
                "rejected": row["output"],
                "user_id": row["user_key"] or row["feedback_user"],
                "segment": row["segment"],
                "source": "correction",
                "generation_ids": [row["generation_id"]],
            }


def _verdicts(store: Any, project: str) -> dict[str, tuple[int, datetime]]:
    """+1 (liked) or -1 (disliked) per generation from its latest thumbs and stars, with the time
    of its latest feedback; a generation with mixed or middling feedback is left out."""
    query = (
        select(
            FeedbackRow.generation_id,
            FeedbackRow.thumbs,
            FeedbackRow.rating,
            FeedbackRow.created_at,
        )
        .where(
            FeedbackRow.project_id == project,
            or_(FeedbackRow.thumbs.is_not(None), FeedbackRow.rating.is_not(None)),
        )
        .order_by(FeedbackRow.id)
    )
    latest: dict[str, dict[str, Any]] = {}
    with store.session() as s:
        for generation_id, thumbs, rating, created_at in s.execute(query):
            seen = latest.setdefault(generation_id, {"thumbs": None, "rating": None})
            seen["thumbs"] = thumbs if thumbs is not None else seen["thumbs"]
            seen["rating"] = rating if rating is not None else seen["rating"]
            seen["at"] = _utc(created_at)
    verdicts = {}
    for generation_id, seen in latest.items():
        thumbs, rating = seen["thumbs"], seen["rating"]
        liked = thumbs == 1 or (rating is not None and rating >= 4)
        disliked = thumbs == -1 or (rating is not None and rating <= 2)
        if liked != disliked:
            verdicts[generation_id] = (1 if liked else -1, seen["at"])
    return verdicts


def _generations(store: Any, project: str, ids: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with store.session() as s:
        for start in range(0, len(ids), _CHUNK):
            query = select(
                GenerationRow.id,
                GenerationRow.user_key,
                GenerationRow.segment,
                GenerationRow.task,
                GenerationRow.prompt,
                GenerationRow.output,
                GenerationRow.created_at,
                GenerationRow.project_id,
            ).where(GenerationRow.id.in_(ids[start : start + _CHUNK]))
            # By primary key alone: with the project in the filter too, SQLite may pick the
            # (project, ...) indexes and scan every generation of the project.
            found = s.execute(query).mappings()
            rows.extend(dict(r) for r in found if r["project_id"] == project)
    for row in rows:
        row["created_at"] = _utc(row["created_at"])
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]))


def _diagonals(rows: int, columns: int) -> Iterator[tuple[int, int]]:
    """(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), ...: the first pairs use different outputs, and
    a prompt with thousands of votes is not paired all with all before the cap stops it."""
    for total in range(rows + columns - 1):
        for i in range(max(0, total - columns + 1), min(total, rows - 1) + 1):
            yield i, total - i


def _thumbs_pairs(
    store: Any, project: str, since: datetime | None, skipped: Counter[str]
) -> Iterator[dict[str, Any]]:
    verdicts = _verdicts(store, project)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in _generations(store, project, sorted(verdicts)):
        key = (row["task"], json.dumps(row["prompt"], sort_keys=True, ensure_ascii=False))
        groups.setdefault(key, []).append(row)
    since = _utc(since) if since is not None else None
    for members in groups.values():
        ups = [m for m in members if verdicts[m["id"]][0] > 0]
        downs = [m for m in members if verdicts[m["id"]][0] < 0]
        if not ups or not downs:
            continue
        if not _usable(members[0]["prompt"]):
            skipped["unusable_prompt"] += 1
            continue
        made, examined, seen = 0, 0, set()
        for i, j in _diagonals(len(ups), len(downs)):
            if made == MAX_PAIRS_PER_PROMPT:
                skipped["over_prompt_cap"] += len(ups) * len(downs) - examined
                break
            examined += 1
            up, down = ups[i], downs[j]
            if since is not None and max(verdicts[up["id"]][1], verdicts[down["id"]][1]) < since:
                continue
            texts = (up["output"].strip(), down["output"].strip())
            if texts[0] == texts[1]:
                skipped["same_text"] += 1
                continue
            if texts in seen:
                skipped["duplicate"] += 1
                continue
            seen.add(texts)
            made += 1
            yield {
                "prompt": up["prompt"],
                "chosen": up["output"],
                "rejected": down["output"],
                "user_id": _shared(up["user_key"], down["user_key"]),
                "segment": _shared(up["segment"], down["segment"]),
                "source": "thumbs",
                "generation_ids": [up["id"], down["id"]],
            }


def _pairs(
    store: Any, project: str, since: datetime | None
) -> tuple[list[dict[str, Any]], Counter[str]]:
    skipped: Counter[str] = Counter()
    pairs = [
        *_correction_pairs(store, project, since, skipped),
        *_thumbs_pairs(store, project, since, skipped),
    ]
    return pairs, skipped


def preference_pairs(
    store: Any, project: str, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """DPO preference pairs from corrections, then from thumbs on the same prompt."""
    return _pairs(store, project, since)[0]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write to a hidden file beside `path`, then move it into place: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(partial, path)


def _anonymized(
    pairs: list[dict[str, Any]], skipped: Counter[str], anonymizer: Any
) -> list[dict[str, Any]]:
    """The pairs with personal data replaced in every text, as the data pipeline does it."""
    from tailorai.records import Conversation, Message

    if not pairs:
        return pairs
    records = [
        Conversation(
            id=str(i),
            user_id=pair.get("user_id"),
            messages=[
                *(Message(m["role"], m["content"]) for m in pair["prompt"]),
                Message("assistant", pair["chosen"]),
                Message("assistant", pair["rejected"]),
            ],
            source="preferences",
            line=i,
        )
        for i, pair in enumerate(pairs)
    ]
    done = {int(r.id): r for r in anonymizer.run(records)}
    kept = []
    for i, pair in enumerate(pairs):
        record = done.get(i)
        if record is None:
            skipped["anonymize_failed"] += 1
            continue
        *prompt, chosen, rejected = record.messages
        kept.append(
            {
                **pair,
                "prompt": [m.as_dict() for m in prompt],
                "chosen": chosen.content,
                "rejected": rejected.content,
            }
        )
    return kept


def export_preferences(
    store: Any,
    project: str,
    out_dir: str | Path,
    *,
    since: datetime | None = None,
    anonymizer: Any = "placeholder",
) -> dict[str, Any]:
    """Write `out_dir/preferences.jsonl`, one pair a line, anonymized by `anonymizer` (an
    `Anonymize` step; placeholders by default); return the counts.

    >>> export_preferences(store, "shop", "feedback")
    {'path': 'feedback/preferences.jsonl', 'pairs': 3, 'sources': {'correction': 2,
     'thumbs': 1}, 'skipped': {'same_text': 1}}
    """
    pairs, skipped = _pairs(store, project, since)
    if anonymizer == "placeholder":
        from tailorai.data.anonymize import Anonymize

        anonymizer = Anonymize()
    if anonymizer is not None:  # None: the caller has anonymized what it stores
        pairs = _anonymized(pairs, skipped, anonymizer)
    path = Path(out_dir) / PREFERENCES_FILE
    _write_jsonl(path, pairs)
    sources = Counter(p["source"] for p in pairs)
    return {
        "path": str(path),
        "pairs": len(pairs),
        "sources": {name: sources[name] for name in ("correction", "thumbs")},
        "skipped": dict(sorted(skipped.items())),
    }


def _correction_examples(
    store: Any, project: str, since: datetime | None
) -> tuple[list[dict[str, Any]], Counter[str]]:
    examples, skipped = [], Counter[str]()
    for row in _corrections(store, project, since):
        if not _usable(row["prompt"]):
            skipped["unusable_prompt"] += 1
            continue
        examples.append(
            {
                "conversation_id": f"correction-{row['feedback_id']}",
                "user_id": row["user_key"] or row["feedback_user"],
                "messages": [
                    *({"role": m["role"], "content": m["content"]} for m in row["prompt"]),
                    {"role": "assistant", "content": row["correction"]},
                ],
                # Not read by the chat-jsonl reader; kept so the file says where it came from.
                "segment": row["segment"],
                "generation_id": row["generation_id"],
                "source": "correction",
            }
        )
    return examples, skipped


def correction_examples(
    store: Any, project: str, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Each correction as a training conversation in `tailor data prepare`'s chat-jsonl format:
    the generation's prompt, then the corrected text as the assistant's reply."""
    return _correction_examples(store, project, since)[0]


def export_corrections(
    store: Any, project: str, out_path: str | Path, *, since: datetime | None = None
) -> dict[str, Any]:
    """Write `correction_examples` to `out_path` (JSONL) for `tailor data prepare`.

    >>> export_corrections(store, "shop", "feedback/corrections.jsonl")
    {'path': 'feedback/corrections.jsonl', 'examples': 2, 'skipped': {}}
    """
    examples, skipped = _correction_examples(store, project, since)
    path = Path(out_path)
    _write_jsonl(path, examples)
    return {"path": str(path), "examples": len(examples), "skipped": dict(sorted(skipped.items()))}
