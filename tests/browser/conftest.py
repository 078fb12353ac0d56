"""Browser tests: Debian's headless Chromium (``/usr/bin/chromium``, installed by ``make test``) driven by
Playwright against ``paperboy serve`` running as a subprocess on a free port, mailing to the aiosmtpd fixture and
fetching arXiv metadata from a local replay of the recorded arXiv responses. Playwright's own browser downloads are
never used. Without Chromium these tests skip on a user's machine and fail in CI (``need``)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperboy.app import Paperboy
from tests.conftest import REPO, need
from tests.smtp import SmtpServer
from tests.sources.test_arxiv_api import Replay
from tests.web.conftest import load_days
from tests.web.live import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAYS = ("2026-08-20", "2026-08-21")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser per test module: Playwright's sync API keeps an event loop running in the main thread while it
    is open, which would break later tests of the session that call ``asyncio.run`` (tests/web)."""
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site_port() -> int:
    return free_port()


@pytest.fixture
def site_env(
    paperboy: Paperboy, shared_data: Path, smtp_server: SmtpServer, http_server: Any, tmp_path: Path, site_port: int
) -> dict[str, str]:
    """The environment of ``paperboy serve``; other ``paperboy`` commands a test runs (``digest run``) share it, so
    they see the same database, mail server, public URL and secret key (the key signs the links in mails)."""
    replay = Replay(http_server, shared_data)
    base = f"http://127.0.0.1:{site_port}"
    return os.environ | {
        "PAPERBOY_DATABASE_URL": paperboy.settings.resolved_database_url,
        "PAPERBOY_DATA_DIR": str(tmp_path / "serve"),
        "PAPERBOY_SMTP_URL": smtp_server.url,
        "PAPERBOY_ARXIV_API_URL": replay.base_url,
        "PAPERBOY_PUBLIC_URL": base,
        "PAPERBOY_EMBED_IN_BACKGROUND": "false",
        "PAPERBOY_REQUEST_PAUSE_SECONDS": "0",
        "PAPERBOY_SECRET_KEY": "browser-tests",
    }


@pytest.fixture
def site(paperboy: Paperboy, shared_data: Path, site_env: dict[str, str], site_port: int) -> Iterator[str]:
    """``paperboy serve`` on a free port over the test database, loaded with real archive days."""
    load_days(paperboy.store, shared_data, *DAYS)
    base = site_env["PAPERBOY_PUBLIC_URL"]
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "paperboy"), "serve", "--port", str(site_port)],
        env=site_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            __import__("time").sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(10)
