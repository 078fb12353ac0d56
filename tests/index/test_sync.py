"""Following the store's change log: new, changed, hidden papers reach the index without a rebuild."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from paperboy.domain import Paper, Record
from paperboy.index import lexical
from paperboy.index.lexical import LexicalIndex, index_path
from paperboy.index.query import parse_query
from paperboy.index.sync import SyncState, advance, load_state, rebuild, sync
from paperboy.settings import Settings
from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from paperboy.store import Store
from paperboy.store.changes import set_hidden
from paperboy.store.papers import replace_papers
from paperboy.store.store import utcnow


@pytest.fixture
def index(settings: Settings) -> LexicalIndex:
    return LexicalIndex(index_path(settings.data_dir))


def ingest_day(store: Store, shared_data: Path, day: str) -> list[Paper]:
    path = shared_data / "hf_daily_papers" / "raw" / f"{day}.json"
    ingest(store, hf_daily.read_path(path), hf_daily.NAME, str(path))
    return [item.paper for item in hf_daily.read_path(path) if isinstance(item, Record)]


def found(index: LexicalIndex, text: str, limit: int = 50) -> list[str]:
    return [h.paper_id for h in index.search(parse_query(text), limit=limit)]


def title_query(paper: Paper) -> str:
    return f'"{paper.title}"'


def test_ingest_sync_ingest_sync_change_title(store: Store, index: LexicalIndex, shared_data: Path) -> None:
    first = ingest_day(store, shared_data, "2024-06-03")
    report = sync(store, index)  # a never-built index is built from the store
    assert report.rebuilt and report.indexed == len(first) == len(index)
    assert all(p.id in found(index, title_query(p)) for p in first)

    second = ingest_day(store, shared_data, "2025-01-10")
    report = sync(store, index)
    assert not report.rebuilt and report.indexed == len(second) and report.changes == len(second)
    assert len(index) == len(first) + len(second)
    assert all(p.id in found(index, title_query(p)) for p in second)

    changed = replace(store.get_paper(first[0].id), title="Zyxwvut: a freshly renamed paper")  # type: ignore[type-var]
    store.apply_batch([Record(changed, "test")])
    report = sync(store, index)
    assert report.indexed == 1 and report.changes == 1
    assert found(index, "zyxwvut") == [first[0].id]
    assert first[0].id not in found(index, title_query(first[0]))

    assert sync(store, index).changes == 0  # nothing new: nothing read, nothing written
    state = load_state(index)
    assert state is not None and state.gaps == {}


def test_hidden_papers_leave_and_come_back(store: Store, index: LexicalIndex, shared_data: Path) -> None:
    papers = ingest_day(store, shared_data, "2024-06-03")
    sync(store, index)
    target = papers[1]
    set_hidden(store, [target.id])
    report = sync(store, index)
    assert report.removed == 1
    assert target.id not in found(index, title_query(target))
    rebuild(store, index)
    assert target.id not in found(index, title_query(target))
    set_hidden(store, [target.id], hidden=False)
    sync(store, index)
    assert target.id in found(index, title_query(target))


def test_rebuild_restores_and_a_wiped_index_is_rebuilt(store: Store, index: LexicalIndex, shared_data: Path) -> None:
    papers = ingest_day(store, shared_data, "2024-06-03")
    sync(store, index)
    index.delete(p.id for p in papers[:3])
    assert len(index) == len(papers) - 3
    report = rebuild(store, index)
    assert report.rebuilt and len(index) == len(papers)
    (index.path / lexical.META_FILE).write_text(json.dumps({"schema_version": 0}))
    reopened = LexicalIndex(index.path)
    assert len(reopened) == 0
    assert sync(store, reopened).rebuilt and len(reopened) == len(papers)


def test_small_batches_reach_the_end(store: Store, index: LexicalIndex, shared_data: Path) -> None:
    sync(store, index)
    papers = ingest_day(store, shared_data, "2024-06-03")
    report = sync(store, index, batch_size=3)
    assert report.changes == len(papers) and len(index) == len(papers)


@pytest.mark.postgres_only  # SQLite serialises writers, so its seqs always commit in order; PostgreSQL's may not
def test_a_change_that_commits_late_is_not_lost(store: Store, index: LexicalIndex, shared_data: Path) -> None:
    papers = ingest_day(store, shared_data, "2024-06-03")
    sync(store, index)
    late = replace(store.get_paper(papers[0].id), title="Qwertyuiop committed late")  # type: ignore[type-var]
    with store.write() as conn:
        replace_papers(conn, [late], utcnow())  # takes a seq now, becomes visible at commit
        ingest_day(store, shared_data, "2024-06-04")  # a later seq, committed first
        report = sync(store, index)
        assert report.open_gaps == 1
        assert found(index, "qwertyuiop") == []
    report = sync(store, index)
    assert report.open_gaps == 0
    assert found(index, "qwertyuiop") == [papers[0].id]


def test_gap_bookkeeping() -> None:
    state = SyncState(applied_seq=10)
    state = advance(state, 10, [11, 13, 15], now=100.0)
    assert state == SyncState(15, {12: 100.0, 14: 100.0})
    state = advance(state, 15, [12, 16], now=200.0)  # 12 committed late: closed; 16 is new
    assert state == SyncState(16, {14: 100.0})
    state = advance(state, 16, [], now=100.0 + 601)  # 14 never came (rolled back): given up
    assert state == SyncState(16, {})
