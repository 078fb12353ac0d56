"""Search on the site and in the API, on real archive days: HF's item shape with highlights, filters, bad queries as
400s (never 500s), the "semantic index" note, and papers ingested after the index was built.

These run lexically (no vectors in the store; the background embedder is off), which is also how a fresh site
answers before its first embedding run; hybrid ranking itself is tested in tests/index/test_hybrid.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperboy.app import Paperboy
from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from tests.web.conftest import ClientAt, archive_file, load_days

DAYS = ("2026-08-20", "2026-08-21")
TODAY = date(2026, 8, 21)


@pytest.fixture
def client(paperboy: Paperboy, shared_data: Path, client_at: ClientAt) -> TestClient:
    load_days(paperboy.store, shared_data, *DAYS)
    return client_at(TODAY)


def some_title_word(paperboy: Paperboy) -> tuple[str, str]:
    """A distinctive word of a real title in the store (the longest), and that paper's id."""
    papers = list(paperboy.store.iter_papers())
    paper = max(papers, key=lambda p: len(p.title))
    word = max((w.strip(":,.()") for w in paper.title.split()), key=len)
    return word, paper.id


def test_api_search_is_hf_shaped_with_highlights(client: TestClient, paperboy: Paperboy) -> None:
    word, paper_id = some_title_word(paperboy)
    response = client.get("/api/papers/search", params={"q": word, "limit": 5})
    assert response.status_code == 200
    items = response.json()
    assert 1 <= len(items) <= 5
    assert paper_id in [item["paper"]["id"] for item in items]
    item = next(i for i in items if i["paper"]["id"] == paper_id)
    assert {"paper", "publishedAt", "title", "summary", "numComments", "submittedBy"} <= item.keys()
    assert {"id", "authors", "title", "summary", "upvotes", "submittedOnDailyAt"} <= item["paper"].keys()
    assert "<mark>" in item["highlightedTitle"]
    assert item["highlightedTitle"].replace("<mark>", "").replace("</mark>", "") == _escaped(item["title"])


def _escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_api_search_pages_and_limits(client: TestClient) -> None:
    first = client.get("/api/papers/search", params={"q": "model", "limit": 3}).json()
    second = client.get("/api/papers/search", params={"q": "model", "limit": 3, "p": 1}).json()
    assert len(first) == 3 and len(second) == 3
    assert not {i["paper"]["id"] for i in first} & {i["paper"]["id"] for i in second}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "give a search query"),
        ({"q": "   "}, "give a search query"),
        ({"q": "author:"}, "author: needs a value"),
        ({"q": "agents since:2025-13-45"}, "since:2025-13-45"),
        ({"q": "agents cat:???"}, "not an arXiv category"),
        ({"q": "agents", "limit": "0"}, "limit=0"),
        ({"q": "agents", "limit": "many"}, "not a whole number"),
    ],
)
def test_bad_api_queries_are_clear_400s(client: TestClient, params: dict[str, str], message: str) -> None:
    response = client.get("/api/papers/search", params=params)
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "q",
    [
        "agent " * 2000,  # 12,000 characters: cut at a word boundary, then searched
        '"large language models',  # an unbalanced quote runs to the end
        "the of and",  # only stop words: searched as they are
        "agent\x00\x07\u200b models\r\n",  # control characters are dropped
        "___ ^^^",  # nothing searchable
        "-agent",  # only an exclusion: papers without it, newest first
    ],
)
def test_odd_api_queries_get_an_answer_not_an_error(client: TestClient, q: str) -> None:
    response = client.get("/api/papers/search", params={"q": q})
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


def test_search_page_shows_highlighted_results_filters_and_semantic_status(
    client: TestClient, paperboy: Paperboy
) -> None:
    word, paper_id = some_title_word(paperboy)
    page = client.get("/search", params={"q": word})
    assert page.status_code == 200
    assert f'href="/papers/{paper_id}"' in page.text and "<mark>" in page.text
    assert 'name="cat"' in page.text and 'name="since"' in page.text and 'name="author"' in page.text
    total = paperboy.store.count_papers()
    assert f"semantic index: 0 of {total:,} papers" in page.text
    dated = client.get("/search", params={"q": word, "since": "2030-01-01"})
    assert dated.status_code == 200 and "No papers found" in dated.text
    empty = client.get("/search")
    assert empty.status_code == 200 and "No papers found" not in empty.text


def test_search_page_answers_bad_queries_with_a_400_page(client: TestClient) -> None:
    for params in ({"q": "author:"}, {"q": "agents", "since": "yesterday"}, {"q": "x", "cat": "!!"}):
        page = client.get("/search", params=params)
        assert page.status_code == 400
        assert 'role="alert"' in page.text


def test_search_page_escapes_markup_in_the_query(client: TestClient) -> None:
    page = client.get("/search", params={"q": "<script>alert(1)</script>"})
    assert page.status_code == 200 and "<script>alert(1)" not in page.text


def test_papers_ingested_later_are_found_without_a_rebuild(
    client: TestClient, paperboy: Paperboy, shared_data: Path
) -> None:
    assert client.get("/api/papers/search", params={"q": "model"}).status_code == 200  # the index exists now
    path = archive_file(shared_data, "2026-08-19")
    ingest(paperboy.store, hf_daily.read_path(path), hf_daily.NAME, str(path))
    newcomer = next(iter(hf_daily.read_path(path))).paper  # type: ignore[union-attr]
    word = max((w.strip(":,.()") for w in newcomer.title.split()), key=len)
    found = client.get("/api/papers/search", params={"q": word, "limit": 50}).json()
    assert newcomer.id in [item["paper"]["id"] for item in found]


def test_similar_api_falls_back_to_title_words_and_404s_unknown_papers(client: TestClient, paperboy: Paperboy) -> None:
    _, paper_id = some_title_word(paperboy)
    response = client.get(f"/api/papers/{paper_id}/similar", params={"limit": 3})
    assert response.status_code == 200
    items = response.json()
    assert 1 <= len(items) <= 3 and paper_id not in [i["paper"]["id"] for i in items]
    assert client.get("/api/papers/0000.00000/similar").status_code == 404
    assert client.get(f"/api/papers/{paper_id}/similar", params={"limit": "x"}).status_code == 400
