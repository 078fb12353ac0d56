"""The jsonl source: minimal corpora (the real SciFact corpus in ../shared/data), full records, and bad lines."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.domain import DailyEntry, Record, Skip, Version
from paperboy.sources import jsonl
from paperboy.sources.base import clean_text, ingest
from paperboy.store import Store


def write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_scifact_corpus_loads_as_it_is(store: Store, shared_data: Path) -> None:
    corpus = shared_data / "scifact" / "corpus.jsonl.gz"
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        raws = [json.loads(line) for line in lines if line.strip()]
    report = ingest(store, jsonl.read_path(corpus), jsonl.NAME, str(corpus))
    assert report.skipped == []
    assert (report.seen, report.new) == (len(raws), len(raws)) == (5183, 5183)
    assert store.stats()["papers"] == 5183
    for raw in (raws[0], raws[-1]):
        paper = store.get_paper(raw["_id"])
        assert paper is not None
        assert paper.title == clean_text(raw["title"])
        assert paper.abstract == clean_text(raw["text"])
    again = ingest(store, jsonl.read_path(corpus), jsonl.NAME, str(corpus))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5183)


def test_minimal_lines_and_aliases(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "corpus.jsonl",
        [
            {"id": "4983", "title": "A title", "abstract": "An abstract."},
            {"_id": "doc-2", "title": "Another", "text": "Text as\n  the abstract.", "metadata": {"x": 1}},
            {"id": 17, "title": "Numeric id"},
            {"id": "2405.15738v2", "title": "A versioned arXiv id"},
            {"id": "https://arxiv.org/abs/hep-th/9901001", "title": "An abs URL"},
        ],
    )
    papers = [item.paper for item in jsonl.read_path(path) if isinstance(item, Record)]
    assert [p.id for p in papers] == ["4983", "doc-2", "17", "2405.15738", "hep-th/9901001"]
    assert papers[0].abstract == "An abstract."
    assert papers[1].abstract == "Text as the abstract."
    assert papers[2].abstract == ""
    assert papers[3].versions == [Version(2)]
    assert papers[4].versions == []


def test_a_paper_on_several_days_is_one_record_per_day_and_lands_once(store: Store, tmp_path: Path) -> None:
    line = {
        "id": "2401.00001",
        "title": "On two lists",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.CL", "cs.LG"],
        "published_at": "2024-01-01T10:00:00+02:00",
        "versions": [{"version": 1, "created_at": "2024-01-01T08:00:00Z"}, {"version": "v2", "created_at": None}],
        "links": {"code": "https://example.org/code"},
        "upvotes": 7,
        "counts_as_of": "2024-01-03T00:00:00Z",
        "daily": [
            {"day": "2024-01-02", "submitted_by": "ada", "submitted_at": "2024-01-02T09:00:00Z"},
            {"day": "2024-01-05", "submitted_by": None, "submitted_at": None},
        ],
    }
    path = write_lines(tmp_path / "two-days.jsonl", [line])
    items = list(jsonl.read_path(path))
    assert [type(i) for i in items] == [Record, Record]
    records = [i for i in items if isinstance(i, Record)]
    assert records[0].paper is records[1].paper
    assert [r.entry for r in records] == [
        DailyEntry("2401.00001", date(2024, 1, 2), "ada", datetime(2024, 1, 2, 9, tzinfo=UTC)),
        DailyEntry("2401.00001", date(2024, 1, 5)),
    ]
    report = ingest(store, jsonl.read_path(path), jsonl.NAME, str(path))
    assert report.skipped == [] and report.new == 1
    paper = store.get_paper("2401.00001")
    assert paper is not None
    assert paper.published_at == datetime(2024, 1, 1, 8, tzinfo=UTC)
    assert [v.number for v in paper.versions] == [1, 2]
    assert paper.authors == ["Ada Lovelace", "Alan Turing"] and paper.upvotes == 7
    assert [e.day for e in store.entries_for(["2401.00001"])["2401.00001"]] == [date(2024, 1, 2), date(2024, 1, 5)]
    again = ingest(store, jsonl.read_path(path), jsonl.NAME, str(path))
    assert (again.new, again.updated) == (0, 0)


def test_bad_lines_are_skipped_with_line_numbers_and_the_rest_lands(store: Store, tmp_path: Path) -> None:
    good = {"id": "g1", "title": "Good"}
    path = tmp_path / "mixed.jsonl"
    lines: list[Any] = [
        good,  # 1
        "{broken",  # 2
        {"title": "no id"},  # 3
        {"id": "x3", "abstract": "no title"},  # 4
        {"id": "x4", "title": "t", "authors": "Ada, Alan"},  # 5
        {"id": "x5", "title": "t", "published_at": "2024-02-30T00:00:00Z"},  # 6
        {"id": "x6", "title": "t", "links": {"homepage": "https://example.org"}},  # 7
        {"id": "x7", "title": "t", "upvotes": -1},  # 8
        {"id": "x8", "title": "t", "upvotes": 2**40},  # 9
        {"id": "x9", "title": "t", "daily": [{"submitted_by": "ada"}]},  # 10
        {"id": "x10", "title": "t", "daily": [{"day": "2024-13-01"}]},  # 11
        {"id": "x11", "title": "t", "doi": "10." + "9" * 300},  # 12
        {"id": "x12", "title": "t", "versions": [{"version": 0}]},  # 13
        good,  # 14: the same id on another line
        {"id": "has space", "title": "t"},  # 15
        '"just a string"',  # 16
        {"id": "g2", "title": "Also good", "daily": [{"day": "2024-01-01"}, {"day": "2024-01-02"}]},  # 17
    ]
    write_lines(path, lines)
    report = ingest(store, jsonl.read_path(path), jsonl.NAME, str(path))
    reasons = {int(s.where.rsplit(":", 1)[1]): s.reason for s in report.skipped}
    assert set(reasons) == set(range(2, 17))
    assert "not valid JSON" in reasons[2]
    assert "missing id" in reasons[3]
    assert reasons[4] == "missing title"
    assert "authors is a str, not a list" in reasons[5]
    assert "impossible date" in reasons[6] and "published_at" in reasons[6]
    assert "unknown link kind 'homepage'" in reasons[7]
    assert "not a count" in reasons[8] and "not a count" in reasons[9]
    assert 'without a "day"' in reasons[10]
    assert "impossible date" in reasons[11]
    assert "doi longer than 255" in reasons[12]
    assert "not a positive integer" in reasons[13]
    assert "duplicate id g1" in reasons[14]
    assert "whitespace" in reasons[15]
    assert "expected a JSON object" in reasons[16]
    assert store.stats()["papers"] == 2
    assert store.stats()["daily_entries"] == 2


def test_non_utf8_bom_and_truncated_last_line(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "a", "title": "after a byte-order mark"}\n'
        b'{"id": "b", "title": "caf\xe9"}\n'
        b'{"id": "c", "title": "ok"}\n'
        b'{"id": "d", "title": "cut off'
    )
    report = ingest(store, jsonl.read_path(path), jsonl.NAME, str(path))
    reasons = {int(s.where.rsplit(":", 1)[1]): s.reason for s in report.skipped}
    assert set(reasons) == {2, 4}
    assert "not UTF-8" in reasons[2] and "0xe9" in reasons[2]
    assert "truncated" in reasons[4]
    assert set(store.get_papers(["a", "b", "c", "d"])) == {"a", "c"}


def test_a_gzip_file_reads_like_the_plain_one(tmp_path: Path) -> None:
    records = [{"id": f"p{i}", "title": f"Paper {i}", "daily": [{"day": "2024-01-01"}]} for i in range(50)]
    plain = write_lines(tmp_path / "p.jsonl", records)
    packed = tmp_path / "p.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    papers = [(i.paper, i.entry) for i in jsonl.read_path(plain) if isinstance(i, Record)]
    assert papers == [(i.paper, i.entry) for i in jsonl.read_path(packed) if isinstance(i, Record)]
    assert len(papers) == 50


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(), max_size=8))
def test_arbitrary_text_lines_never_raise(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "lines.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    for item in jsonl.read_path(path):
        assert isinstance(item, Record | Skip)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = (
    "id",
    "_id",
    "title",
    "abstract",
    "text",
    "authors",
    "categories",
    "published_at",
    "versions",
    "doi",
    "license",
    "links",
    "upvotes",
    "ai_keywords",
    "counts_as_of",
    "daily",
)
FIELD_VALUES = {
    "daily": st.lists(
        st.fixed_dictionaries(
            {"day": st.sampled_from(["2024-01-01", "2024-02-30", "x"]) | st.text()},
            optional={"submitted_by": st.none() | st.text(), "submitted_at": st.none() | st.text()},
        ),
        max_size=3,
    ),
    "links": st.dictionaries(st.sampled_from(["doi", "code", "project", "other"]), st.none() | st.text(), max_size=3),
    "categories": st.lists(st.text(), max_size=3),
    "authors": st.lists(st.text(), max_size=3),
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"id": draw(st.text(min_size=1, max_size=70)), "title": draw(st.text())}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=6, unique=True)):
        record[key] = draw(FIELD_VALUES.get(key, JSON_VALUES))
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records(), min_size=1, max_size=4))
def test_odd_records_never_break_an_ingest(store: Store, tmp_path: Path, batch: list[dict[str, Any]]) -> None:
    """Whatever the values, a line either lands or is skipped: nothing reaches the database that it refuses."""
    path = write_lines(tmp_path / "odd.jsonl", batch)
    report = ingest(store, jsonl.read_path(path), jsonl.NAME, str(path))
    assert report.error is None
    assert report.seen >= len(batch)
