"""Polite HTTP for network sources: a pause between requests, retries with exponential backoff.

Live ingest and the tests use this same code; tests point the base URLs at a local server that replays the real
recorded responses in ../shared/data and set the pauses to zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from paperboy import __version__
from paperboy.sources.base import SourceError

RETRY_STATUSES = {429, 500, 502, 503, 504}
USER_AGENT = f"paperboy/{__version__} (self-hosted Daily Papers; +https://github.com/paperboy)"


class Fetcher:
    """GETs URLs no faster than one per ``pause`` seconds, retrying transient failures."""

    def __init__(
        self,
        pause: float = 3.0,
        retries: int = 4,
        backoff: float = 2.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pause = pause
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.client = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True)
        self._last_request = 0.0

    @classmethod
    def from_settings(cls, settings: Any) -> Fetcher:
        return cls(
            pause=settings.request_pause_seconds,
            retries=settings.request_retries,
            backoff=settings.request_backoff_seconds,
            timeout=settings.request_timeout_seconds,
        )

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """The response to a GET; 4xx answers other than 429 are returned for the caller to judge."""
        last_problem = ""
        for attempt in range(self.retries + 1):
            wait = self.pause - (time.monotonic() - self._last_request)
            if wait > 0:
                self.sleep(wait)
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            self._last_request = time.monotonic()
            try:
                response = self.client.get(url, params=params)
            except httpx.HTTPError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUSES:
                last_problem = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit() and attempt < self.retries:
                    self.sleep(min(float(retry_after), 120.0))
                continue
            return response
        raise SourceError(f"GET {url} failed after {self.retries + 1} attempts ({last_problem}); try again later")
