"""Shared fixtures: a real store on SQLite or PostgreSQL, the shared data folder, a local HTTP server.

``PAPERBOY_TEST_DATABASE=postgres`` runs every store-backed test on PostgreSQL (127.0.0.1:5432 by default,
``PAPERBOY_TEST_POSTGRES_URL`` to change): one throwaway database per test run, emptied between tests, dropped at
the end. Anything else runs on SQLite files under pytest's tmp_path. With ``CI=true`` nothing skips.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from paperboy.app import Paperboy
from paperboy.settings import Settings
from paperboy.store import Store
from paperboy.store.schema import metadata

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE = os.environ.get("PAPERBOY_TEST_DATABASE", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of PostgreSQL-only behaviour run in the PostgreSQL pass of `make test` and are deselected (not
    skipped) in the SQLite pass, so `CI=true` runs can insist that nothing skips."""
    if TEST_DATABASE == "postgres":
        return
    keep = [item for item in items if item.get_closest_marker("postgres_only") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


def need(condition: bool, why: str) -> None:
    """Skip when a real component is missing on a user's machine; in CI, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI=true: nothing may skip)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    need(SHARED_DATA.is_dir(), f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A throwaway PostgreSQL database for this test run, migrated once; None when testing on SQLite."""
    if TEST_DATABASE != "postgres":
        yield None
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"paperboy_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        need(False, f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    store.migrate()
    store.close()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path, postgres_url: str | None) -> Iterator[str]:
    """An empty, migrated database for one test."""
    if postgres_url is None:
        url = f"sqlite:///{tmp_path / 'paperboy.db'}"
        store = Store(url)
        store.migrate()
        store.close()
        yield url
        return
    yield postgres_url
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.load(
        environ={},
        data_dir=tmp_path / "data",
        database_url=database_url,
        request_pause_seconds=0,
        request_backoff_seconds=0,
        # A web test's search request would start the background embedder: a model export in a thread that
        # outlives the test and its data dir. Embedding is tested directly (tests/index/test_hybrid.py).
        embed_in_background=False,
    )


@pytest.fixture
def paperboy(settings: Settings) -> Iterator[Paperboy]:
    app = Paperboy(settings)
    yield app
    app.close()


@pytest.fixture
def store(paperboy: Paperboy) -> Store:
    return paperboy.store


# -- a local HTTP server that replays recorded responses --------------------------------------------------------

Response = tuple[int, bytes, str]  # status, body, content type
Handler = Callable[[str, dict[str, str]], Response]


@dataclass
class LocalServer:
    """Routes a path to a handler(path, query) -> (status, body, content type); records every request."""

    url: str = ""
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    server_state = LocalServer()

    class RequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            server_state.requests.append((parts.path, query))
            handler = server_state.routes.get(parts.path)
            if handler is None:
                status, body, ctype = 404, b"not found", "text/plain"
            else:
                status, body, ctype = handler(parts.path, query)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()
from tests.smtp import smtp_server  # noqa: E402, F401  (at the end: tests.smtp imports from here)
