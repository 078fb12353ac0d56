"""Plan a digest run: which confirmed subscriber gets which papers of the period, never a paper twice.

The candidates are the papers on the period's daily lists, read once per run, in the site's trending order. Each
section (trending top N, queries, categories, authors) is evaluated once per distinct value and cached, so 100k
subscribers cost set unions, not 100k scans; subscribers, their history and their outbox rows are read and written
a thousand at a time. A subscriber's picks exclude every paper in their history; the picks and the history rows
are written in the same transaction as the outbox row, so a crash either planned a subscriber completely or not
at all, and planning again (another process, a restart) skips subscribers that already have their row.

Keyword and query sections match title and abstract case-insensitively, each term at the start of a word
(``agent`` matches "agents"), ``"a phrase"`` as a phrase and ``-term`` as an exclusion; hybrid search is a
separate component and may replace this matcher later.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.utils import parseaddr
from functools import lru_cache
from zoneinfo import ZoneInfo

from paperboy.app import Paperboy
from paperboy.digest.periods import Period, due_at
from paperboy.digest.subscriptions import Preferences, Subscriber, utc_now
from paperboy.domain import Paper
from paperboy.rank.trending import trending
from paperboy.store import digests as db
from paperboy.store.papers import load_papers

TERM = re.compile(r'(-?)"([^"]+)"|(-?)(\S+)')
PLAN_BATCH = 1000
Pick = tuple[str, str]  # (paper_id, why it was picked)


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]

    def matches(self, text: str) -> bool:
        return all(p.search(text) for p in self.include) and not any(p.search(text) for p in self.exclude)


def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in term.lower().split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words))


@lru_cache(maxsize=100_000)
def parse_query(text: str) -> Query:
    """``diffusion "image editing" -video`` -> include diffusion and the phrase, exclude video."""
    include: list[re.Pattern[str]] = []
    exclude: list[re.Pattern[str]] = []
    for match in TERM.finditer(text):
        negative = (match.group(1) or match.group(3)) == "-"
        term = (match.group(2) or match.group(4) or "").strip()
        if term:
            (exclude if negative else include).append(_term_pattern(term))
    return Query(text, tuple(include), tuple(exclude))


def searchable(paper: Paper) -> str:
    return " ".join(f"{paper.title} {paper.abstract}".lower().split())


def trending_order(pb: Paperboy, period: Period) -> list[str]:
    """The period's listed papers, best first by the site's trending score (``paperboy.rank.trending``: upvotes
    and comments decayed by age) as it stood when the period ended, so planning the same period at any later
    moment picks the same "trending top N"."""
    site_tz = ZoneInfo(pb.settings.timezone)
    ended = datetime.combine(period.last_day + timedelta(days=1), time(0), site_tz)
    ranking = trending(
        pb.store,
        ended,
        period.first_day,
        period.last_day,
        gravity=pb.settings.trending_gravity,
        comments_weight=pb.settings.trending_comments_weight,
        tz=site_tz,
    )
    return [pid for pid, _ in ranking]


@dataclass
class Candidates:
    """The period's papers with per-value caches of which papers each section value selects."""

    papers: dict[str, Paper]
    order: list[str]  # trending order
    _text: dict[str, str] = field(default_factory=dict)
    _queries: dict[str, list[str]] = field(default_factory=dict)
    _categories: dict[str, set[str]] = field(default_factory=dict)
    _authors: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rank = {pid: n for n, pid in enumerate(self.order)}
        for pid in self.order:
            paper = self.papers[pid]
            self._text[pid] = searchable(paper)
            for category in paper.categories:
                self._categories.setdefault(category.lower(), set()).add(pid)
            for author in paper.authors:
                self._authors.setdefault(" ".join(author.lower().split()), set()).add(pid)

    def query(self, text: str) -> list[str]:
        found = self._queries.get(text)
        if found is None:
            query = parse_query(text)
            found = [pid for pid in self.order if query.include and query.matches(self._text[pid])]
            self._queries[text] = found
        return found

    def excluded(self, words: Sequence[str]) -> set[str]:
        if not words:
            return set()
        key = "\x00exclude\x00" + "\x00".join(words)
        found = self._queries.get(key)
        if found is None:
            patterns = [_term_pattern(word) for word in words if word.strip()]
            found = [pid for pid in self.order if any(p.search(self._text[pid]) for p in patterns)]
            self._queries[key] = found
        return set(found)

    def category(self, name: str) -> set[str]:
        return self._categories.get(name.lower(), set())

    def author(self, name: str) -> set[str]:
        return self._authors.get(" ".join(name.lower().split()), set())


