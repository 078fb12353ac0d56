"""RSS 2.0 and Atom feeds, read back with feedparser, and the `<link rel="alternate">` of every page."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import feedparser
import pytest

from paperboy.sources.base import clean_text
from paperboy.store import Store
from paperboy.web.feeds import xml_text
from tests.web.conftest import ClientAt, archive_file, load_days, original_items

DAY = "2026-08-21"
TODAY = date(2026, 8, 21)


@pytest.fixture
def archive(store: Store, shared_data: Path) -> dict[str, dict[str, object]]:
    load_days(store, shared_data, "2026-08-20", DAY)
    return {item["paper"]["id"]: item for item in original_items(archive_file(shared_data, DAY))}


def parsed(client_at: ClientAt, url: str) -> feedparser.FeedParserDict:
    response = client_at(TODAY).get(url)
    assert response.status_code == 200, response.text
    kind = "rss" if url.split("?")[0].endswith(".rss") else "atom"
    assert response.headers["content-type"].startswith(f"application/{kind}+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == ("rss20" if kind == "rss" else "atom10")
    return feed


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_daily_feed_carries_the_latest_lists(client_at: ClientAt, archive: dict, store: Store, fmt: str) -> None:
    feed = parsed(client_at, f"/feeds/daily.{fmt}")
    listed = {lp.paper.id: lp.paper for lp in store.daily_list(TODAY)}
    links = {e.link.rsplit("/papers/", 1)[1]: e for e in feed.entries}
    assert set(listed) <= set(links)
    for pid, paper in listed.items():
        entry = links[pid]
        assert entry.title == paper.title
        # RSS descriptions are HTML (the abstract goes in escaped); Atom's summary is declared text
        assert (html.unescape(entry.summary) if fmt == "rss" else entry.summary) == paper.abstract
        assert [a.name for a in entry.authors][: len(paper.authors)] == paper.authors[: len(entry.authors)]
        assert entry.published_parsed[:3] == (2026, 8, 21) or entry.updated_parsed[:3] == (2026, 8, 21)
    days = [e.link for e in feed.entries]
    assert len(days) == len(set(days))


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_trending_search_author_and_category_feeds(client_at: ClientAt, archive: dict, store: Store, fmt: str) -> None:
    trending = parsed(client_at, f"/feeds/trending.{fmt}")
    assert {e.link.rsplit("/papers/", 1)[1] for e in trending.entries} >= set(archive)
    pid, item = next(iter(archive.items()))
    paper = store.get_paper(pid)
    assert paper is not None
    title = clean_text(item["paper"]["title"])  # type: ignore[index]
    search = parsed(client_at, f"/feeds/search.{fmt}?q={title}")
    assert pid in [e.link.rsplit("/papers/", 1)[1] for e in search.entries]
    assert title in search.feed.title
    author = parsed(client_at, f"/feeds/author.{fmt}?name={paper.authors[0]}")
    assert pid in [e.link.rsplit("/papers/", 1)[1] for e in author.entries]
    assert all(paper.authors[0] in [a.name for a in e.authors] for e in author.entries)
    if paper.categories:
        cat = paper.categories[0]
        category = parsed(client_at, f"/feeds/category.{fmt}?cat={cat}")
        assert pid in [e.link.rsplit("/papers/", 1)[1] for e in category.entries]
        archive_wide = parsed(client_at, f"/feeds/category.{fmt}?cat={cat.split('.')[0]}")
        assert len(archive_wide.entries) >= len(category.entries)
    nobody = parsed(client_at, f"/feeds/author.{fmt}?name=Nobody+Byname")
    assert nobody.entries == []


@pytest.mark.parametrize(
    "url", ["/feeds/search.rss", "/feeds/search.atom?q=", "/feeds/author.rss", "/feeds/category.rss?cat=%3Cb%3E"]
)
def test_feeds_without_their_parameter_are_400(client_at: ClientAt, archive: dict, url: str) -> None:
    response = client_at(TODAY).get(url)
    assert response.status_code == 400 and "e.g." in response.text


def test_unknown_feed_is_404(client_at: ClientAt, archive: dict) -> None:
    assert client_at(TODAY).get("/feeds/everything.rss").status_code == 404


def test_characters_xml_forbids_are_dropped() -> None:
    assert xml_text("a\x00b\x08c\x1fd\ufffee\ud800f\tg\nh") == "abcdef\tg\nh"


LINK = re.compile(r'<link rel="alternate" type="(application/(?:rss|atom)\+xml)" title="([^"]*)" href="([^"]+)">')


def alternates(html: str) -> list[tuple[str, str, str]]:
    return [(kind, title, href.replace("&amp;", "&")) for kind, title, href in LINK.findall(html)]


def test_every_page_links_its_feeds_and_they_answer(client_at: ClientAt, archive: dict, store: Store) -> None:
    client = client_at(TODAY)
    pid = next(iter(archive))
    paper = store.get_paper(pid)
    assert paper is not None
    pages = {
        "/": "/feeds/daily.rss",
        f"/papers/date/{DAY}": "/feeds/daily.atom",
        "/papers/trending": "/feeds/trending.rss",
        "/search?q=diffusion+models": "/feeds/search.rss?q=diffusion+models",
        f"/papers/{pid}": f"/feeds/author.atom?name={paper.authors[0].replace(' ', '+')}",
        "/about": "/feeds/daily.rss",
    }
    for page, expected in pages.items():
        html = client.get(page).text
        found = alternates(html)
        assert expected in [href for _, _, href in found], (page, found)
        for _, _, href in found:
            assert client.get(href).status_code == 200, href
