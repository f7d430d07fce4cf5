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
        # A version promoted twice: promotions point at versions, which SQLite must rebuild.
        for number, stage in ((1, "archived"), (2, "production")):
            connection.execute(
                text(
                    "INSERT INTO model_versions (id, name, version, scope, method, stage, "
                    "base_model, path, config, metrics, lineage, created_at) VALUES "
                    f"({number}, 'demo', {number}, 'global', 'lora', '{stage}', 'b', 'p', "
                    "'{}', '{}', '{}', '2026-01-01')"
                )
            )
        connection.execute(
            text(
                "INSERT INTO model_promotions (scope, version_id, previous_version_id, "
                "promoted_at) VALUES ('global', 2, 1, '2026-01-02')"
            )
        )
    engine.dispose()
    store = Store(url)  # migrates to the newest
    assert store.get_user("u1") is not None  # in the default project
    assert store.get_user("u1", project="shop") is None
    store.upsert_users({"u1": {"plan": "pro"}}, project="shop")  # same id, another project
    assert store.get_user("u1", project="shop").traits == {"plan": "pro"}
    assert store.get_user("u1").traits == {}
    from tailorai.training.registry import Registry

    registry = Registry(store, home=tmp_path)
    assert registry.production("global").ref == "demo@2"
    assert [h["promoted"] for h in registry.history("global")] == ["demo@2"]
    assert registry.rollback("global").ref == "demo@1"  # the promotion still points right
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()
