"""What the system owes the people in it: erasure of a user, and a copy of their data.

`forget_user` removes everything stored about a user of a project, as GDPR's right to erasure
(Art. 17) and Segment's suppression ask: their events (under their id and the anonymous ids
those events link to it), features, traits, segment moves, generations with their feedback,
rewards and review items, fatigue and campaign records, experiment assignments, user adapters
(rows and files), and their rows in the project's datasets on disk (prepared datasets, the
training data of registered versions, the retrain flow's gathered data). It then records a
tombstone, a SHA-256 of the project and id and nothing else, that data preparation and
retraining consult so the user does not come back with the next import (`is_forgotten`,
`forgotten_hashes`).

`export_user` is everything stored about a user, as JSON-ready data (GDPR Art. 15 and 20).

`set_consent` records that a user or browser opted out of tracking (or back in); capture refuses
the events of anyone in `opted_out` (`tracker.js` sends nothing while opted out, or when the
browser sends Global Privacy Control).

>>> report = forget_user(store, "shop", "u42", home=Path(".tailor"))
>>> report.removed["events"]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select

from tailorai.store.tables import (
    CampaignSendRow,
    ConsentRow,
    DatasetRow,
    EventRow,
    ExperimentRow,
    ExperimentUnitRow,
    FatigueEventRow,
    FeedbackRow,
    ForgottenUserRow,
    GenerationRewardRow,
    GenerationRow,
    ModelVersionRow,
    PromotionRow,
    ReviewItemRow,
    SegmentAssignmentRow,
    UserFeatureRow,
    UserRow,
)

__all__ = [
    "Forgotten",
    "export_user",
    "forget_user",
    "forgotten_hashes",
    "is_forgotten",
    "opted_out",
    "set_consent",
    "user_hash",
]


def user_hash(project: str, user_id: str) -> str:
    """The tombstone of a user: their project and id, hashed (the id itself is not kept)."""
    return hashlib.sha256(f"{project}\x00{user_id}".encode()).hexdigest()


def forgotten_hashes(store: Any, project: str) -> set[str]:
    """The tombstones of a project, for checking many users (`user_hash(project, id) in`)."""
    with store.session() as s:
        return set(
            s.scalars(
                select(ForgottenUserRow.user_hash).where(ForgottenUserRow.project_id == project)
            )
        )


def is_forgotten(store: Any, project: str, user_id: str | None) -> bool:
    return bool(user_id) and user_hash(project, str(user_id)) in forgotten_hashes(store, project)


@dataclass
class Forgotten:
    """What `forget_user` removed: rows per table, dataset rows per file, adapters."""

    project: str
    user_id: str
    removed: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)  # dataset file -> rows dropped
    adapters: list[str] = field(default_factory=list)  # version refs whose files were deleted

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "user_id": self.user_id,
            "removed": self.removed,
            "dataset_rows": sum(self.files.values()),
            "files": self.files,
            "adapters": self.adapters,
        }


def _keys(session: Any, project: str, user_id: str) -> list[str]:
    """The user's id and the anonymous ids their events link to it."""
    anonymous = session.scalars(
        select(EventRow.anonymous_id)
        .where(EventRow.project_id == project, EventRow.user_id == user_id)
        .where(EventRow.anonymous_id.is_not(None))
        .distinct()
    )
    return [user_id, *sorted(set(anonymous) - {user_id})]


