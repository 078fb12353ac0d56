"""Community actions: submissions to the daily list, votes, comments, moderation, and what a profile shows.

Counts shown on the site are the imported base (from Hugging Face snapshots, replaced by each newer snapshot) plus
what happened here: local votes and visible local comments are counted from their own tables, never folded into
the imported columns, so a re-import can never erase or double-count a local vote.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from paperboy.domain import DailyEntry, Paper, merge_papers
from paperboy.store.papers import insert_papers, load_papers, log_changes, replace_papers
from paperboy.store.schema import comments, daily_entries, papers, users, votes

if TYPE_CHECKING:
    from paperboy.store.store import ListedPaper, Store

INGEST_LOCK_KEY = 7_201_105  # the same advisory lock as Store.apply_batch: submissions and ingest never interleave
_CHUNK = 900


# -- shown counts --------------------------------------------------------------------------------------------------


def local_vote_count() -> sa.ScalarSelect[int]:
    """A correlated count of local votes on ``papers.id``, for ordering lists by shown upvotes in SQL."""
    return sa.select(sa.func.count()).select_from(votes).where(votes.c.paper_id == papers.c.id).scalar_subquery()  # type: ignore[return-value]


def local_counts(conn: sa.Connection, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Local (votes, visible comments) per paper id; papers without any are absent."""
    found: dict[str, list[int]] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        for pid, n in conn.execute(
            sa.select(votes.c.paper_id, sa.func.count()).where(votes.c.paper_id.in_(chunk)).group_by(votes.c.paper_id)
        ):
            found.setdefault(pid, [0, 0])[0] = int(n)
        for pid, n in conn.execute(
            sa.select(comments.c.paper_id, sa.func.count())
            .where(comments.c.paper_id.in_(chunk), comments.c.hidden == sa.false(), comments.c.deleted == sa.false())
            .group_by(comments.c.paper_id)
        ):
            found.setdefault(pid, [0, 0])[1] = int(n)
    return {pid: (v, c) for pid, (v, c) in found.items()}


def add_local_counts(conn: sa.Connection, items: Iterable[Paper]) -> None:
    """Turn the imported base counts of ``items`` into the shown counts (base + local), in place."""
    items = list(items)
    counts = local_counts(conn, [p.id for p in items])
    for paper in items:
        v, c = counts.get(paper.id, (0, 0))
        paper.upvotes = (paper.upvotes or 0) + v
        paper.num_comments = (paper.num_comments or 0) + c


def shown_paper(store: Store, paper_id: str) -> Paper | None:
    """A paper with its shown counts, for its page (``Store.get_paper`` keeps the stored base counts)."""
    with store.read() as conn:
        paper = load_papers(conn, [paper_id]).get(paper_id)
        if paper is not None:
            add_local_counts(conn, [paper])
    return paper


# -- submissions ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submitted:
    """What a submission did: ``added`` to the day's list, or not because it is a ``duplicate`` there."""

    status: str
    paper_id: str
    earlier_days: list[date] = field(default_factory=list)  # other lists the paper was already on


def known_paper(store: Store, paper_id: str) -> Paper | None:
    with store.read() as conn:
        return load_papers(conn, [paper_id]).get(paper_id)


def submit_paper(store: Store, paper: Paper, day: date, user_id: int, handle: str, now: datetime) -> Submitted:
    """Put ``paper`` on the list of ``day`` as submitted by the user, storing (or refreshing) its metadata."""
    with store.write() as conn:
        if store.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": INGEST_LOCK_KEY})
        days = list(
            conn.execute(
                sa.select(daily_entries.c.day).where(daily_entries.c.paper_id == paper.id).order_by(daily_entries.c.day)
            ).scalars()
        )
        if day in days:
            return Submitted("duplicate", paper.id, [d for d in days if d != day])
        existing = load_papers(conn, [paper.id]).get(paper.id)
        if existing is None:
            insert_papers(conn, [paper], now)
        else:
            merged = merge_papers(existing, paper)
            if merged != existing:
                replace_papers(conn, [merged], now)
            else:
                log_changes(conn, [paper.id], now)  # its lists changed: indexes that show them refresh
        conn.execute(
            daily_entries.insert().values(
                paper_id=paper.id, day=day, submitted_by=handle, submitter_id=user_id, submitted_at=now
            )
        )
    return Submitted("added", paper.id, days)


