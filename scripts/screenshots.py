"""Screenshots of the main pages at desktop (1280 px) and phone (390 px) width, for docs/screenshots/.

Run after changing templates or styles: ``.venv/bin/python scripts/screenshots.py``. It loads the latest real
archive days from ../shared/data into a throwaway SQLite store, adds a comment and a vote by a sample member,
serves it with ``paperboy serve`` and photographs it with Debian's Chromium through Playwright (never a downloaded
browser). Not part of the test suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from paperboy.app import Paperboy  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.sources import hf_daily  # noqa: E402
from paperboy.sources.base import ingest  # noqa: E402
from paperboy.store import accounts, community  # noqa: E402

ARCHIVE = REPO.parent / "shared" / "data" / "hf_daily_papers" / "raw"
OUT = REPO / "docs" / "screenshots"
DAYS = ("2026-08-19", "2026-08-20", "2026-08-21")
WIDTHS = {"desktop": 1280, "phone": 390}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def prepare(data_dir: Path) -> tuple[str, str, str]:
    """The store; returns (a paper id, the sample member's handle, their session id)."""
    pb = Paperboy(Settings.load(environ={}, data_dir=data_dir, embed_in_background=False))
    pb.store.migrate()
    for day in DAYS:
        path = ARCHIVE / f"{day}.json"
        ingest(pb.store, hf_daily.read_path(path), hf_daily.NAME, str(path))
    now = datetime.now(UTC)
    pid = pb.store.daily_list(pb.store.latest_day() or now.date(), limit=1)[0].paper.id
    user = accounts.get_or_create_user(pb.store, "ada@example.org", now)
    accounts.set_display_name(pb.store, user.id, "Ada L.")
    community.vote(pb.store, user.id, pid, now)
    community.add_comment(
        pb.store, pid, user.id, "The bound in §3 is neat: $O(n \\log n)$ with **no** extra memory.", now
    )
    session = accounts.create_session(pb.store, user.id, now, timedelta(days=1))
    pb.search.search("agents", limit=1, semantic=False)  # build the lexical index before serving
    pb.close()
    return pid, user.handle, session


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperboy-shots-") as tmp:
        pid, handle, session = prepare(Path(tmp))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        env = os.environ | {"PAPERBOY_DATA_DIR": tmp, "PAPERBOY_EMBED_IN_BACKGROUND": "false"}
        server = subprocess.Popen([str(REPO / ".venv" / "bin" / "paperboy"), "serve", "--port", str(port)], env=env)
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            pages = {
                "home": "/",
                "paper": f"/papers/{pid}",
                "search": "/search?q=agent+benchmark",
                "trending": "/papers/trending",
                "sign-in": "/sign-in",
                "profile": f"/u/{handle}",
            }
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                for size, width in WIDTHS.items():
                    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
                    for name, path in pages.items():
                        if name == "profile":
                            context.add_cookies([{"name": "pb_session", "value": session, "url": base}])
                        page = context.new_page()
                        page.goto(base + path)
                        page.screenshot(path=str(OUT / f"{name}-{size}.png"), full_page=False)
                        page.close()
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
