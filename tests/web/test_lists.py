"""Weekly and monthly lists (pages and API), the trending page and API order, and the About page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperboy.store import Store
from tests.web.conftest import load_days

Web = Callable[[], TestClient]
WEEK_DAYS = ("2026-08-17", "2026-08-18", "2026-08-19", "2026-08-20", "2026-08-21")  # ISO week 2026-W34


@pytest.fixture
def archive(store: Store, shared_data: Path) -> Path:
    load_days(store, shared_data, "2026-08-14", *WEEK_DAYS)
    return shared_data


def ids(items: list[dict[str, object]]) -> list[str]:
    return [item["paper"]["id"] for item in items]  # type: ignore[index]


def test_the_week_list_holds_each_paper_of_the_week_once(web: Web, store: Store, archive: Path) -> None:
    client = web()
    expected = {lp.paper.id for d in WEEK_DAYS for lp in store.daily_list(date.fromisoformat(d))}
    api = client.get("/api/daily_papers?week=2026-W34&limit=100").json()
    pages = [client.get(f"/api/daily_papers?week=2026-W34&limit=100&p={p}").json() for p in range(1, 5)]
    everything = ids(api) + [pid for page in pages for pid in ids(page)]
    assert len(everything) == len(set(everything)) == len(expected)
    assert set(everything) == expected
    upvotes = [item["paper"]["upvotes"] for item in api]
    assert upvotes == sorted(upvotes, reverse=True)

    html = client.get("/papers/week/2026-W34").text
    assert "Week 34, 2026" in html and f"{len(expected)} papers" in html
    assert 'href="/papers/week/2026-W33" rel="prev"' in html and 'href="/papers/week/2026-W35" rel="next"' in html
    assert 'aria-current="page">Weekly' in html


def test_the_month_list(web: Web, store: Store, archive: Path) -> None:
    client = web()
    total = store.count_listed(date(2026, 8, 1), date(2026, 8, 31))
    assert total == len({lp.paper.id for lp in store.daily_list(date(2026, 8, 1), date(2026, 8, 31))})
    html = client.get("/papers/month/2026-08").text
    assert "August 2026" in html and f"{total} papers" in html
    assert 'href="/papers/month/2026-07" rel="prev"' in html
    assert len(client.get("/api/daily_papers?month=2026-08&limit=100").json()) == min(total, 100)
    assert client.get("/api/daily_papers?month=2026-07").json() == []
    assert client.get("/papers/week").headers["location"] == "/papers/week/2026-W34"
    assert client.get("/papers/month").headers["location"] == "/papers/month/2026-08"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("week=2026-34", "is not an ISO week: use YYYY-Www"),
        ("week=2026-W54", "year 2026 has no week 54"),
        ("month=2026-13", "is not a month: use YYYY-MM"),
        ("month=2026-8", "is not a month"),
        ("date=2026-08-21&week=2026-W34", "give only one of date, week and month"),
        ("sort=hot", "is not a known order"),
    ],
)
def test_bad_week_and_month_parameters(web: Web, query: str, message: str) -> None:
    response = web().get(f"/api/daily_papers?{query}")
    assert response.status_code == 400 and message in response.json()["error"]


@pytest.mark.parametrize("path", ["/papers/week/2026-W99", "/papers/month/2026-00", "/papers/week/x"])
def test_bad_week_and_month_pages(web: Web, path: str) -> None:
    assert web().get(path).status_code == 400


def test_trending_page_and_api(web: Web, store: Store, archive: Path) -> None:
    client = web()
    html = client.get("/papers/trending").text
    assert "Trending" in html and 'href="/about#trending"' in html
    scores = [float(s) for s in re.findall(r'class="score"[^>]*>score ([0-9.e+-]+)<', html)]
    assert scores and scores == sorted(scores, reverse=True)
    api = client.get("/api/daily_papers?week=2026-W34&sort=trending&limit=10").json()
    assert len(api) == 10
    about = client.get("/about").text
    assert "(upvotes + 2.0 \N{MULTIPLICATION SIGN} comments) / (age in hours + 2)<sup>1.8</sup>" in about


def test_the_trending_settings_change_the_explanation(web: Web, paperboy: object) -> None:
    paperboy.settings = paperboy.settings.replace(trending_gravity=1.5, trending_comments_weight=3)  # type: ignore[attr-defined]
    assert (
        "(upvotes + 3.0 \N{MULTIPLICATION SIGN} comments) / (age in hours + 2)<sup>1.5</sup>"
        in web().get("/about").text
    )
