"""A page cache for visitors who are not signed in: rendered lists, paper pages and feeds, kept until the store
changes.

Why it is correct: every change a page can show (an ingest, a submission, a vote or un-vote, a comment, its edit,
deletion or hiding, a hidden paper) appends to the store's change log (``paper_changes``) in the same transaction,
so the log's highest seq is a version of everything on the site. An entry is served only while the version it was
rendered at is still current. The version is re-read at most every ``page_cache_seconds`` (changes made by other
processes: ingest runs, other web nodes), and at once after any POST through this process (votes and comments
here show on the next request). Keys also carry the minute on the site's clock, because trending scores and
"today" move with time alone.

What is never cached: requests with a session cookie or an ``Authorization`` header (pages show the user's own
votes and forms with their CSRF token), responses other than 200, and responses that set a cookie. It is plain ASGI
middleware so a hit costs no routing, no template and no database round trip: that is what makes the home and
paper pages fast (see bench/web.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperboy.store.changes import latest_seq
from paperboy.web.site import Site

CACHED_PREFIXES = ("/papers/", "/feeds/")
CACHED_PATHS = ("/", "/about")
MAX_ENTRIES = 2048
MAX_BODY = 2 * 1024 * 1024


@dataclass(slots=True)
class Entry:
    version: int
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    joined: int = 0  # misses that waited for another request's render of the same page instead of rendering


def cacheable(scope: Scope) -> bool:
    """A GET of a public page by a visitor without a session or token."""
    if scope["method"] != "GET":
        return False
    path: str = scope["path"]
    if path not in CACHED_PATHS and not path.startswith(CACHED_PREFIXES):
        return False
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and b"pb_session=" in value):
            return False
    return True


class PageCache:
    """ASGI middleware around the site (see the module docstring)."""

    def __init__(self, app: ASGIApp, site: Site, recheck_seconds: float, owner: Any = None) -> None:
        self.app = app
        if owner is not None:
            owner.state.page_cache = self  # tests and the benchmark read the hit counts
        self.site = site
        self.recheck_seconds = recheck_seconds
        self.entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self.stats = CacheStats()
        self._version = -1
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        # Pages being rendered now. When a key expires (a change, or the minute turns) under load, every client
        # asks for it at once; one renders and the rest wait for its result instead of each rendering the page
        # (50 renders of a list at once stalled every response for a fifth of a second in bench/web.py).
        self._rendering: dict[tuple[Any, ...], asyncio.Event] = {}

    def invalidate(self) -> None:
        """Re-read the store's version before the next page is served from the cache."""
        self._checked_at = float("-inf")

    async def version(self) -> int:
        if time.monotonic() - self._checked_at < self.recheck_seconds:
            return self._version
        async with self._lock:
            if time.monotonic() - self._checked_at >= self.recheck_seconds:
                checked_at = time.monotonic()
                self._version = await anyio.to_thread.run_sync(latest_seq, self.site.store)
                self._checked_at = checked_at
        return self._version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            try:
                await self.app(scope, receive, send)
            finally:
                self.invalidate()  # it may have changed something; the log says what the next request sees
            return
        if not cacheable(scope):
            await self.app(scope, receive, send)
            return
        version = await self.version()
        minute = int(self.site.clock().timestamp() // 60)
        key = (scope["path"], scope["query_string"], minute)
        if await self._serve_kept(key, version, send):
            self.stats.hits += 1
            return
        rendering = self._rendering.get(key)
        if rendering is not None:
            await rendering.wait()
            if await self._serve_kept(key, version, send):
                self.stats.joined += 1
                return
        self.stats.misses += 1
        mine = asyncio.Event()
        self._rendering.setdefault(key, mine)  # if another render is under way (its page was not kept), render too
        try:
            await self._render_and_keep(scope, receive, send, key, version)
        finally:
            if self._rendering.get(key) is mine:
                del self._rendering[key]
            mine.set()

    async def _serve_kept(self, key: tuple[Any, ...], version: int, send: Send) -> bool:
        """Send the kept page for ``key`` if it was rendered at ``version``; False when there is none."""
        entry = self.entries.get(key)
        if entry is None or entry.version != version:
            return False
        self.entries.move_to_end(key)
        await send({"type": "http.response.start", "status": entry.status, "headers": entry.headers})
        await send({"type": "http.response.body", "body": entry.body})
        return True

    async def _render_and_keep(
        self, scope: Scope, receive: Receive, send: Send, key: tuple[Any, ...], version: int
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, keep
            if message["type"] == "http.response.start":
                start = message
                headers = message.get("headers", [])
                if message["status"] != 200 or any(name.lower() == b"set-cookie" for name, _ in headers):
                    keep = False
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
                if sum(len(c) for c in chunks) > MAX_BODY:
                    keep = False
            await send(message)

        await self.app(scope, receive, capture)
        if keep and start is not None:
            self.entries[key] = Entry(version, start["status"], list(start.get("headers", [])), b"".join(chunks))
            self.entries.move_to_end(key)
            while len(self.entries) > MAX_ENTRIES:
                self.entries.popitem(last=False)
