"""`GET /api/daily_papers` against the real HF archive: what went in comes back in HF's own shape."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from paperboy.sources.base import clean_text
from paperboy.store import Store
from tests.web.conftest import ClientAt, archive_file, load_days, original_items

# A plain list (the archive's first day), a list of repr strings, the {"data": ...} wrapper, and the latest day.
DAYS = ("2024-05-27", "2024-12-11", "2025-01-10", "2026-08-21")
HF_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LATER = date(2026, 12, 1)  # "today" for the tests: after every archived day


@pytest.fixture
def archive(store: Store, shared_data: Path) -> Path:
    ids = [item["paper"]["id"] for day in DAYS for item in original_items(archive_file(shared_data, day))]
    assert len(ids) == len(set(ids)), "the chosen days must not share papers, or later counts replace earlier ones"
    load_days(store, shared_data, *DAYS)
    return shared_data


@pytest.mark.parametrize("day", DAYS)
def test_a_day_comes_back_as_hf_sent_it(client_at: ClientAt, archive: Path, day: str) -> None:
    original = {item["paper"]["id"]: item for item in original_items(archive_file(archive, day))}
    response = client_at(LATER).get("/api/daily_papers", params={"date": day, "limit": 100})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    items = response.json()
    assert {item["paper"]["id"] for item in items} == set(original)
    upvotes = [item["paper"]["upvotes"] for item in items]
    assert upvotes == sorted(upvotes, reverse=True)
    for item in items:
        paper = item["paper"]
        want = original[paper["id"]]
        want_paper = want["paper"]
        assert paper["title"] == item["title"] == clean_text(want_paper["title"])
        assert paper["summary"] == item["summary"] == clean_text(want_paper["summary"])
        assert paper["upvotes"] == want_paper["upvotes"]
        assert item["numComments"] == want["numComments"]
        for key in ("githubRepo", "githubStars", "projectPage", "ai_summary", "ai_keywords"):
            assert paper.get(key) == want_paper.get(key), key
        assert [a["name"] for a in paper["authors"]] == [a["name"] for a in want_paper["authors"]]
        assert paper["publishedAt"] == want_paper["publishedAt"]
        # Early archive days lack submittedOnDailyAt: the list's own day stands in for it.
        assert paper["submittedOnDailyAt"] == want_paper.get("submittedOnDailyAt", f"{day}T00:00:00.000Z")
        assert HF_TIME.match(item["publishedAt"]) and HF_TIME.match(paper["submittedOnDailyAt"])
        if want.get("submittedBy"):
            assert item["submittedBy"]["name"] == want["submittedBy"]["name"]
            assert paper["submittedOnDailyBy"] == item["submittedBy"]
        else:
            assert item["submittedBy"] is None


def test_without_a_date_the_latest_day_is_served(client_at: ClientAt, archive: Path) -> None:
    items = client_at(LATER).get("/api/daily_papers").json()
    latest = {item["paper"]["id"] for item in original_items(archive_file(archive, "2026-08-21"))}
    assert {item["paper"]["id"] for item in items} == latest
    # On an archived day, "today" is that day even though later days exist.
    items = client_at(date(2025, 1, 10)).get("/api/daily_papers").json()
    assert {item["paper"]["id"] for item in items} == {
        item["paper"]["id"] for item in original_items(archive_file(archive, "2025-01-10"))
    }


def test_pages_split_the_list_without_gaps_or_repeats(client_at: ClientAt, archive: Path) -> None:
    client = client_at(LATER)
    whole = [item["paper"]["id"] for item in client.get("/api/daily_papers?date=2026-08-21").json()]
    assert len(whole) == 17
    pages = [client.get(f"/api/daily_papers?date=2026-08-21&limit=5&p={p}").json() for p in range(4)]
    assert [len(page) for page in pages] == [5, 5, 5, 2]
    assert [item["paper"]["id"] for page in pages for item in page] == whole
    assert client.get("/api/daily_papers?date=2026-08-21&limit=5&p=4").json() == []


def test_both_sorts_and_a_submitter_filter(client_at: ClientAt, archive: Path) -> None:
    client = client_at(LATER)
    default = client.get("/api/daily_papers?date=2026-08-21").json()
    assert client.get("/api/daily_papers?date=2026-08-21&sort=publishedAt").json() == default
    trending = client.get("/api/daily_papers?date=2026-08-21&sort=trending").json()
    assert sorted(trending, key=lambda item: item["paper"]["id"]) == sorted(default, key=lambda i: i["paper"]["id"])
    name = default[0]["submittedBy"]["name"]
    mine = client.get("/api/daily_papers", params={"date": "2026-08-21", "submitter": name}).json()
    assert mine and all(item["submittedBy"]["name"] == name for item in mine)
    assert len(mine) == sum(1 for item in default if item["submittedBy"]["name"] == name)


def test_a_day_without_papers_is_an_empty_list(client_at: ClientAt, archive: Path) -> None:
    assert client_at(LATER).get("/api/daily_papers?date=2026-08-22").json() == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2024-02-30", "date='2024-02-30' is not a day of the calendar: check the month and day"),
        ("date=2024-13-01", "date='2024-13-01' is not a day of the calendar"),
        ("date=yesterday", "date='yesterday' is not a date: use YYYY-MM-DD"),
        ("date=2024-5-27", "date='2024-5-27' is not a date: use YYYY-MM-DD"),
        ("date=", "date='' is not a date: use YYYY-MM-DD"),
        ("p=-1", "p=-1 is out of range: use a whole number 0 or more"),
        ("p=first", "p='first' is not a whole number"),
        ("limit=0", "limit=0 is out of range: use a whole number from 1 to 100"),
        ("limit=1000", "limit=1000 is out of range: use a whole number from 1 to 100"),
        ("limit=ten", "limit='ten' is not a whole number"),
        ("sort=newest", "sort='newest' is not a known order: use one of publishedAt, trending"),
    ],
)
def test_bad_parameters_answer_400_with_a_reason(client_at: ClientAt, archive: Path, query: str, message: str) -> None:
    response = client_at(LATER).get(f"/api/daily_papers?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_healthz_counts_papers(client_at: ClientAt, archive: Path) -> None:
    total = sum(len(original_items(archive_file(archive, day))) for day in DAYS)
    assert client_at(LATER).get("/healthz").json() == {"status": "ok", "papers": total}


def test_healthz_on_an_empty_store(client_at: ClientAt) -> None:
    assert client_at(LATER).get("/healthz").json() == {"status": "ok", "papers": 0}
    assert client_at(LATER).get("/api/daily_papers").json() == []


def test_unknown_api_paths_and_methods_answer_json(client_at: ClientAt) -> None:
    client = client_at(LATER)
    missing = client.get("/api/daily_paper")
    assert missing.status_code == 404
    assert "/api/daily_paper" in missing.json()["error"]
    wrong = client.post("/api/daily_papers")
    assert wrong.status_code == 405
    assert "GET" in wrong.json()["error"]


def test_the_api_is_described_in_openapi(client_at: ClientAt) -> None:
    schema = client_at(LATER).get("/openapi.json").json()
    params = {p["name"] for p in schema["paths"]["/api/daily_papers"]["get"]["parameters"]}
    assert params == {"date", "p", "limit", "sort", "submitter", "week", "month"}
    assert "/" not in schema["paths"]  # pages are not API
