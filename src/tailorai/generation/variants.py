"""Pre-generated variants: each segment's content made ahead of time, served in milliseconds.

`build` generates a task's content once per segment of the production segmentation (and once
for "default", anyone else) through the `Personalizer`, so each variant is a generation record
on its segment's rung and prompt. `get` answers a user with their segment's variant, else the
default one, from memory: no model runs and no database is read on the hot path once warm.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from tailorai.store.tables import VariantRow

__all__ = ["DEFAULT_SEGMENT", "Variants"]

DEFAULT_SEGMENT = "default"


class Variants:
    def __init__(self, store: Any, features: Any, *, ttl: float = 30.0) -> None:
        self.store = store
        self.features = features
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, dict[str, tuple[str, str]]]] = {}
        self._lock = threading.Lock()

    def build(
        self,
        personalizer: Any,
        task: str,
        inputs: Mapping[str, Any],
        *,
        segments: list[str],
        name: str | None = None,
    ) -> dict[str, Any]:
        """Generate and keep `name`'s (default: the task's) variant for each segment."""
        name = name or task
        made = {}
        for segment in [*dict.fromkeys(segments), DEFAULT_SEGMENT]:
            made[segment] = personalizer.generate(
                None, task, inputs, segment=None if segment == DEFAULT_SEGMENT else segment
            )
        rows = [
            {
                "project_id": personalizer.project,
                "name": name,
                "segment": segment,
                "task": task,
                "generation_id": record.id,
                "output": record.output,
                "created_at": datetime.now(UTC),
            }
            for segment, record in made.items()
        ]
        with self.store.engine.begin() as connection:
            insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[
                connection.dialect.name
            ](VariantRow)
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["project_id", "name", "segment"],
                    set_={
                        key: insert.excluded[key]
                        for key in ("task", "generation_id", "output", "created_at")
                    },
                ),
                rows,
            )
        with self._lock:
            self._cache.pop((personalizer.project, name), None)
        return made

    def _variants(self, project_id: str, name: str) -> dict[str, tuple[str, str]]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((project_id, name))
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        query = select(VariantRow.segment, VariantRow.output, VariantRow.generation_id).where(
            VariantRow.project_id == project_id, VariantRow.name == name
        )
        with self.store.session() as s:
            found = {segment: (output, gid) for segment, output, gid in s.execute(query)}
        with self._lock:
            self._cache[(project_id, name)] = (now, found)
        return found

    def get(self, project_id: str, name: str, user_id: str | None = None) -> dict[str, Any] | None:
        """The variant for `user_id`'s segment (else the default one), or None when `name`
        was never built."""
        variants = self._variants(project_id, name)
        if not variants:
            return None
        record = self.features.get(project_id, user_id) if user_id else None
        segment = record.segment if record is not None and record.segment in variants else None
        chosen = segment or DEFAULT_SEGMENT
        output, generation_id = variants.get(chosen, variants.get(DEFAULT_SEGMENT, ("", "")))
        return {
            "name": name,
            "segment": chosen,
            "output": output,
            "generation_id": generation_id,
        }

    def names(self, project_id: str) -> list[str]:
        query = select(VariantRow.name).where(VariantRow.project_id == project_id).distinct()
        with self.store.session() as s:
            return sorted(s.scalars(query))
