"""The store on SQLite and on PostgreSQL (when TAILOR_TEST_POSTGRES_URL names one, as in CI)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from tailorai.errors import StoreError
from tailorai.store import Store


def test_migrations_create_the_tables_and_are_idempotent(store_url):
    store = Store(store_url)
    store.migrate()  # a second run changes nothing and does not fail
    tables = set(inspect(store.engine).get_table_names())
    assert {"users", "datasets", "alembic_version"} <= tables
    store.close()


def test_users_are_upserted_with_traits_merged(store_url):
    store = Store(store_url)
    assert store.upsert_users({"u1": {"plan": "pro"}, "u2": {}}) == 2
    first_seen = store.get_user("u1").first_seen
    store.upsert_users({"u1": {"country": "DE"}})
    user = store.get_user("u1")
    assert user.traits == {"plan": "pro", "country": "DE"}
    assert user.first_seen == first_seen
    assert user.last_seen >= first_seen
    assert store.get_user("missing") is None
    store.close()


def test_datasets_round_trip_with_json_fields(store_url):
    store = Store(store_url)
    report = {"records_in": 3, "pii": {"PERSON": 2}, "languages": {"en": 3}}
    store.add_dataset(
        "abc123",
        "/data/x",
        train_examples=5,
        validation_examples=1,
        config={"pii": "placeholder"},
        report=report,
        lineage={"inputs": [{"path": "a"}]},
    )
    store.add_dataset(
        "abc123",
        "/data/y",
        train_examples=5,
        validation_examples=1,
        config={},
        report=report,
        lineage={},
    )
    rows = store.list_datasets()
    assert [r.id for r in rows] == ["abc123"]
    row = store.get_dataset("abc123")
    assert row.path == "/data/y"
    assert row.report["pii"] == {"PERSON": 2}
    store.close()


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


def test_a_bad_url_is_a_store_error():
    with pytest.raises(StoreError, match="Cannot open database"):
        Store("nosuchdialect://x")


def _open_store(url: str, barrier) -> None:
    barrier.wait(timeout=60)  # all processes migrate at the same moment
    Store(url).close()


def test_several_processes_can_open_a_new_database_at_once(store_url):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_open_store, args=(store_url, barrier)) for _ in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    store = Store(store_url)
    assert {"users", "datasets"} <= set(inspect(store.engine).get_table_names())
    store.close()


def test_background_checkpoints_move_the_log_into_the_database(tmp_path):
    import shutil
    import sqlite3
    import time

    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.checkpoint_in_background(every=0.05)
    store.upsert_users({f"u{i}": {"n": i} for i in range(200)})
    time.sleep(0.5)
    # The database file alone, without its write-ahead log, must hold the rows.
    shutil.copy(tmp_path / "w.db", tmp_path / "copy.db")
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT count(*) FROM users").fetchone()[0] == 200
    copy.close()
    store.close()