def forget_user(store: Any, project: str, user_id: str, *, home: Path | None = None) -> Forgotten:
    """Erase `user_id` from `project` everywhere and leave a tombstone (see the module's
    docstring). Forgetting a user twice, or one never seen, removes nothing and is no error."""
    from tailorai.projects import ensure_project

    ensure_project(store, project)  # a user may be suppressed before any of their data arrives
    report = Forgotten(project, user_id)
    removed = report.removed
    with store.session() as s:
        keys = _keys(s, project, user_id)
        generations = list(
            s.scalars(
                select(GenerationRow.id).where(
                    GenerationRow.project_id == project, GenerationRow.user_key.in_(keys)
                )
            )
        )

        def drop(name: str, table: Any, *where: Any) -> None:
            removed[name] = s.execute(delete(table).where(*where)).rowcount or 0

        mine = GenerationRewardRow.generation_id.in_(generations)
        drop("review_items", ReviewItemRow, ReviewItemRow.generation_id.in_(generations))
        drop(
            "feedback",
            FeedbackRow,
            FeedbackRow.project_id == project,
            or_(FeedbackRow.user_key.in_(keys), FeedbackRow.generation_id.in_(generations)),
        )
        drop(
            "generation_rewards",
            GenerationRewardRow,
            GenerationRewardRow.project_id == project,
            or_(GenerationRewardRow.user_key.in_(keys), mine),
        )
        drop("generations", GenerationRow, GenerationRow.id.in_(generations))
        drop(
            "events",
            EventRow,
            EventRow.project_id == project,
            or_(EventRow.user_key.in_(keys), EventRow.user_id == user_id),
        )
        for name, table in (
            ("user_features", UserFeatureRow),
            ("segment_assignments", SegmentAssignmentRow),
            ("fatigue_events", FatigueEventRow),
            ("campaign_sends", CampaignSendRow),
        ):
            drop(name, table, table.project_id == project, table.user_key.in_(keys))
        drop("users", UserRow, UserRow.project_id == project, UserRow.id.in_(keys))
        drop(
            "experiment_units",
            ExperimentUnitRow,
            ExperimentUnitRow.unit.in_(keys),
            ExperimentUnitRow.experiment_id.in_(_experiments(project)),
        )
        adapters = list(
            s.scalars(
                select(ModelVersionRow).where(
                    ModelVersionRow.project_id == project,
                    ModelVersionRow.scope == f"user:{user_id}",
                )
            )
        )
        ids = [v.id for v in adapters]
        s.execute(
            delete(PromotionRow).where(
                or_(PromotionRow.version_id.in_(ids), PromotionRow.previous_version_id.in_(ids))
            )
        )
        for version in adapters:
            report.adapters.append(f"{version.name}@{version.version}")
            shutil.rmtree(version.path, ignore_errors=True)
        drop("model_versions", ModelVersionRow, ModelVersionRow.id.in_(ids))
        folders = _dataset_folders(s, project, home)
        if s.get(ForgottenUserRow, (project, user_hash(project, user_id))) is None:
            s.add(ForgottenUserRow(project_id=project, user_hash=user_hash(project, user_id)))
    for path in _jsonl_files(folders):
        dropped = drop_user_rows(path, set(keys))
        if dropped:
            report.files[str(path)] = dropped
    return report


def _experiments(project: str) -> Any:
    return select(ExperimentRow.id).where(ExperimentRow.project_id == project)


def _dataset_folders(session: Any, project: str, home: Path | None) -> set[Path]:
    """Every folder of the project's training data the store knows of, and the retrain flow's."""
    folders = {Path(p) for p in session.scalars(select(DatasetRow.path).where(
        DatasetRow.project_id == project))}  # fmt: skip
    for lineage in session.scalars(
        select(ModelVersionRow.lineage).where(ModelVersionRow.project_id == project)
    ):
        if (lineage or {}).get("dataset_path"):
            folders.add(Path(lineage["dataset_path"]))
    if home is not None and (home / "retrain" / project).is_dir():
        folders.add(home / "retrain" / project)
    return folders


