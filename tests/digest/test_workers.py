"""Three `paperboy digest run` processes on one PostgreSQL database plan and send one run together: every confirmed
subscriber gets exactly one digest (FOR UPDATE SKIP LOCKED hands each outbox row to one sender)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperboy.digest.run import status
from paperboy.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, need
from tests.digest.sink import running_sink
from tests.digest.test_crash import PAPERBOY, env_for, seed

SUBSCRIBERS = 90


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database whichever database the rest of the suite runs on (this test needs one)."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"paperboy_workers_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        need(False, f"the multi-worker test needs PostgreSQL at {POSTGRES_ADMIN_URL}: {exc}")
    yield sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_three_workers_on_postgresql_send_one_run_without_duplicates(
    tmp_path: Path, shared_data: Path, postgres_database: str
) -> None:
    settings = Settings.load(environ={}, data_dir=tmp_path / "data", database_url=postgres_database)
    pb = seed(settings, shared_data, SUBSCRIBERS)
    command = [*PAPERBOY, "digest", "run", "--period", "daily", "--date", "2024-05-28"]
    with running_sink(delay=0.005) as sink:
        env = env_for(settings, sink.url) | {"PAPERBOY_DIGEST_SMTP_CONNECTIONS": "2"}
        workers = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        for proc in workers:
            _, stderr = proc.communicate(timeout=180)
            assert proc.returncode == 0, stderr
        counts = sink.per_recipient()
        assert sink.duplicates() == []
        assert set(counts) == {f"reader{n}@example.org" for n in range(SUBSCRIBERS)}
        assert set(counts.values()) == {1}
    result = status(pb)
    assert result is not None and (result["planned"], result["sent"], result["pending"]) == (SUBSCRIBERS,) * 2 + (0,)
    pb.close()
