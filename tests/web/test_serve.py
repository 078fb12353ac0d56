"""`paperboy serve` for real: a subprocess on a free port, on the test database, answering over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from paperboy.store import Store
from tests.web.conftest import archive_file, load_days, original_items

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-08-21"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(base: str, server: subprocess.Popen[bytes], attempts: int = 150) -> httpx.Response:
    """Poll /healthz (bounded: ``attempts`` tries 0.2 s apart) until the server answers or exits."""
    for _ in range(attempts):
        if server.poll() is not None:
            break
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    output = server.stdout.read().decode(errors="replace") if server.poll() is not None and server.stdout else ""
    raise AssertionError(f"paperboy serve did not become healthy (exit status {server.poll()}): {output}")


def test_paperboy_serve_answers_pages_and_api(
    store: Store, shared_data: Path, database_url: str, tmp_path: Path
) -> None:
    load_days(store, shared_data, DAY)
    port = free_port()
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_DATA_DIR": str(tmp_path / "data"),
        "PAPERBOY_CONFIG": "",
        "PAPERBOY_EMBED_IN_BACKGROUND": "false",  # no model export in a server the test stops seconds later
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "paperboy.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_until_healthy(base, server)
        expected = original_items(archive_file(shared_data, DAY))
        assert health.json() == {"status": "ok", "papers": len(expected)}
        home = httpx.get(f"{base}/", timeout=10)
        assert home.status_code == 200
        assert "paperboy" in home.text and "Friday, 21 August 2026" in home.text
        api = httpx.get(f"{base}/api/daily_papers", timeout=10)
        assert api.status_code == 200
        assert {item["paper"]["id"] for item in api.json()} == {item["paper"]["id"] for item in expected}
        bad = httpx.get(f"{base}/api/daily_papers?limit=1000", timeout=10)
        assert bad.status_code == 400 and "limit=1000" in bad.json()["error"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
