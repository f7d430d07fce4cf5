"""`GenerationLog`: every generation record in the SQL store, by project."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tailorai.records import Generation
from tailorai.store.tables import GenerationRow

__all__ = ["GenerationLog", "new_generation_id"]


def new_generation_id() -> str:
    return uuid.uuid4().hex


def _record(row: GenerationRow) -> Generation:
    created = row.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Generation(
        id=row.id,
        project_id=row.project_id,
        task=row.task,
        rung=row.rung,
        output=row.output,
        backend=row.backend,
        user_id=row.user_key,
        segment=row.segment,
        model_version=row.model_version,
        adapter=row.adapter,
        template_version=row.template_version,
        experiment_arm=row.experiment_arm,
        inputs=dict(row.inputs),
        prompt=list(row.prompt),
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        finish_reason=row.finish_reason,
        latency_ms=row.latency_ms,
        created_at=created,
        mean_logprob=row.mean_logprob,
    )


class GenerationLog:
    def __init__(self, store: Any) -> None:
        self.store = store

    def add(self, record: Generation) -> Generation:
        """Store `record` (its time set now when missing); one row, written at once."""
        self.add_many([record])
        return record

    def add_many(self, records: list[Generation]) -> None:
        """Store many records in one transaction."""
        now = datetime.now(UTC)
        rows = []
        for record in records:
            record.created_at = record.created_at or now
            rows.append(
                {
                    "id": record.id,
                    "project_id": record.project_id,
                    "user_key": record.user_id,
                    "segment": record.segment,
                    "task": record.task,
                    "rung": record.rung,
                    "model_version": record.model_version,
                    "adapter": record.adapter,
                    "template_version": record.template_version,
                    "experiment_arm": record.experiment_arm,
                    "backend": record.backend,
                    "inputs": record.inputs,
                    "prompt": record.prompt,
                    "output": record.output,
                    "prompt_tokens": record.prompt_tokens,
                    "completion_tokens": record.completion_tokens,
                    "finish_reason": record.finish_reason,
                    "latency_ms": record.latency_ms,
                    "mean_logprob": record.mean_logprob,
                    "created_at": record.created_at,
                }
            )
        if rows:
            with self.store.engine.begin() as connection:
                connection.execute(GenerationRow.__table__.insert(), rows)

    def get(self, project_id: str, generation_id: str) -> Generation | None:
        """The record, or None (also for another project's id: ids never cross projects)."""
        with self.store.session() as s:
            row = s.get(GenerationRow, generation_id)
            return _record(row) if row is not None and row.project_id == project_id else None

    def recent(
        self, project_id: str, *, user: str | None = None, limit: int = 50
    ) -> list[Generation]:
        """The newest records first, of one user when `user` is given."""
        query = select(GenerationRow).where(GenerationRow.project_id == project_id)
        if user is not None:
            query = query.where(GenerationRow.user_key == user)
        query = query.order_by(GenerationRow.created_at.desc()).limit(limit)
        with self.store.session() as s:
            return [_record(row) for row in s.scalars(query)]
