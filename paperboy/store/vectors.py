"""Stored paper embeddings: which papers need one, writing them, and reading them back to build an ANN index.

Vectors are computed once and kept here (float32, with the model that made them), so a new web node builds its
index from the store instead of re-embedding. A paper needs a (new) vector when it has none for the current model,
or when it changed since its vector was made: each vector records the ``papers.modified_at`` of the version it was
made from, so a change committed while the embedder ran is never mistaken for embedded. Most changes (upvote
counts) leave the text alone; the stored text hash lets the job confirm those without running the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from paperboy.store.schema import paper_vectors, papers
from paperboy.store.store import Store


@dataclass(frozen=True, slots=True)
class PendingPaper:
    """A paper whose vector is missing or stale, with what the embedding job needs to decide and to embed."""

    paper_id: str
    title: str
    abstract: str
    modified_at: datetime
    stored_model: str | None  # None: no vector yet
    stored_hash: str | None


@dataclass(frozen=True, slots=True)
class StoredVector:
    """One vector to write: made by ``model`` from the text hashing to ``text_hash`` of the paper version
    last modified at ``paper_modified_at``."""

    paper_id: str
    model: str
    vector: np.ndarray
    text_hash: str
    paper_modified_at: datetime


def to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes, dim: int) -> np.ndarray:
    vector = np.frombuffer(data, dtype="<f4")
    if vector.shape[0] != dim:
        raise ValueError(f"stored vector has {vector.shape[0]} values, expected {dim}")
    return vector.astype(np.float32)


def _stale(model: str) -> sa.ColumnElement[bool]:
    return sa.or_(
        paper_vectors.c.paper_id.is_(None),
        paper_vectors.c.model != model,
        paper_vectors.c.paper_modified_at != papers.c.modified_at,
    )


def _joined() -> sa.Join:
    return papers.outerjoin(paper_vectors, paper_vectors.c.paper_id == papers.c.id)


def pending_papers(conn: sa.Connection, model: str, after: str = "", limit: int = 100) -> list[PendingPaper]:
    """Up to ``limit`` papers needing a vector for ``model``, in id order after ``after`` (keyset pagination, so a
    run visits each paper once even while others change)."""
    query = (
        sa.select(
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            papers.c.modified_at,
            paper_vectors.c.model,
            paper_vectors.c.text_hash,
        )
        .select_from(_joined())
        .where(papers.c.id > after, _stale(model))
        .order_by(papers.c.id)
        .limit(limit)
    )
    return [PendingPaper(*row) for row in conn.execute(query)]


def count_pending(conn: sa.Connection, model: str) -> int:
    query = sa.select(sa.func.count()).select_from(_joined()).where(_stale(model))
    return int(conn.execute(query).scalar_one())


def embedding_counts(conn: sa.Connection, model: str) -> tuple[int, int]:
    """(papers with an up-to-date vector for ``model``, all papers)."""
    total = int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())
    return total - count_pending(conn, model), total


def save_vectors(conn: sa.Connection, items: Sequence[StoredVector], now: datetime) -> None:
    """Insert or replace the vectors of these papers (a paper deleted meanwhile is skipped, not an error)."""
    if not items:
        return
    ids = [item.paper_id for item in items]
    present = set(conn.execute(sa.select(papers.c.id).where(papers.c.id.in_(ids))).scalars())
    conn.execute(paper_vectors.delete().where(paper_vectors.c.paper_id.in_(ids)))
    rows = [
        {
            "paper_id": item.paper_id,
            "model": item.model,
            "dim": int(item.vector.shape[0]),
            "vector": to_bytes(item.vector),
            "text_hash": item.text_hash,
            "paper_modified_at": item.paper_modified_at,
            "embedded_at": now,
        }
        for item in items
        if item.paper_id in present
    ]
    if rows:
        conn.execute(paper_vectors.insert(), rows)


def confirm_vectors(conn: sa.Connection, confirmed: Sequence[tuple[str, datetime]]) -> None:
    """Mark vectors as current for a newer paper version whose text did not change (the vector stays, and so does
    ``embedded_at``, so web nodes have nothing to re-read)."""
    if not confirmed:
        return
    conn.execute(
        paper_vectors.update()
        .where(paper_vectors.c.paper_id == sa.bindparam("b_id"))
        .values(paper_modified_at=sa.bindparam("b_modified")),
        [{"b_id": pid, "b_modified": modified} for pid, modified in confirmed],
    )


def load_vectors(conn: sa.Connection, model: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vectors of ``model`` among ``ids``."""
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), 900):
        chunk = list(ids[start : start + 900])
        rows = conn.execute(
            sa.select(paper_vectors.c.paper_id, paper_vectors.c.dim, paper_vectors.c.vector).where(
                paper_vectors.c.paper_id.in_(chunk), paper_vectors.c.model == model
            )
        )
        for pid, dim, data in rows:
            found[pid] = from_bytes(data, dim)
    return found


def iter_vectors(
    store: Store, model: str, since: datetime | None = None, batch_size: int = 5000
) -> Iterator[tuple[list[str], np.ndarray]]:
    """All stored vectors of ``model`` (written at or after ``since``, if given) as (ids, matrix) batches in id
    order, one short read transaction per batch so memory stays flat and the writer is never held up."""
    after = ""
    while True:
        query = (
            sa.select(paper_vectors.c.paper_id, paper_vectors.c.dim, paper_vectors.c.vector)
            .where(paper_vectors.c.model == model, paper_vectors.c.paper_id > after)
            .order_by(paper_vectors.c.paper_id)
            .limit(batch_size)
        )
        if since is not None:
            query = query.where(paper_vectors.c.embedded_at >= since)
        with store.read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        ids = [row[0] for row in rows]
        yield ids, np.stack([from_bytes(data, dim) for _, dim, data in rows])
        after = ids[-1]


def latest_embedded_at(conn: sa.Connection, model: str) -> datetime | None:
    """When the newest vector of ``model`` was written: the watermark a web node syncs from."""
    return conn.execute(
        sa.select(sa.func.max(paper_vectors.c.embedded_at)).where(paper_vectors.c.model == model)
    ).scalar_one_or_none()


def stored_ids(conn: sa.Connection, model: str) -> set[str]:
    """Ids of papers having a vector of ``model``: lets an index drop entries whose paper is gone."""
    return set(conn.execute(sa.select(paper_vectors.c.paper_id).where(paper_vectors.c.model == model)).scalars())
