"""Fixtures for the web tests: real archive days loaded into the store, and an in-process client at a fixed "today"."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperboy.app import Paperboy
from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from paperboy.store import Store, accounts
from paperboy.web.app import create_app

ClientAt = Callable[[date], TestClient]


def archive_file(shared_data: Path, day: str) -> Path:
    return shared_data / "hf_daily_papers" / "raw" / f"{day}.json"


def original_items(path: Path) -> list[dict[str, Any]]:
    """The items of an archived HF response as HF sent them, whichever of the archive's three shapes it has."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data["data"]
    return [ast.literal_eval(item) if isinstance(item, str) else item for item in data]


def load_days(store: Store, shared_data: Path, *days: str) -> None:
    for day in days:
        path = archive_file(shared_data, day)
        report = ingest(store, hf_daily.read_path(path), hf_daily.NAME, str(path))
        assert report.skipped == [], report.skipped


@pytest.fixture
def client_at(paperboy: Paperboy) -> ClientAt:
    """An in-process client of the site whose clock says it is noon UTC on the given day."""

    def make(today: date) -> TestClient:
        now = datetime.combine(today, time(12), UTC)
        return TestClient(create_app(paperboy, clock=lambda: now), follow_redirects=False)

    return make


# -- accounts: signed-in clients and CSRF tokens --------------------------------------------------------------------

CSRF_VALUE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_VALUE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


class Clock:
    """A settable clock for the app: tests move time forward (link expiry, rate-limit windows, trending)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    @staticmethod
    def now_utc() -> datetime:
        return datetime.now(UTC)


def sign_in(client: TestClient, store: Store, email: str, role: str = "member") -> accounts.User:
    """Sign ``client`` in as ``email`` without the mail round trip (tests/web/test_accounts.py covers that)."""
    now = datetime.now(UTC)
    user = accounts.get_or_create_user(store, email, now)
    if role != "member":
        user = accounts.set_role(store, email, role) or user
    session_id = accounts.create_session(store, user.id, now, timedelta(days=1))
    client.cookies.set("pb_session", session_id)
    return user


def form_token(client: TestClient, path: str = "/settings") -> str:
    """The CSRF token of the client's current session, read from a page's form."""
    return csrf_from(client.get(path).text)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 8, 21, 12, tzinfo=UTC))


@pytest.fixture
def web(paperboy: Paperboy, clock: Clock) -> Callable[[], TestClient]:
    """New in-process clients (each with its own cookies) of one app whose clock the test controls."""
    app = create_app(paperboy, clock=clock)

    def make() -> TestClient:
        return TestClient(app, follow_redirects=False)

    return make
