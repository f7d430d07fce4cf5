"""`FeedbackLog`: explicit feedback on generations, stored once, joined with what it judges.

    log = FeedbackLog(store)
    log.add("shop", generation_id, thumbs="up", key="req-7")   # a retry with "req-7": no-op
    log.find("shop", user_id="u42")    # feedback with the generation's model, prompt and arm

Feedback arrives by `POST /v1/feedback`, as "feedback" events (`tracker.js`'s and the Python
client's `feedback()`; `Rewards.refresh` turns them into rows, the event's message id as the
idempotency key) and by `tailor feedback import FILE`. Each stored row updates its
generation's reward at once.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from tailorai.errors import DataError
from tailorai.store.tables import FeedbackRow, GenerationRewardRow, GenerationRow

__all__ = ["FeedbackLog", "UnknownGeneration", "parse_feedback"]

THUMBS: dict[Any, int] = {"up": 1, "down": -1, "1": 1, "-1": -1, "+1": 1, 1: 1, -1: -1}
_TEXT_LIMIT = 20_000


class UnknownGeneration(DataError):
    """Feedback names a generation this project does not have."""


def parse_feedback(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The feedback fields of `raw`, checked: `thumbs` up/down, `rating` 1-5, `comment` and
    `correction` text. A `ValueError` names the field that is wrong and how."""
    out: dict[str, Any] = {}
    thumbs = raw.get("thumbs")
    if thumbs is not None and thumbs != "":
        key = thumbs.lower() if isinstance(thumbs, str) else thumbs
        if key not in THUMBS:
            raise ValueError(f"thumbs: must be 'up' or 'down', got {thumbs!r}")
        out["thumbs"] = THUMBS[key]
    rating = raw.get("rating", raw.get("stars"))
    if rating is not None and rating != "":
        wrong = ValueError(f"rating: must be a whole number of stars 1-5, got {rating!r}")
        try:
            value = float(rating)
        except (TypeError, ValueError):
            raise wrong from None
        if isinstance(rating, bool) or not value.is_integer() or not 1 <= value <= 5:
            raise wrong
        out["rating"] = int(value)
    for name in ("comment", "correction"):
        text = raw.get(name)
        if text is None or text == "":
            continue
        if not isinstance(text, str):
            raise ValueError(f"{name}: must be text, got {type(text).__name__}")
        if len(text) > _TEXT_LIMIT:
            raise ValueError(f"{name}: at most {_TEXT_LIMIT} characters, got {len(text)}")
        out[name] = text
    if not out:
        raise ValueError(
            "no feedback given: send at least one of thumbs, rating, comment or correction"
        )
    return out


