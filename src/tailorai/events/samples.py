"""Real behaviour shipped with the package, as events: MovieLens ratings and tags.

A rating becomes a track event "Movie Rated" and a tag "Movie Tagged", at the time the user did
it, with the movie's genres as `categories` (what features count as preferred categories).
Message ids are derived from the row, so replaying twice stores everything once.

Cite F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and Context", ACM TiiS
5(4), 2015; licence in `assets/samples/movielens/README.txt`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["MOVIELENS", "movielens_events", "replay_movielens"]

MOVIELENS = Path(__file__).resolve().parents[1] / "assets" / "samples" / "movielens"


def _genres(folder: Path) -> dict[str, tuple[str, list[str]]]:
    with (folder / "movies.csv").open(encoding="utf-8", newline="") as f:
        return {
            row["movieId"]: (
                row["title"],
                [g for g in row["genres"].split("|") if g and g != "(no genres listed)"],
            )
            for row in csv.DictReader(f)
        }


def _last_timestamp(folder: Path) -> int:
    last = 0
    for name in ("ratings.csv", "tags.csv"):
        with (folder / name).open(encoding="utf-8", newline="") as f:
            last = max([last, *(int(row["timestamp"]) for row in csv.DictReader(f))])
    return last


def movielens_events(
    folder: Path = MOVIELENS, *, as_of: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Raw events (the shape `/v1/batch` takes), ratings then tags, each in file order.

    `as_of` moves every timestamp by the same amount so that the last event of the data set
    happened then: the users' recency and frequency read as if the data were live (a user who
    stopped rating films years before the others reads as lapsed), where the recorded times,
    1996-2018, make every user years inactive."""
    movies = _genres(folder)
    shift = 0.0 if as_of is None else as_of.timestamp() - _last_timestamp(folder)
    for name, event, value in (
        ("ratings.csv", "Movie Rated", "rating"),
        ("tags.csv", "Movie Tagged", "tag"),
    ):
        with (folder / name).open(encoding="utf-8", newline="") as f:
            for line, row in enumerate(csv.DictReader(f), 2):
                title, genres = movies.get(row["movieId"], ("", []))
                when = datetime.fromtimestamp(int(row["timestamp"]) + shift, UTC)
                yield {
                    "type": "track",
                    "event": event,
                    "userId": f"ml-{row['userId']}",
                    "messageId": f"movielens-{name}-{line}",
                    "timestamp": when.isoformat(),
                    "properties": {
                        "movie_id": row["movieId"],
                        "title": title,
                        "categories": genres,
                        value: float(row[value]) if value == "rating" else row[value],
                    },
                    "context": {"source": "movielens"},
                }


def replay_movielens(
    store: Any, project_id: str = "movielens", *, batch: int = 2000, as_of: datetime | None = None
) -> int:
    """Store the MovieLens events in `project_id` (created when new), with user features as
    they arrive; returns how many were new (replaying again adds none). `as_of`: see
    `movielens_events`."""
    from tailorai.events.schema import parse_event
    from tailorai.events.sql_stream import SqlEventStream
    from tailorai.projects import ensure_project
    from tailorai.segments import FeatureStore

    ensure_project(store, project_id)
    stream, features = SqlEventStream(store), FeatureStore(store)
    received = datetime.now(UTC)
    stored, pending = 0, []

    def flush() -> int:
        result = stream.append(
            project_id,
            pending,
            then=lambda connection, new: features.update(project_id, new, connection=connection),
        )
        pending.clear()
        return result.stored

    for raw in movielens_events(as_of=as_of):
        pending.append(parse_event(raw, received, max_age=None))
        if len(pending) >= batch:
            stored += flush()
    if pending:
        stored += flush()
    return stored
