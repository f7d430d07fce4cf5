"""Segmentation versions: fit on every user's features, keep, promote, assign in real time.

`Segmentations.fit` reads the features of all users of a project, fits a `Segmenter`, writes the
fitted model (pickle) and its selection plot under `TAILOR_HOME/segmentations/PROJECT/`, and
registers version N with its names, profiles and scores. `promote` puts a version in production
(one per project) and assigns every user to it; from then on `Assigner` re-assigns each user
whose features change, and every change of segment is stored with its time.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from tailorai.errors import ConfigError, DataError
from tailorai.segments.features import UserFeatures
from tailorai.settings import get_settings
from tailorai.store.tables import SegmentAssignmentRow, SegmentationRow, UserFeatureRow

__all__ = ["Assigner", "SegmentationVersion", "Segmentations"]


@dataclass(frozen=True, slots=True)
class SegmentationVersion:
    id: int
    project_id: str
    version: int
    stage: str
    method: str
    params: dict[str, Any]
    summary: dict[str, Any]
    path: Path
    users: int
    created_at: datetime

    @property
    def names(self) -> dict[int, str]:
        return {int(k): v for k, v in self.summary.get("names", {}).items()}

    def load(self) -> Any:
        """The fitted `Segmenter`."""
        with self.path.open("rb") as f:
            return pickle.load(f)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project_id,
            "version": self.version,
            "stage": self.stage,
            "method": self.method,
            "params": self.params,
            "users": self.users,
            "created_at": self.created_at.isoformat(),
            "path": str(self.path),
            **self.summary,
        }


def _version(row: SegmentationRow) -> SegmentationVersion:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return SegmentationVersion(
        row.id,
        row.project_id,
        row.version,
        row.stage,
        row.method,
        dict(row.params),
        dict(row.summary),
        Path(row.path),
        row.users,
        created,
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


class Segmentations:
    def __init__(self, store: Any, home: Path | None = None) -> None:
        self.store = store
        self.home = Path(home or get_settings().home)

    def user_features(
        self, project_id: str, now: datetime | None = None
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """Every user's id and features as of `now` (default: the time of the newest event)."""
        query = select(UserFeatureRow.user_key, UserFeatureRow.state).where(
            UserFeatureRow.project_id == project_id
        )
        with self.store.session() as s:
            rows = s.execute(query.order_by(UserFeatureRow.user_key)).all()
        states = [UserFeatures.from_dict(state) for _, state in rows]
        moment = now.timestamp() if now else max((st.last_seen for st in states), default=0.0)
        return [user for user, _ in rows], [st.values(moment) for st in states]

    def fit(
        self, project_id: str, *, now: datetime | None = None, **params: Any
    ) -> SegmentationVersion:
        """Fit a `Segmenter(**params)` on the project's users and register it as a candidate."""
        from tailorai.segments.segmenter import Segmenter
        from tailorai.segments.selection import plot_selection

        users, features = self.user_features(project_id, now)
        if len(users) < 3:
            raise DataError(
                f"Project {project_id!r} has {len(users)} users with features; segmenting needs "
                "at least 3. Send events first (tailor events import, or the tracker)."
            )
        segmenter = Segmenter(**params).fit(features)
        with self.store.session() as s:
            version = 1 + (
                s.scalar(
                    select(func.max(SegmentationRow.version)).where(
                        SegmentationRow.project_id == project_id
                    )
                )
                or 0
            )
        folder = self.home / "segmentations" / project_id
        path = folder / f"v{version}.pkl"
        _write_atomically(path, pickle.dumps(segmenter))
        plot_selection(segmenter.selection_, folder / f"v{version}-selection.png")
        sizes = {int(label): int((segmenter.labels_ == label).sum()) for label in segmenter.names_}
        summary = {
            "names": {str(k): v for k, v in segmenter.names_.items()},
            "sizes": {str(k): v for k, v in sizes.items()},
            "profiles": _plain(segmenter.profiles_),
            "selection": _plain(segmenter.selection_),
            "n_clusters": int(segmenter.n_clusters_),
            "features": list(segmenter.feature_names_in_),
        }
        with self.store.session() as s:
            row = SegmentationRow(
                project_id=project_id,
                version=version,
                method=segmenter.method_,
                params=_plain(segmenter.get_params()),
                summary=summary,
                path=str(path),
                users=len(users),
            )
            s.add(row)
            s.flush()
            return _version(row)

    def list(self, project_id: str) -> list[SegmentationVersion]:
        query = (
            select(SegmentationRow)
            .where(SegmentationRow.project_id == project_id)
            .order_by(SegmentationRow.version)
        )
        with self.store.session() as s:
            return [_version(row) for row in s.scalars(query)]

    def get(self, project_id: str, version: int | None = None) -> SegmentationVersion:
        """Version `version`, or the production one (else the newest) when None."""
        versions = self.list(project_id)
        if not versions:
            raise ConfigError(
                f"Project {project_id!r} has no segmentation yet: run `tailor segments fit "
                f"--project {project_id}`."
            )
        if version is None:
            production = [v for v in versions if v.stage == "production"]
            return (production or versions)[-1]
        for candidate in versions:
            if candidate.version == version:
                return candidate
        known = ", ".join(str(v.version) for v in versions)
        raise ConfigError(
            f"No segmentation version {version} in {project_id!r}; there are {known}."
        )

    def production(self, project_id: str) -> SegmentationVersion | None:
        query = select(SegmentationRow).where(
            SegmentationRow.project_id == project_id, SegmentationRow.stage == "production"
        )
        with self.store.session() as s:
            row = s.scalar(query)
            return _version(row) if row else None

    def promote(self, project_id: str, version: int, *, now: datetime | None = None) -> int:
        """Put `version` in production and assign every user to it; users who moved."""
        chosen = self.get(project_id, version)
        segmenter = chosen.load()
        users, features = self.user_features(project_id, now)
        labels = segmenter.predict(features) if users else []
        names = segmenter.names_
        with self.store.session() as s:
            s.execute(
                update(SegmentationRow)
                .where(SegmentationRow.project_id == project_id)
                .where(SegmentationRow.stage == "production")
                .values(stage="archived")
            )
            s.flush()
            s.execute(
                update(SegmentationRow)
                .where(SegmentationRow.id == chosen.id)
                .values(stage="production")
            )
            current = dict(
                s.execute(
                    select(UserFeatureRow.user_key, UserFeatureRow.segment).where(
                        UserFeatureRow.project_id == project_id
                    )
                ).all()
            )
            moved = 0
            for user, label in zip(users, labels, strict=True):
                name = names.get(int(label), "unassigned")
                if current.get(user) != name:
                    moved += 1
                    _record_move(s, project_id, user, name, current.get(user), chosen.id)
        return moved


