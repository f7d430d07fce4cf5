"""The shipped MovieLens behaviour, as events."""

from __future__ import annotations

from datetime import UTC, datetime

from tailorai.events import parse_event
from tailorai.events.samples import movielens_events


def test_movielens_ratings_and_tags_become_valid_events():
    raws = list(movielens_events())
    assert len(raws) == 100_836 + 3_683
    assert len({r["messageId"] for r in raws}) == len(raws)
    assert len({r["userId"] for r in raws}) == 610
    first = parse_event(raws[0], datetime.now(UTC), max_age=None)
    assert first.event == "Movie Rated" and first.user_id == "ml-1"
    assert first.properties["rating"] == 4.0 and "Comedy" in first.properties["categories"]
    assert first.timestamp.year == 2000 and first.flags == []
    tag = parse_event(raws[-1], datetime.now(UTC), max_age=None)
    assert tag.event == "Movie Tagged" and isinstance(tag.properties["tag"], str)


def test_as_of_moves_every_event_by_one_amount_so_the_last_happens_then():
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    recorded = list(movielens_events())
    live = list(movielens_events(as_of=now))
    times = [datetime.fromisoformat(r["timestamp"]) for r in live]
    assert max(times) == now
    shift = times[0] - datetime.fromisoformat(recorded[0]["timestamp"])
    assert all(
        datetime.fromisoformat(b["timestamp"]) - datetime.fromisoformat(a["timestamp"]) == shift
        for a, b in zip(recorded[::997], live[::997], strict=True)
    )