def _jsonl_files(folders: Iterable[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for folder in folders:
        if folder.is_file() and folder.suffix == ".jsonl":
            candidates: Iterable[Path] = [folder]
        else:
            candidates = folder.rglob("*.jsonl") if folder.is_dir() else []
        for path in candidates:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                yield path


def _row_user(line: str) -> str | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    if not isinstance(row, dict):
        return None
    found = row.get("user_id") or row.get("user_key") or (row.get("meta") or {}).get("user_id")
    return str(found) if found is not None else None


def drop_user_rows(path: Path, users: set[str]) -> int:
    """Rewrite the JSONL file at `path` without the rows of `users` (atomically); how many."""
    kept, dropped = [], 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if _row_user(line) in users:
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        handle, staged = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.writelines(kept)
        os.replace(staged, path)
    return dropped


def export_user(store: Any, project: str, user_id: str) -> dict[str, Any]:
    """Everything stored about `user_id` in `project`, table by table, as JSON-ready data."""
    with store.session() as s:
        keys = _keys(s, project, user_id)

        def rows(table: Any, *where: Any) -> list[dict[str, Any]]:
            found = s.scalars(select(table).where(*where)).all()
            return [_plain(row) for row in found]

        generations = rows(
            GenerationRow, GenerationRow.project_id == project, GenerationRow.user_key.in_(keys)
        )
        ids = [g["id"] for g in generations]
        data: dict[str, Any] = {
            "project": project,
            "user_id": user_id,
            "anonymous_ids": keys[1:],
            "exported_at": datetime.now(UTC).isoformat(),
            "user": rows(UserRow, UserRow.project_id == project, UserRow.id.in_(keys)),
            "features": rows(
                UserFeatureRow,
                UserFeatureRow.project_id == project,
                UserFeatureRow.user_key.in_(keys),
            ),
            "events": rows(
                EventRow,
                EventRow.project_id == project,
                or_(EventRow.user_key.in_(keys), EventRow.user_id == user_id),
            ),
            "segment_history": rows(
                SegmentAssignmentRow,
                SegmentAssignmentRow.project_id == project,
                SegmentAssignmentRow.user_key.in_(keys),
            ),
            "generations": generations,
            "feedback": rows(
                FeedbackRow,
                FeedbackRow.project_id == project,
                or_(FeedbackRow.user_key.in_(keys), FeedbackRow.generation_id.in_(ids)),
            ),
            "review_items": rows(ReviewItemRow, ReviewItemRow.generation_id.in_(ids)),
            "fatigue_events": rows(
                FatigueEventRow,
                FatigueEventRow.project_id == project,
                FatigueEventRow.user_key.in_(keys),
            ),
            "campaign_sends": rows(
                CampaignSendRow,
                CampaignSendRow.project_id == project,
                CampaignSendRow.user_key.in_(keys),
            ),
            "experiment_units": rows(
                ExperimentUnitRow,
                ExperimentUnitRow.unit.in_(keys),
                ExperimentUnitRow.experiment_id.in_(_experiments(project)),
            ),
            "user_adapters": [
                {k: v for k, v in row.items() if k in ("name", "version", "scope", "created_at")}
                for row in rows(
                    ModelVersionRow,
                    ModelVersionRow.project_id == project,
                    ModelVersionRow.scope == f"user:{user_id}",
                )
            ],
        }
    return data


def _plain(row: Any) -> dict[str, Any]:
    out = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def set_consent(store: Any, project: str, keys: Iterable[str], *, opted_out: bool) -> None:
    """Record that the user ids and anonymous ids `keys` opted out of tracking (or back in)."""
    keys = sorted({k for k in keys if k})
    with store.session() as s:
        s.execute(
            delete(ConsentRow).where(
                ConsentRow.project_id == project, ConsentRow.user_key.in_(keys)
            )
        )
        if opted_out:
            s.add_all(ConsentRow(project_id=project, user_key=k) for k in keys)


def opted_out(store: Any, project: str, keys: Iterable[str]) -> set[str]:
    """Which of the user ids and anonymous ids `keys` opted out of tracking."""
    keys = sorted({k for k in keys if k})
    if not keys:
        return set()
    with store.session() as s:
        return set(
            s.scalars(
                select(ConsentRow.user_key).where(
                    ConsentRow.project_id == project, ConsentRow.user_key.in_(keys)
                )
            )
        )