def _record_move(
    session: Any,  # a Session or a Core connection: both execute statements
    project_id: str,
    user: str,
    segment: str,
    previous: str | None,
    version_id: int,
) -> None:
    session.execute(
        update(UserFeatureRow)
        .where(UserFeatureRow.project_id == project_id, UserFeatureRow.user_key == user)
        .values(segment=segment)
    )
    session.execute(
        insert(SegmentAssignmentRow).values(
            project_id=project_id,
            user_key=user,
            segment=segment,
            previous=previous,
            segmentation_id=version_id,
            assigned_at=datetime.now(UTC),
        )
    )


def _plain(value: Any) -> Any:
    """JSON-safe copies of numpy numbers and containers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


class Assigner:
    """Real-time assignment: a user's segment under the project's production segmentation.

    The production model is cached per project for `ttl` seconds, so a promotion reaches the
    collector within that time."""

    def __init__(self, segmentations: Segmentations, ttl: float = 5.0) -> None:
        self.segmentations = segmentations
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Any, int | None]] = {}
        self._lock = threading.Lock()

    def _model(self, project_id: str) -> tuple[Any, int | None]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(project_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1], hit[2]
        version = self.segmentations.production(project_id)
        model = version.load() if version else None
        with self._lock:
            self._cache[project_id] = (now, model, version.id if version else None)
        return model, version.id if version else None

    def apply(
        self, session: Any, project_id: str, states: dict[str, UserFeatures], current: dict
    ) -> int:
        """Re-assign the users whose `states` just changed; store each move. Moves made."""
        model, version_id = self._model(project_id)
        if model is None or version_id is None:
            return 0
        now = datetime.now(UTC)
        moved = 0
        for user, state in states.items():
            _, name = model.assign_one(state.values(now))
            if current.get(user) != name:
                _record_move(session, project_id, user, name, current.get(user), version_id)
                moved += 1
        return moved
