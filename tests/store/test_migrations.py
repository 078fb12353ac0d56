"""The migrated database matches the table definitions the queries use, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paperboy.store import Store
from paperboy.store.engine import head_revision
from paperboy.store.schema import metadata


def test_migrations_create_exactly_the_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrate_is_idempotent_and_reports_the_head(store: Store) -> None:
    assert store.migrate() == head_revision()
    assert store.migrate() == head_revision()
    assert store.is_current()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    store.migrate()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    with store.engine.connect() as conn, conn.begin():
        try:
            conn.execute(sa.text("INSERT INTO paper_authors (paper_id, position, name) VALUES ('nope', 0, 'x')"))
        except sa.exc.IntegrityError:
            pass
        else:
            raise AssertionError("foreign keys are not enforced")
    store.close()
