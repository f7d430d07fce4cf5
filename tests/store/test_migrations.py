"""The migrations build exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tailorai.store import Store
from tailorai.store.tables import Base


def test_migrations_match_the_models(store_url):
    store = Store(store_url)
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    store.close()
    assert differences == []


def test_rows_made_before_projects_belong_to_the_default_project(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    import tailorai.store.store as store_module

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(store_module._MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            text(
                "INSERT INTO users (id, traits, first_seen, last_seen) "
                "VALUES ('u1', '{}', '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()
    store = Store(url)  # migrates to the newest
    assert store.get_user("u1") is not None  # in the default project
    assert store.get_user("u1", project="shop") is None
    store.upsert_users({"u1": {"plan": "pro"}}, project="shop")  # same id, another project
    assert store.get_user("u1", project="shop").traits == {"plan": "pro"}
    assert store.get_user("u1").traits == {}
    store.close()
