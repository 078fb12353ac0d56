"""The HTML pages: the daily list (home and any day), a paper's page, errors, escaping, pagination."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from paperboy.app import Paperboy
from paperboy.domain import DailyEntry, Paper, Record
from paperboy.sources.base import clean_text
from paperboy.store import Store
from paperboy.web.app import create_app
from tests.web.conftest import ClientAt, archive_file, load_days, original_items

# Friday, then Monday and Tuesday: the weekend between has no papers.
DAYS = ("2026-08-14", "2026-08-17", "2026-08-18")
LATER = date(2026, 12, 1)


@pytest.fixture
def archive(store: Store, shared_data: Path) -> Path:
    load_days(store, shared_data, *DAYS)
    return shared_data


def esc(text: str) -> str:
    """Text as the templates write it (Jinja autoescape)."""
    return str(escape(text))


def titles_in_order(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title" id="title-\d+"><a href="[^"]+">([^<]+)</a>', html)


def test_home_shows_today_when_today_has_papers(client_at: ClientAt, archive: Path) -> None:
    html = client_at(date(2026, 8, 17)).get("/").text
    assert "Monday, 17 August 2026" in html
    assert "Today" in html
    assert "No papers yet today" not in html
    items = original_items(archive_file(archive, "2026-08-17"))
    assert len(titles_in_order(html)) == len(items)


def test_home_shows_the_latest_day_when_today_is_empty(client_at: ClientAt, archive: Path) -> None:
    response = client_at(LATER).get("/")
    assert response.status_code == 200
    html = response.text
    assert "Tuesday, 18 August 2026" in html
    assert "No papers yet today (Tue 1 Dec 2026). Showing the latest list." in html
    items = sorted(original_items(archive_file(archive, "2026-08-18")), key=lambda i: -i["paper"]["upvotes"])
    shown = titles_in_order(html)
    assert len(shown) == len(items)
    assert shown[0] == esc(clean_text(items[0]["paper"]["title"]))
    assert 'href="/papers/date/2026-08-17" rel="prev"' in html
    assert "No later day" in html


def test_home_in_the_sites_time_zone(paperboy: Paperboy, archive: Path) -> None:
    """At 23:00 UTC on Monday it is already Tuesday in Tokyo: the Tokyo site shows Tuesday's list as today's."""
    paperboy.settings = paperboy.settings.replace(timezone="Asia/Tokyo")
    now = datetime(2026, 8, 17, 23, 0, tzinfo=UTC)
    html = TestClient(create_app(paperboy, clock=lambda: now)).get("/").text
    assert "Tuesday, 18 August 2026" in html and "No papers yet today" not in html


def test_a_day_page_links_the_days_before_and_after(client_at: ClientAt, archive: Path) -> None:
    html = client_at(LATER).get("/papers/date/2026-08-17").text
    assert "Monday, 17 August 2026" in html
    assert 'href="/papers/date/2026-08-14" rel="prev"' in html
    assert 'href="/papers/date/2026-08-18" rel="next"' in html
    assert "No papers yet today" not in html  # that note belongs to the home page only
    first = client_at(LATER).get("/papers/date/2026-08-14").text
    assert "No earlier day" in first


def test_an_empty_day_says_so_and_links_the_nearest_days(client_at: ClientAt, archive: Path) -> None:
    response = client_at(LATER).get("/papers/date/2026-08-15")
    assert response.status_code == 200
    html = response.text
    assert "No papers were listed on Saturday, 15 August 2026." in html
    assert "Nearest days with papers" in html
    assert '<a href="/papers/date/2026-08-14">Friday, 14 August 2026</a> (before)' in html
    assert '<a href="/papers/date/2026-08-17">Monday, 17 August 2026</a> (after)' in html
    assert titles_in_order(html) == []


def test_an_empty_site_says_how_to_load_papers(client_at: ClientAt) -> None:
    html = client_at(LATER).get("/").text
    assert "This site has no papers yet" in html and "paperboy ingest" in html


def test_the_date_form_jumps_to_a_day(client_at: ClientAt, archive: Path) -> None:
    client = client_at(LATER)
    response = client.get("/papers/date?date=2026-08-17")
    assert response.status_code == 303 and response.headers["location"] == "/papers/date/2026-08-17"
    assert client.get("/papers/date?date=2026-02-30").status_code == 400


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/papers/date/2026-02-30", "date=&#39;2026-02-30&#39; is not a day of the calendar"),
        ("/papers/date/last-friday", "date=&#39;last-friday&#39; is not a date: use YYYY-MM-DD"),
        ("/papers/date/2026-08-17?p=-2", "p=-2 is out of range"),
        ("/?p=x", "p=&#39;x&#39; is not a whole number"),
    ],
)
def test_bad_days_and_pages_get_a_friendly_400(client_at: ClientAt, archive: Path, path: str, message: str) -> None:
    response = client_at(LATER).get(path)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text
    assert "Go to today&#39;s papers" in response.text or "Go to today's papers" in response.text


def test_cards_show_counts_links_summary_keywords_and_shortened_authors(client_at: ClientAt, archive: Path) -> None:
    items = original_items(archive_file(archive, "2026-08-17"))
    html = client_at(LATER).get("/papers/date/2026-08-17").text
    with_code = next(i for i in items if i["paper"].get("githubRepo") and i["paper"].get("githubStars") is not None)
    paper = with_code["paper"]
    assert f'href="{paper["githubRepo"]}"' in html
    assert f'href="https://arxiv.org/abs/{paper["id"]}"' in html
    assert f'href="https://arxiv.org/pdf/{paper["id"]}"' in html
    assert f'href="/papers/{paper["id"]}"' in html
    assert f"{paper['githubStars']} GitHub stars" in html
    with_project = next(i for i in items if i["paper"].get("projectPage"))
    assert f'href="{with_project["paper"]["projectPage"]}">Project page' in html
    with_summary = next(i for i in items if i["paper"].get("ai_summary"))
    assert f"<li>{esc(with_summary['paper']['ai_keywords'][0])}</li>" in html
    many = max(items, key=lambda i: len(i["paper"]["authors"]))
    count = len(many["paper"]["authors"])
    assert count > 6, "the day should have a paper with a long author list"
    assert f"et al. ({count} authors)" in html
    assert many["paper"]["authors"][-1]["name"] not in html.split(f"et al. ({count} authors)")[0].rsplit("<li", 1)[-1]
    submitted = next(i for i in items if i.get("submittedBy"))
    assert f"Submitted by {submitted['submittedBy']['name']}" in html
    assert f"{submitted['numComments']} comment" in html


def test_the_page_loads_nothing_from_other_sites(client_at: ClientAt, archive: Path) -> None:
    client = client_at(LATER)
    html = client.get("/").text
    assert "<script" not in html
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) == ["/static/style.css"]
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "http" not in css.text and "@import" not in css.text


def test_a_long_day_is_paged(paperboy: Paperboy, archive: Path) -> None:
    paperboy.settings = paperboy.settings.replace(page_size=5)
    client = TestClient(create_app(paperboy, clock=lambda: datetime(2026, 12, 1, tzinfo=UTC)))
    total = len(original_items(archive_file(archive, "2026-08-17")))
    assert total > 10
    first = client.get("/papers/date/2026-08-17").text
    second = client.get("/papers/date/2026-08-17?p=1").text
    assert len(titles_in_order(first)) == len(titles_in_order(second)) == 5
    assert set(titles_in_order(first)).isdisjoint(titles_in_order(second))
    assert f"{total} papers" in first
    assert 'href="/papers/date/2026-08-17?p=1" rel="next"' in first
    assert '<ol class="cards" start="6">' in second
    assert 'href="/papers/date/2026-08-17" rel="prev"' in second
    past = client.get("/papers/date/2026-08-17?p=99").text
    assert "past the end of the list" in past


def test_the_paper_page(client_at: ClientAt, archive: Path, store: Store) -> None:
    item = original_items(archive_file(archive, "2026-08-17"))[0]
    paper_id = item["paper"]["id"]
    response = client_at(LATER).get(f"/papers/{paper_id}")
    assert response.status_code == 200
    html = response.text
    stored = store.get_paper(paper_id)
    assert stored is not None
    assert esc(stored.title) in html
    assert esc(stored.abstract) in html
    assert all(esc(name) in html for name in stored.authors)
    assert f'href="https://arxiv.org/pdf/{paper_id}"' in html
    assert '<a href="/papers/date/2026-08-17">Monday, 17 August 2026</a>' in html


def test_a_versioned_id_redirects_to_the_paper(client_at: ClientAt, archive: Path) -> None:
    paper_id = original_items(archive_file(archive, "2026-08-17"))[0]["paper"]["id"]
    response = client_at(LATER).get(f"/papers/{paper_id}v2")
    assert response.status_code == 301 and response.headers["location"] == f"/papers/{paper_id}"


def test_unknown_papers_and_pages_get_a_friendly_404(client_at: ClientAt, archive: Path) -> None:
    client = client_at(LATER)
    response = client.get("/papers/2999.99999")
    assert response.status_code == 404
    assert "Paper not found" in response.text and "2999.99999" in response.text
    assert 'href="/"' in response.text
    nowhere = client.get("/no/such/page")
    assert nowhere.status_code == 404
    assert nowhere.headers["content-type"].startswith("text/html")
    assert "Page not found" in nowhere.text


def test_titles_and_links_from_sources_are_never_markup(client_at: ClientAt, store: Store) -> None:
    hostile = Paper(
        id="2401.00001",
        title="<script>alert(1)</script>",
        abstract='Abstract with <img src=x onerror="alert(2)">',
        authors=["<b>Mallory</b>", "Alice"],
        links={"code": "javascript:alert(3)", "project": "https://example.org/ok"},
        ai_summary="<i>summary</i>",
        ai_keywords=["<u>kw</u>"],
        upvotes=1,
    )
    entry = DailyEntry("2401.00001", date(2026, 8, 17), submitted_by="<em>eve</em>")
    store.apply_batch([Record(hostile, "test", entry)])
    client = client_at(LATER)
    for path in ("/", "/papers/date/2026-08-17", "/papers/2401.00001"):
        html = client.get(path).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        for raw in ("<img src=x", "<b>Mallory", "<i>summary", "<u>kw", "<em>eve"):
            assert raw not in html
        assert "javascript:" not in html
        assert 'href="https://example.org/ok"' in html
    api = client.get("/api/daily_papers").json()
    assert api[0]["title"] == "<script>alert(1)</script>"  # JSON carries the text as it is
