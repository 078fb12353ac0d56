"""Trending with a fixed clock: the formula, the decay, and the ranking of real listed papers with local activity."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperboy.domain import DailyEntry, Paper, Record
from paperboy.rank.trending import rank, score, trending
from paperboy.store import Store, accounts, community
from paperboy.store.community import Candidate

NOW = datetime(2026, 8, 21, 12, tzinfo=UTC)


def test_the_formula() -> None:
    assert score(10, 0, 0, 1.8, 2.0) == pytest.approx(10 / 2**1.8)
    assert score(10, 5, 22, 1.8, 2.0) == pytest.approx(20 / 24**1.8)
    assert score(3, 0, -5, 1.8, 2.0) == score(3, 0, 0, 1.8, 2.0)  # clock skew: a future paper counts as new
    assert score(0, 0, 1, 1.8, 2.0) == 0


def test_newer_papers_beat_older_ones_with_somewhat_more_votes() -> None:
    candidates = [
        Candidate("old", NOW - timedelta(hours=48), upvotes=40, comments=0),
        Candidate("new", NOW - timedelta(hours=2), upvotes=10, comments=0),
        Candidate("talked", NOW - timedelta(hours=2), upvotes=5, comments=3),
        Candidate("tie-older", NOW - timedelta(hours=30), upvotes=0, comments=0),
        Candidate("tie-newer", NOW - timedelta(hours=3), upvotes=0, comments=0),
    ]
    ranking = rank(candidates, NOW, gravity=1.8, comments_weight=2.0)
    assert [pid for pid, _ in ranking] == ["talked", "new", "old", "tie-newer", "tie-older"]
    assert ranking[0][1] == pytest.approx(11 / 4**1.8)
    # Without gravity, age does not matter: the most upvoted wins.
    assert rank(candidates, NOW, gravity=0.0, comments_weight=2.0)[0][0] == "old"


def test_trending_from_the_store(store: Store, shared_data: Path) -> None:
    """Two real archive days plus local votes and comments, ranked at a fixed time."""
    from tests.web.conftest import load_days

    load_days(store, shared_data, "2026-08-20", "2026-08-21")
    start, end = date(2026, 8, 20), date(2026, 8, 21)
    before = trending(store, NOW, start, end)
    listed = {lp.paper.id: lp for lp in store.daily_list(start, end)}
    assert {pid for pid, _ in before} == set(listed)
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(before))
    for pid, value in before[:5]:
        lp = listed[pid]
        entered = lp.entry.submitted_at or datetime.combine(lp.entry.day, datetime.min.time(), UTC)
        age = (NOW - entered).total_seconds() / 3600
        assert value == pytest.approx(score(lp.paper.upvotes or 0, lp.paper.num_comments or 0, age, 1.8, 2.0))

    # Local activity lifts the last paper to the top.
    last = before[-1][0]
    lp = listed[last]
    entered = lp.entry.submitted_at or datetime.combine(lp.entry.day, datetime.min.time(), UTC)
    age = (NOW - entered).total_seconds() / 3600
    needed = math.ceil(before[0][1] * (age + 2) ** 1.8) - (lp.paper.upvotes or 0) - 2 * (lp.paper.num_comments or 0)
    for n in range(max(needed, 0)):
        user = accounts.get_or_create_user(store, f"u{n}@example.org", NOW)
        community.vote(store, user.id, last, NOW)
    community.add_comment(store, last, 1, "great", NOW)
    after = trending(store, NOW, start, end)
    assert after[0][0] == last
    assert after[0][1] > before[0][1]


def test_a_paper_on_two_days_counts_from_its_latest_entry(store: Store) -> None:
    paper = Paper(id="2608.00002", title="Twice", upvotes=10)
    store.apply_batch(
        [Record(paper, "t", DailyEntry(paper.id, date(2026, 8, 18), submitted_at=NOW - timedelta(days=3)))]
    )
    store.apply_batch(
        [Record(paper, "t", DailyEntry(paper.id, date(2026, 8, 21), submitted_at=NOW - timedelta(hours=1)))]
    )
    ((pid, value),) = trending(store, NOW, date(2026, 8, 15), date(2026, 8, 21))
    assert pid == paper.id and value == pytest.approx(score(10, 0, 1, 1.8, 2.0))
