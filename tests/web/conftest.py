"""Fixtures for the web tests: real archive days loaded into the store, and an in-process client at a fixed "today"."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperboy.app import Paperboy
from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from paperboy.store import Store
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
