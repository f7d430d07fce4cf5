"""The human review queue: generations a check flagged wait here for a person.

    queue = ReviewQueue(store, project="shop")
    queue.flag(generation_id, "pii", "an email address in the output")
    queue.pending()                                   # oldest first, with the output
    queue.decide(item_id, "edit", reviewer="alice", revision=1, text="Better reply.")

Any check may flag: offensive language, personal data, a failed bias probe, negative feedback,
an active-learning pick (`flag_from_feedback` takes the negative feedback and corrections at
once). Flagging a generation again adds its reason to the same item. A reviewer (signed in
with their own key, named by it) approves, rejects or edits; each decision is stored with the
reviewer and the time. An edit is also stored as a correction on the generation, so it flows
into `tailor feedback export-pairs` and the retrain flow as a training pair. Every change
bumps the item's `revision`: a decision must name the revision it was made on, so one made on
a stale view is refused (`StaleReview`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from tailorai.errors import ConfigError, DataError
from tailorai.store.tables import GenerationRewardRow, GenerationRow, ReviewItemRow

__all__ = ["ACTIONS", "ReviewQueue", "StaleReview", "UnknownReviewItem"]

ACTIONS = {"approve": "approved", "reject": "rejected", "edit": "edited"}


class UnknownReviewItem(DataError):
    """No such review item in this project."""


class StaleReview(DataError):
    """The item changed since the reviewer saw it."""


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class ReviewQueue:
    def __init__(self, store: Any, *, project: str = "default") -> None:
        self.store = store
        self.project = project

    def flag(self, generation_id: str, source: str, detail: str = "") -> int:
        """Put a generation in the queue (or add a reason to its item); the item's id."""
        reason = {"source": source, "detail": detail, "at": datetime.now(UTC).isoformat()}
        with self.store.engine.begin() as connection:
            owner = connection.execute(
                select(GenerationRow.project_id).where(GenerationRow.id == generation_id)
            ).scalar()
            if owner != self.project:
                raise DataError(
                    f"No generation {generation_id!r} in project {self.project!r} to flag."
                )
            found = connection.execute(
                select(ReviewItemRow.id, ReviewItemRow.reasons).where(
                    ReviewItemRow.project_id == self.project,
                    ReviewItemRow.generation_id == generation_id,
                )
            ).first()
            if found is not None:
                item_id, reasons = found
                if not any(
                    r.get("source") == source and r.get("detail") == detail for r in reasons
                ):
                    connection.execute(
                        update(ReviewItemRow)
                        .where(ReviewItemRow.id == item_id)
                        .values(reasons=[*reasons, reason], revision=ReviewItemRow.revision + 1)
                    )
                return int(item_id)
            insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[
                connection.dialect.name
            ](ReviewItemRow)
            connection.execute(
                insert.on_conflict_do_nothing(index_elements=["project_id", "generation_id"]),
                [
                    {
                        "project_id": self.project,
                        "generation_id": generation_id,
                        "reasons": [reason],
                        "status": "pending",
                        "revision": 1,
                        "created_at": datetime.now(UTC),
                    }
                ],
            )
            return int(
                connection.execute(
                    select(ReviewItemRow.id).where(
                        ReviewItemRow.project_id == self.project,
                        ReviewItemRow.generation_id == generation_id,
                    )
                ).scalar_one()
            )

    def flag_from_feedback(self) -> int:
        """Flag every generation with negative feedback not yet in the queue; how many."""
        with self.store.session() as s:
            negative = list(
                s.scalars(
                    select(GenerationRewardRow.generation_id).where(
                        GenerationRewardRow.project_id == self.project,
                        GenerationRewardRow.negative.is_(True),
                    )
                )
            )
            queued = set(
                s.scalars(
                    select(ReviewItemRow.generation_id).where(
                        ReviewItemRow.project_id == self.project
                    )
                )
            )
        fresh = [g for g in negative if g not in queued]
        for generation_id in fresh:
            self.flag(generation_id, "negative_feedback", "thumbs down, 1-2 stars or corrected")
        return len(fresh)

    def flag_outputs(
        self,
        *,
        since: datetime | None = None,
        detector: Any = None,
        offensive_at: float | None = None,
        leak_types: tuple[str, ...] | None = None,
    ) -> dict[str, int]:
        """Check the project's generations made since `since` (all when None) for offensive
        language and personal data their request did not hold, and flag those; the counts."""
        from tailorai.audit.memorization import LEAK_ENTITIES, leaks, pii_in_outputs
        from tailorai.audit.text_metrics import OFFENSIVE_THRESHOLD, offensive

        leak_types = leak_types or LEAK_ENTITIES
        query = select(GenerationRow.id, GenerationRow.output, GenerationRow.inputs).where(
            GenerationRow.project_id == self.project, ~GenerationRow.task.startswith("audit:")
        )
        if since is not None:
            query = query.where(GenerationRow.created_at >= since)
        with self.store.session() as s:
            rows = [r for r in s.execute(query.order_by(GenerationRow.created_at)) if r.output]
        counts = {"checked": len(rows), "offensive": 0, "pii": 0}
        if not rows:
            return counts
        for row, score in zip(rows, offensive([r.output for r in rows]), strict=True):
            if score >= (OFFENSIVE_THRESHOLD if offensive_at is None else offensive_at):
                self.flag(row.id, "offensive", f"offensive language ({score:.2f})")
                counts["offensive"] += 1
        leaked: dict[int, set[str]] = {}
        findings = pii_in_outputs([r.output for r in rows], detector=detector)
        for finding in leaks(findings, [str(r.inputs or "") for r in rows], leak_types):
            leaked.setdefault(finding.output, set()).add(finding.entity_type)
        for index, types in leaked.items():
            self.flag(
                rows[index].id, "pii", "personal data in the output: " + ", ".join(sorted(types))
            )
        counts["pii"] = len(leaked)
        return counts

    def flag_selected(self, candidates: Any) -> int:
        """Flag active-learning picks (`feedback.select.Candidate`s) with their reasons."""
        count = 0
        for candidate in candidates:
            self.flag(candidate.generation_id, "active_learning", "; ".join(candidate.reasons))
            count += 1
        return count

    def items(
        self, *, status: str | None = "pending", limit: int = 50, item_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Items with their generation's output, user, segment and version, oldest first."""
        query = (
            select(
                ReviewItemRow.id,
                ReviewItemRow.generation_id,
                ReviewItemRow.reasons,
                ReviewItemRow.status,
                ReviewItemRow.revision,
                ReviewItemRow.reviewer,
                ReviewItemRow.edited_output,
                ReviewItemRow.note,
                ReviewItemRow.created_at,
                ReviewItemRow.decided_at,
                GenerationRow.output,
                GenerationRow.user_key,
                GenerationRow.segment,
                GenerationRow.task,
                GenerationRow.model_version,
            )
            .join(GenerationRow, GenerationRow.id == ReviewItemRow.generation_id)
            .where(ReviewItemRow.project_id == self.project)
            .order_by(ReviewItemRow.id)
            .limit(limit)
        )
        if status is not None:
            query = query.where(ReviewItemRow.status == status)
        if item_id is not None:
            query = query.where(ReviewItemRow.id == item_id)
        with self.store.session() as s:
            rows = [dict(r) for r in s.execute(query).mappings()]
        for row in rows:
            for key in ("created_at", "decided_at"):
                row[key] = _utc(row[key]).isoformat() if row[key] else None
        return rows

    def get(self, item_id: int) -> dict[str, Any]:
        found = self.items(status=None, item_id=item_id, limit=1)
        if not found:
            raise UnknownReviewItem(
                f"No review item {item_id} in project {self.project!r}; list them with "
                "GET /v1/review."
            )
        return found[0]

    def decide(
        self,
        item_id: int,
        action: str,
        *,
        reviewer: str,
        revision: int,
        text: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Approve, reject or edit item `item_id` as seen at `revision`; the item after."""
        from tailorai.feedback import FeedbackLog

        if action not in ACTIONS:
            raise ConfigError(f"action must be one of {', '.join(ACTIONS)}; got {action!r}.")
        if action == "edit" and not (text and text.strip()):
            raise ConfigError("An edit needs the corrected text in `text`.")
        item = self.get(item_id)
        with self.store.engine.begin() as connection:
            changed = connection.execute(
                update(ReviewItemRow)
                .where(
                    ReviewItemRow.id == item_id,
                    ReviewItemRow.project_id == self.project,
                    ReviewItemRow.revision == revision,
                )
                .values(
                    status=ACTIONS[action],
                    revision=revision + 1,
                    reviewer=reviewer,
                    edited_output=text if action == "edit" else None,
                    note=note,
                    decided_at=datetime.now(UTC),
                )
            ).rowcount
        if not changed:
            raise StaleReview(
                f"Review item {item_id} is at revision {item['revision']}, not {revision}: "
                f"it changed since you saw it (now {item['status']}"
                + (f" by {item['reviewer']}" if item["reviewer"] else "")
                + "). Reload it and decide again."
            )
        if action == "edit":  # the reviewer's text is a training pair, like a user's correction
            FeedbackLog(self.store).add(
                self.project,
                item["generation_id"],
                correction=text,
                comment=note,
                key=f"review:{item_id}:{revision + 1}",
                source="review",
            )
        return self.get(item_id)