def select(candidates: Candidates, preferences: Preferences, received: set[str]) -> list[Pick]:
    """The subscriber's digest: papers matching any section, not received before, not excluded; papers matching
    more sections first, then by community score; at most ``max_papers``."""
    blocked = received | candidates.excluded(preferences.exclude)
    reasons: dict[str, list[str]] = {}

    def add(pid: str, why: str) -> None:
        if pid not in blocked:
            reasons.setdefault(pid, []).append(why)

    if preferences.trending:
        fresh = [pid for pid in candidates.order if pid not in blocked][: preferences.trending]
        for n, pid in enumerate(fresh, 1):
            add(pid, f"Trending #{n}")
    for text in preferences.queries:
        for pid in candidates.query(text):
            add(pid, f"Matches “{text}”")
    for name in preferences.categories:
        for pid in candidates.category(name):
            add(pid, f"In {name}")
    for name in preferences.authors:
        for pid in candidates.author(name):
            add(pid, f"By {name}")
    ranked = sorted(reasons, key=lambda pid: (-len(reasons[pid]), candidates.rank[pid]))
    return [(pid, " · ".join(reasons[pid])) for pid in ranked[: preferences.max_papers]]


def load_candidates(pb: Paperboy, period: Period) -> Candidates:
    """The visible papers listed in the period, read once per run, in trending order."""
    order = trending_order(pb, period)
    with pb.store.read() as conn:
        found = load_papers(conn, order)
    return Candidates(found, [pid for pid in order if pid in found])


def message_id(run_id: int, subscriber_id: int, email: str, domain: str) -> str:
    """The same Message-ID on every attempt, so a resend after a crash is recognisably the same message."""
    tag = hashlib.sha256(f"{run_id}:{subscriber_id}:{email}".encode()).hexdigest()[:12]
    return f"<digest.{run_id}.{subscriber_id}.{tag}@{domain}>"


@dataclass
class PlanReport:
    run_id: int
    considered: int = 0
    planned: int = 0
    empty: int = 0  # nothing matched and they did not ask for empty digests: no mail


def plan_run(
    pb: Paperboy,
    run: dict[str, object],
    period: Period,
    clock: Callable[[], datetime] = utc_now,
    batch_size: int = PLAN_BATCH,
    candidates: Candidates | None = None,
) -> PlanReport:
    """Write one outbox row (and its history) per confirmed subscriber of the period's frequency. Safe to run
    again or concurrently: subscribers with a row are skipped; the run is marked planned at the end."""
    run_id = int(run["id"])  # type: ignore[call-overload]
    report = PlanReport(run_id)
    if run.get("planned_at") is not None:
        return report
    candidates = candidates or load_candidates(pb, period)
    site_tz = ZoneInfo(pb.settings.timezone)
    domain = parseaddr(pb.settings.mail_from)[1].rpartition("@")[2] or "localhost"
    paper_ids = candidates.order
    after = 0
    while True:
        with pb.store.read() as conn:
            rows = db.subscribers_to_plan(conn, period.kind, after, batch_size)
        if not rows:
            break
        after = rows[-1]["id"]
        subscribers = [Subscriber.from_row(row) for row in rows]
        report.considered += len(subscribers)
        with pb.store.write() as conn:
            done = db.planned_subscribers(conn, run_id, [s.id for s in subscribers])
            todo = [s for s in subscribers if s.id not in done]
            history = db.history_for(conn, [s.id for s in todo], paper_ids)
            outbox: list[dict[str, object]] = []
            picks_of: dict[int, list[Pick]] = {}
            for sub in todo:
                picks = select(candidates, sub.preferences, history.get(sub.id, set()))
                if not picks and not sub.preferences.send_empty:
                    report.empty += 1
                    continue
                picks_of[sub.id] = picks
                outbox.append(
                    {
                        "run_id": run_id,
                        "subscriber_id": sub.id,
                        "email": sub.email,
                        "message_id": message_id(run_id, sub.id, sub.email, domain),
                        "status": "pending",
                        "papers": [list(p) for p in picks],
                        "due_at": due_at(period, sub.send_hour, sub.timezone, site_tz),
                    }
                )
            added = db.insert_outbox(conn, outbox)
            db.insert_history(conn, [(sid, pid, run_id) for sid in added for pid, _ in picks_of[sid]])
            report.planned += len(added)
    db.mark_planned(pb.store, run_id, clock())
    return report