class FeedbackLog:
    def __init__(self, store: Any, rewards: Any = None) -> None:
        from tailorai.feedback.rewards import Rewards

        self.store = store
        self.rewards = rewards or Rewards(store)

    def add(
        self,
        project_id: str,
        generation_id: str,
        *,
        key: str | None = None,
        source: str = "api",
        at: datetime | None = None,
        **values: Any,
    ) -> tuple[dict[str, Any], bool]:
        """Store feedback on `generation_id` (fields as `parse_feedback` takes them); returns
        the row and whether it is new (False: `key` was seen before, nothing changed)."""
        fields = parse_feedback(values)
        with self.store.engine.begin() as connection:
            user = connection.execute(
                select(GenerationRow.user_key).where(
                    GenerationRow.id == generation_id, GenerationRow.project_id == project_id
                )
            ).first()
            if user is None:
                raise UnknownGeneration(
                    f"No generation {generation_id!r} in project {project_id!r}: feedback must "
                    "name the generation_id a generation returned."
                )
            created = self._insert(
                connection,
                [
                    {
                        "project_id": project_id,
                        "generation_id": generation_id,
                        "user_key": user[0],
                        "source": source,
                        "idempotency_key": key,
                        "created_at": at or datetime.now(UTC),
                        **{n: fields.get(n) for n in ("thumbs", "rating", "comment", "correction")},
                    }
                ],
            )
            if created:
                self.rewards.recompute(connection, project_id, {generation_id})
            row = (
                connection.execute(
                    select(*FeedbackRow.__table__.columns)
                    .where(
                        FeedbackRow.project_id == project_id,
                        FeedbackRow.generation_id == generation_id,
                        *([FeedbackRow.idempotency_key == key] if key else []),
                    )
                    .order_by(FeedbackRow.id.desc())
                    .limit(1)
                )
                .mappings()
                .one()
            )
        return dict(row), bool(created)

    def from_events(self, connection: Any, project_id: str, events: list[Any]) -> tuple[int, int]:
        """Feedback events (id, type, event, user, message id, properties, time) as rows in
        `connection`'s transaction; (stored, rejected: an unknown generation or bad values)."""
        wanted = {
            e[5].get("generation_id")
            for e in events
            if isinstance(e[5], dict) and isinstance(e[5].get("generation_id"), str)
        }
        if not wanted:
            return 0, len(events)
        known = {
            generation_id: user
            for generation_id, user, project in connection.execute(
                select(GenerationRow.id, GenerationRow.user_key, GenerationRow.project_id).where(
                    GenerationRow.id.in_(wanted)  # by primary key alone (see Rewards._rows)
                )
            )
            if project == project_id
        }
        rows, rejected = [], 0
        for _, _, _, user, message_id, props, when in events:
            generation_id = props.get("generation_id") if isinstance(props, dict) else None
            if generation_id not in known:
                rejected += 1
                continue
            try:
                fields = parse_feedback(props)
            except ValueError:
                rejected += 1
                continue
            rows.append(
                {
                    "project_id": project_id,
                    "generation_id": generation_id,
                    "user_key": user or known[generation_id],
                    "source": "tracker",
                    "idempotency_key": f"event:{message_id}"[:128],
                    "created_at": when.replace(tzinfo=UTC) if when.tzinfo is None else when,
                    **{n: fields.get(n) for n in ("thumbs", "rating", "comment", "correction")},
                }
            )
        stored = self._insert(connection, rows)
        if stored:
            self.rewards.recompute(connection, project_id, {r["generation_id"] for r in rows})
        return stored, rejected

    def import_file(self, project_id: str, path: Path) -> dict[str, Any]:
        """Feedback from a survey tool's CSV or JSONL export (columns `generation_id`,
        `thumbs`, `rating`, `comment`, `correction`, optionally `id` as the idempotency key).
        Good rows are stored; bad ones are counted with their line and reason."""
        stored = duplicates = 0
        bad: list[dict[str, Any]] = []
        for line, raw in _records(path):
            generation_id = raw.get("generation_id")
            key = raw.get("id") or raw.get("idempotency_key")
            try:
                if not generation_id:
                    raise ValueError("generation_id: missing")
                _, created = self.add(
                    project_id,
                    str(generation_id),
                    key=f"import:{key}" if key else f"import:{path.name}:{line}",
                    source="import",
                    **{n: raw.get(n) for n in ("thumbs", "rating", "comment", "correction")},
                )
            except (ValueError, UnknownGeneration) as exc:
                bad.append({"line": line, "reason": str(exc)})
                continue
            stored += created
            duplicates += not created
        return {"stored": stored, "duplicates": duplicates, "bad": len(bad), "bad_lines": bad}

    def find(
        self,
        project_id: str,
        *,
        generation_id: str | None = None,
        user_id: str | None = None,
        version: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Feedback newest first, each with its generation's model version, segment, rung,
        template version and arm, and the generation's current reward."""
        query = (
            select(
                FeedbackRow.id,
                FeedbackRow.generation_id,
                FeedbackRow.user_key,
                FeedbackRow.thumbs,
                FeedbackRow.rating,
                FeedbackRow.comment,
                FeedbackRow.correction,
                FeedbackRow.source,
                FeedbackRow.created_at,
                GenerationRow.task,
                GenerationRow.model_version,
                GenerationRow.segment,
                GenerationRow.rung,
                GenerationRow.template_version,
                GenerationRow.experiment_arm,
                GenerationRow.output,
                GenerationRewardRow.reward,
            )
            .join(GenerationRow, GenerationRow.id == FeedbackRow.generation_id)
            .outerjoin(
                GenerationRewardRow, GenerationRewardRow.generation_id == FeedbackRow.generation_id
            )
            .where(FeedbackRow.project_id == project_id)
            .order_by(FeedbackRow.id.desc())
            .limit(limit)
        )
        if generation_id:
            query = query.where(FeedbackRow.generation_id == generation_id)
        if user_id:
            query = query.where(FeedbackRow.user_key == user_id)
        if version:
            query = query.where(GenerationRow.model_version == version)
        with self.store.session() as s:
            rows = [dict(r) for r in s.execute(query).mappings()]
        for row in rows:
            created = row["created_at"]
            row["created_at"] = (
                created.replace(tzinfo=UTC) if created.tzinfo is None else created
            ).isoformat()
        return rows

    @staticmethod
    def _insert(connection: Any, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[
            connection.dialect.name
        ](FeedbackRow)
        keyed = [r for r in rows if r["idempotency_key"]]
        plain = [r for r in rows if not r["idempotency_key"]]
        stored = 0
        if keyed:
            result = connection.execute(
                insert.on_conflict_do_nothing(
                    index_elements=["project_id", "idempotency_key"]
                ).returning(FeedbackRow.id),
                keyed,
            )
            stored += len(result.all())
        if plain:
            connection.execute(FeedbackRow.__table__.insert(), plain)
            stored += len(plain)
        return stored


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV or JSONL file; a line that is not JSON is a row with
    nothing in it, so it is reported as bad, not lost."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"Could not read the feedback file {path}: {getattr(exc, 'strerror', None) or exc}. "
            "Pass a CSV or JSONL export with a generation_id column."
        ) from exc
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for line, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                value = {"generation_id": None}
            yield line, value if isinstance(value, dict) else {"generation_id": None}
        return
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "generation_id" not in reader.fieldnames:
        raise DataError(
            f"The feedback file {path} has no generation_id column (columns: "
            f"{', '.join(reader.fieldnames or []) or 'none'}). Export generation_id, thumbs, "
            "rating, comment, correction."
        )
    for row in reader:
        yield reader.line_num, {k: v for k, v in row.items() if k}
