"""Trending: a time-decayed community score, the Hacker News formula applied to papers.

    score = (upvotes + comments_weight * comments) / (age_hours + 2) ** gravity

``upvotes`` and ``comments`` are what the site shows (imported base + local), ``age_hours`` counts from the paper's
latest daily-list entry. The +2 keeps a brand-new paper from dividing by zero and from outranking everything on its
first vote; ``gravity`` (setting ``trending_gravity``, 1.8) decides how fast attention fades. The About page explains
this to users, with the current settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from paperboy.rank import Ranking
from paperboy.store.community import Candidate, list_candidates
from paperboy.store.store import Store

AGE_OFFSET_HOURS = 2.0


def score(upvotes: int, comments: int, age_hours: float, gravity: float, comments_weight: float) -> float:
    """The trending score of one paper. A paper from the future (clock skew) counts as brand new."""
    return (upvotes + comments_weight * comments) / (max(age_hours, 0.0) + AGE_OFFSET_HOURS) ** gravity


def rank(candidates: Iterable[Candidate], now: datetime, gravity: float, comments_weight: float) -> Ranking:
    """Candidates by score, best first; ties go to the newer paper, then to the id, so the order is stable."""
    scored = []
    for c in candidates:
        age = (now - c.entered_at).total_seconds() / 3600
        scored.append((c.paper_id, score(c.upvotes, c.comments, age, gravity, comments_weight), c.entered_at))
    scored.sort(key=lambda item: (-item[1], -item[2].timestamp(), item[0]))
    return [(pid, s) for pid, s, _ in scored]


def trending(
    store: Store,
    now: datetime,
    start: date,
    end: date,
    gravity: float = 1.8,
    comments_weight: float = 2.0,
    tz: ZoneInfo | None = None,
) -> Ranking:
    """The papers listed on days ``start``..``end``, ranked by trending score at ``now``."""
    return rank(list_candidates(store, start, end, tz), now, gravity, comments_weight)
