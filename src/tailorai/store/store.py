"""`Store`: the one SQL database, SQLite by default and PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tailorai.errors import StoreError
from tailorai.settings import get_settings
from tailorai.store.tables import DEFAULT_PROJECT, DatasetRow, UserRow

__all__ = ["Store"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 7_215_001  # an arbitrary advisory-lock key of our own on PostgreSQL


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the server, reports) work while a writer (the pipeline) commits.
    # busy_timeout first: switching to WAL needs a moment of exclusive access, and another
    # process (a second torchrun worker, the server) may be opening the same file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class Store:
    """Open the database at `url` (default: settings' `database_url`) and migrate it to head.

    >>> store = Store("sqlite://")  # in memory
    >>> store.upsert_users({"u1": {"plan": "pro"}})
    1
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or get_settings().database_url
        try:
            self.engine: Engine = create_engine(self.url, future=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(
                f"Cannot open database {self.url!r}: {exc}. Use a URL such as "
                "sqlite:///./tailor.db or postgresql+psycopg://user@host/db."
            ) from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            database = self.engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent, safe from several processes)."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        sqlite = self.engine.dialect.name == "sqlite"
        try:
            with self._migration_lock(), self.engine.connect() as connection:
                if sqlite:
                    # SQLite rebuilds a table to change its constraints; with foreign keys on,
                    # dropping the old one would break the rows that point at it. SQLite's own
                    # procedure: keys off outside the transaction, checked before commit.
                    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
                    connection.commit()
                try:
                    self._upgrade(connection, config, sqlite)
                finally:
                    if sqlite:
                        connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                        connection.commit()
        except SQLAlchemyError as exc:
            raise StoreError(f"Cannot migrate database {self.url!r}: {exc}") from exc

    def _upgrade(self, connection: Any, config: Config, sqlite: bool) -> None:
        with connection.begin():
            if not sqlite:
                # Held until commit: a second process waits, then finds the schema current.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise StoreError(
                        f"Migrating {self.url!r} would leave rows pointing at nothing "
                        f"({broken[:3]}); nothing was changed."
                    )

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """On a SQLite file, a lock file serializes migrations between processes."""
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise StoreError(f"Database write failed on {self.url!r}: {exc}") from exc

    def upsert_users(
        self,
        users: Mapping[str, Mapping[str, Any]] | Iterable[str],
        *,
        project: str = DEFAULT_PROJECT,
    ) -> int:
        """Record `project`'s users seen in data, merging new traits into known ones. Returns
        rows touched."""
        items = dict(users) if isinstance(users, Mapping) else {u: {} for u in users}
        now = datetime.now(UTC)
        with self.session() as s:
            query = select(UserRow).where(
                UserRow.project_id == project, UserRow.id.in_(list(items))
            )
            known = {row.id: row for row in s.scalars(query)}
            for user_id, traits in items.items():
                row = known.get(user_id)
                if row is None:
                    s.add(
                        UserRow(
                            project_id=project,
                            id=user_id,
                            traits=dict(traits),
                            first_seen=now,
                            last_seen=now,
                        )
                    )
                else:
                    row.traits = {**row.traits, **traits}
                    row.last_seen = now
        return len(items)

    def get_user(self, user_id: str, *, project: str = DEFAULT_PROJECT) -> UserRow | None:
        with self.session() as s:
            return s.get(UserRow, (project, user_id))

    def add_dataset(
        self,
        dataset_id: str,
        path: str,
        *,
        train_examples: int,
        validation_examples: int,
        config: Mapping[str, Any],
        report: Mapping[str, Any],
        lineage: Mapping[str, Any],
        project: str = DEFAULT_PROJECT,
    ) -> DatasetRow:
        """Register a prepared dataset of `project`; the same id (the same files) again updates
        its path, report and project."""
        with self.session() as s:
            row = s.get(DatasetRow, dataset_id) or DatasetRow(id=dataset_id)
            row.project_id = project
            row.path = path
            row.train_examples = train_examples
            row.validation_examples = validation_examples
            row.config = dict(config)
            row.report = dict(report)
            row.lineage = dict(lineage)
            row.created_at = datetime.now(UTC)
            s.add(row)
        return row

    def get_dataset(self, dataset_id: str) -> DatasetRow | None:
        with self.session() as s:
            return s.get(DatasetRow, dataset_id)

    def list_datasets(self) -> list[DatasetRow]:
        with self.session() as s:
            return list(s.scalars(select(DatasetRow).order_by(DatasetRow.created_at.desc())))

    def checkpoint_in_background(self, every: float = 1.0) -> None:
        """SQLite: copy the write-ahead log into the database from a thread of its own.

        By default SQLite checkpoints inside whichever commit crosses 1,000 log pages, and every
        request waiting on that commit waits for the checkpoint too: the server's slowest
        answers. A PASSIVE checkpoint here never blocks writers. No-op on other databases."""
        if self.engine.dialect.name != "sqlite" or getattr(self, "_checkpointer", None):
            return
        event.listen(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()  # pooled connections reopen with the pragma
        self._stop = threading.Event()

        def run() -> None:
            while not self._stop.wait(every):
                with contextlib.suppress(SQLAlchemyError), self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

        self._checkpointer = threading.Thread(target=run, name="tailor-checkpoint", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        if getattr(self, "_checkpointer", None):
            self._stop.set()
            self._checkpointer.join(timeout=5)
        self.engine.dispose()