def listed_days(store: Store, paper_id: str) -> list[DailyEntry]:
    """The lists a paper is on, with who submitted it (a local handle or an imported name)."""
    query = sa.select(daily_entries).where(daily_entries.c.paper_id == paper_id).order_by(daily_entries.c.day)
    with store.read() as conn:
        return [
            DailyEntry(r["paper_id"], r["day"], r["submitted_by"], r["submitted_at"])
            for r in conn.execute(query).mappings()
        ]


def user_submissions(store: Store, user_id: int, limit: int = 50) -> list[tuple[Paper, date]]:
    query = (
        sa.select(daily_entries.c.paper_id, daily_entries.c.day)
        .join(papers, papers.c.id == daily_entries.c.paper_id)
        .where(daily_entries.c.submitter_id == user_id, papers.c.hidden == sa.false())
        .order_by(daily_entries.c.submitted_at.desc())
        .limit(limit)
    )
    with store.read() as conn:
        rows = conn.execute(query).all()
        found = load_papers(conn, [pid for pid, _ in rows])
        add_local_counts(conn, found.values())
    return [(found[pid], day) for pid, day in rows if pid in found]


# -- votes ---------------------------------------------------------------------------------------------------------


def _insert(store: Store, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    return (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(table)


def is_visible(store: Store, paper_id: str) -> bool:
    with store.read() as conn:
        hidden = conn.execute(sa.select(papers.c.hidden).where(papers.c.id == paper_id)).scalar_one_or_none()
    return hidden is not None and not hidden


def vote(store: Store, user_id: int, paper_id: str, now: datetime) -> bool:
    """Upvote; True when this added a vote. Insert-or-ignore on the (user, paper) key: double clicks and concurrent
    requests of one user count once, on any number of web nodes."""
    statement = (
        _insert(store, votes)
        .values(user_id=user_id, paper_id=paper_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "paper_id"])
        .returning(votes.c.user_id)  # rowcount is not reliable for ON CONFLICT on every driver; RETURNING is
    )
    with store.write() as conn:
        added = conn.execute(statement).first() is not None
        if added:
            log_changes(conn, [paper_id], now)  # cached pages and indexes that show counts refresh
        return added


def unvote(store: Store, user_id: int, paper_id: str, now: datetime | None = None) -> bool:
    with store.write() as conn:
        result = conn.execute(votes.delete().where(votes.c.user_id == user_id, votes.c.paper_id == paper_id))
        if result.rowcount == 1:
            log_changes(conn, [paper_id], now or datetime.now(UTC))
        return result.rowcount == 1


def voted(store: Store, user_id: int, paper_ids: Sequence[str]) -> set[str]:
    """Which of ``paper_ids`` the user has upvoted (to draw their buttons pressed)."""
    if not paper_ids:
        return set()
    query = sa.select(votes.c.paper_id).where(votes.c.user_id == user_id, votes.c.paper_id.in_(list(paper_ids)))
    with store.read() as conn:
        return set(conn.execute(query).scalars())


def shown_upvotes(store: Store, paper_id: str) -> int:
    with store.read() as conn:
        base = conn.execute(sa.select(papers.c.upvotes).where(papers.c.id == paper_id)).scalar_one_or_none() or 0
        local = conn.execute(sa.select(sa.func.count()).where(votes.c.paper_id == paper_id)).scalar_one()
    return int(base) + int(local)


def user_upvoted(store: Store, user_id: int, limit: int = 50) -> list[Paper]:
    query = (
        sa.select(votes.c.paper_id)
        .join(papers, papers.c.id == votes.c.paper_id)
        .where(votes.c.user_id == user_id, papers.c.hidden == sa.false())
        .order_by(votes.c.created_at.desc())
        .limit(limit)
    )
    with store.read() as conn:
        ids = list(conn.execute(query).scalars())
        found = load_papers(conn, ids)
        add_local_counts(conn, found.values())
    return [found[pid] for pid in ids if pid in found]


# -- comments ------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Comment:
    id: int
    paper_id: str
    user_id: int
    handle: str
    author: str  # display name or handle
    parent_id: int | None
    body: str
    hidden: bool
    deleted: bool
    created_at: datetime
    edited_at: datetime | None
    replies: list[Comment] = field(default_factory=list)


def _comment_query() -> sa.Select[tuple[object, ...]]:
    return sa.select(comments, users.c.handle, users.c.display_name).join(users, users.c.id == comments.c.user_id)


def _comment(row: sa.RowMapping) -> Comment:
    return Comment(
        id=row["id"],
        paper_id=row["paper_id"],
        user_id=row["user_id"],
        handle=row["handle"],
        author=row["display_name"] or row["handle"],
        parent_id=row["parent_id"],
        body=row["body"],
        hidden=bool(row["hidden"]),
        deleted=bool(row["deleted"]),
        created_at=row["created_at"],
        edited_at=row["edited_at"],
    )


def get_comment(store: Store, comment_id: int) -> Comment | None:
    with store.read() as conn:
        row = conn.execute(_comment_query().where(comments.c.id == comment_id)).mappings().first()
    return _comment(row) if row else None


def add_comment(
    store: Store, paper_id: str, user_id: int, body: str, now: datetime, parent_id: int | None = None
) -> int | None:
    """A new comment, or a reply to ``parent_id``. Threads are one level deep: a reply to a reply joins the
    top-level comment's thread. None when the parent is not a comment on this paper."""
    with store.write() as conn:
        if parent_id is not None:
            parent = conn.execute(
                sa.select(comments.c.paper_id, comments.c.parent_id).where(comments.c.id == parent_id)
            ).first()
            if parent is None or parent.paper_id != paper_id:
                return None
            parent_id = parent.parent_id or parent_id
        result = conn.execute(
            comments.insert().values(
                paper_id=paper_id, user_id=user_id, parent_id=parent_id, body=body, created_at=now, edited_at=None
            )
        )
        log_changes(conn, [paper_id], now)
        return int(result.inserted_primary_key[0])


def _log_comment_change(conn: sa.Connection, comment_id: int) -> None:
    """A comment changed: log its paper, so cached pages of the paper are not served stale."""
    paper_id = conn.execute(sa.select(comments.c.paper_id).where(comments.c.id == comment_id)).scalar_one_or_none()
    if paper_id is not None:
        log_changes(conn, [paper_id], datetime.now(UTC))


def edit_comment(store: Store, comment_id: int, body: str, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(comments.update().where(comments.c.id == comment_id).values(body=body, edited_at=now))
        _log_comment_change(conn, comment_id)


def delete_comment(store: Store, comment_id: int) -> None:
    """Delete by its author: the text goes; the row stays as "deleted" so replies keep their thread."""
    with store.write() as conn:
        conn.execute(comments.update().where(comments.c.id == comment_id).values(body="", deleted=True))
        _log_comment_change(conn, comment_id)


def set_comment_hidden(store: Store, comment_id: int, hidden: bool) -> None:
    with store.write() as conn:
        conn.execute(comments.update().where(comments.c.id == comment_id).values(hidden=hidden))
        _log_comment_change(conn, comment_id)


def paper_comments(store: Store, paper_id: str) -> list[Comment]:
    """The discussion of a paper, oldest first, replies under their comment. Hidden comments are included (flagged):
    the page shows them to moderators and a placeholder to others."""
    query = _comment_query().where(comments.c.paper_id == paper_id).order_by(comments.c.created_at, comments.c.id)
    with store.read() as conn:
        found = [_comment(row) for row in conn.execute(query).mappings()]
    top: dict[int, Comment] = {c.id: c for c in found if c.parent_id is None}
    for c in found:
        if c.parent_id is not None and c.parent_id in top:
            top[c.parent_id].replies.append(c)
    return list(top.values())


def user_comments(store: Store, user_id: int, limit: int = 50) -> list[tuple[Comment, str]]:
    """A user's visible comments, newest first, with the title of the paper each is on."""
    query = (
        _comment_query()
        .add_columns(papers.c.title)
        .join(papers, papers.c.id == comments.c.paper_id)
        .where(
            comments.c.user_id == user_id,
            comments.c.hidden == sa.false(),
            comments.c.deleted == sa.false(),
            papers.c.hidden == sa.false(),
        )
        .order_by(comments.c.created_at.desc(), comments.c.id.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [(_comment(row), row["title"]) for row in conn.execute(query).mappings()]


# -- lists by ranking ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A paper competing on a ranked list: when it entered the list and its shown counts."""

    paper_id: str
    entered_at: datetime
    upvotes: int
    comments: int


def list_candidates(store: Store, start: date, end: date, tz: ZoneInfo | None = None) -> list[Candidate]:
    """Every visible paper listed on days ``start``..``end``, entered at its latest entry's submission time (the
    start of that day in ``tz`` when an entry has no time)."""
    zone = tz or ZoneInfo("UTC")
    query = (
        sa.select(daily_entries.c.paper_id, daily_entries.c.day, daily_entries.c.submitted_at, papers.c.upvotes)
        .add_columns(papers.c.num_comments)
        .join(papers, papers.c.id == daily_entries.c.paper_id)
        .where(daily_entries.c.day >= start, daily_entries.c.day <= end, papers.c.hidden == sa.false())
    )
    entered: dict[str, datetime] = {}
    base: dict[str, tuple[int, int]] = {}
    with store.read() as conn:
        for pid, day, submitted_at, up, nc in conn.execute(query):
            at = submitted_at or datetime.combine(day, time(), zone).astimezone(UTC)
            if pid not in entered or at > entered[pid]:
                entered[pid] = at
            base[pid] = (int(up or 0), int(nc or 0))
        local = local_counts(conn, list(entered))
    out = []
    for pid, at in entered.items():
        v, c = local.get(pid, (0, 0))
        out.append(Candidate(pid, at, base[pid][0] + v, base[pid][1] + c))
    return out


def listed_papers(store: Store, ids: Sequence[str], start: date, end: date) -> list[ListedPaper]:
    """``ids`` (a ranking's order) as list cards with shown counts, each with its latest entry in ``start..end``."""
    from paperboy.store.store import ListedPaper

    if not ids:
        return []
    query = sa.select(daily_entries).where(
        daily_entries.c.paper_id.in_(list(ids)), daily_entries.c.day >= start, daily_entries.c.day <= end
    )
    with store.read() as conn:
        entries: dict[str, DailyEntry] = {}
        for r in conn.execute(query).mappings():
            if r["paper_id"] not in entries or r["day"] > entries[r["paper_id"]].day:
                entries[r["paper_id"]] = DailyEntry(r["paper_id"], r["day"], r["submitted_by"], r["submitted_at"])
        found = load_papers(conn, list(ids))
        add_local_counts(conn, found.values())
    return [ListedPaper(found[pid], entries[pid]) for pid in ids if pid in found and pid in entries]


# -- moderation ----------------------------------------------------------------------------------------------------


def set_paper_hidden(store: Store, paper_id: str, hidden: bool) -> None:
    """Hide a paper from every list, page and search index (or show it again)."""
    from paperboy.store.changes import set_hidden

    set_hidden(store, [paper_id], hidden)
