"""Reading the change log (``paper_changes``) and the papers a search index should hold.

Derived indexes follow the log instead of scanning the store: every insert or update of a paper appends
(seq, paper_id). On PostgreSQL seqs are handed out when a transaction writes but become visible when it commits,
so a reader can see seq 7 before seq 5; :func:`read_changes` therefore also re-reads seqs the caller noticed
missing. What to index is always the paper's *current* state, so applying a change twice is harmless.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from paperboy.domain import Paper
from paperboy.store.papers import load_papers, log_changes
from paperboy.store.schema import paper_changes, papers
from paperboy.store.store import Store, utcnow

_CHUNK = 900  # stays under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    paper_id: str


@dataclass(frozen=True, slots=True)
class IndexBatch:
    """The current state of some papers, for an index: papers to (re)index and ids to remove."""

    visible: list[Paper]
    removed: list[str]  # hidden, or no longer in the store


def latest_seq(store: Store) -> int:
    """The highest committed seq (0 for an empty log)."""
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.max(paper_changes.c.seq))).scalar_one_or_none() or 0)


def read_changes(store: Store, after: int, also: Collection[int] = (), limit: int = 5000) -> list[Change]:
    """Changes with seq > ``after`` (at most ``limit``, in seq order) plus any of the seqs in ``also``."""
    with store.read() as conn:
        found = [
            Change(int(seq), pid)
            for seq, pid in conn.execute(
                sa.select(paper_changes.c.seq, paper_changes.c.paper_id)
                .where(paper_changes.c.seq > after)
                .order_by(paper_changes.c.seq)
                .limit(limit)
            )
        ]
        wanted = sorted(set(also))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found += [
                Change(int(seq), pid)
                for seq, pid in conn.execute(
                    sa.select(paper_changes.c.seq, paper_changes.c.paper_id).where(paper_changes.c.seq.in_(chunk))
                )
            ]
    return sorted(set(found), key=lambda c: c.seq)


def seqs_between(store: Store, low: int, high: int) -> set[int]:
    """The committed seqs in (low, high]: the caller learns which ones are not (yet) visible."""
    with store.read() as conn:
        return {
            int(seq)
            for seq in conn.execute(
                sa.select(paper_changes.c.seq).where(paper_changes.c.seq > low, paper_changes.c.seq <= high)
            ).scalars()
        }


def load_for_index(store: Store, ids: Sequence[str]) -> IndexBatch:
    """The current state of ``ids``: visible papers to index, and ids that are hidden or gone."""
    ids = list(dict.fromkeys(ids))
    with store.read() as conn:
        found = load_papers(conn, ids)
        hidden = _hidden(conn, list(found))
    visible = [found[pid] for pid in ids if pid in found and pid not in hidden]
    return IndexBatch(visible=visible, removed=[pid for pid in ids if pid not in found or pid in hidden])


def iter_visible(store: Store, batch_size: int = 1000) -> Iterator[list[Paper]]:
    """Every visible paper, in id order and keyset-paginated batches, for a full rebuild with flat memory."""
    after = ""
    while True:
        with store.read() as conn:
            ids = list(
                conn.execute(
                    sa.select(papers.c.id)
                    .where(papers.c.id > after, papers.c.hidden == sa.false())
                    .order_by(papers.c.id)
                    .limit(batch_size)
                ).scalars()
            )
            if not ids:
                return
            found = load_papers(conn, ids)
        yield [found[pid] for pid in ids if pid in found]
        after = ids[-1]


def set_hidden(store: Store, ids: Sequence[str], hidden: bool = True) -> None:
    """Hide papers from lists and search (moderation) or show them again, logging the change for indexes."""
    ids = list(dict.fromkeys(ids))
    now = utcnow()
    with store.write() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            conn.execute(papers.update().where(papers.c.id.in_(chunk)).values(hidden=hidden, modified_at=now))
        log_changes(conn, ids, now)


def _hidden(conn: sa.Connection, ids: list[str]) -> set[str]:
    hidden: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        hidden |= set(
            conn.execute(sa.select(papers.c.id).where(papers.c.id.in_(chunk), papers.c.hidden == sa.true())).scalars()
        )
    return hidden
