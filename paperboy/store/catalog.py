"""Reading the catalogue of papers beyond the daily lists: keyset pages of every paper (``GET /api/papers``), the
newest papers of an author or a category (their feeds), and a paper's latest list entry (``GET /api/papers/{id}``).

Keyset pagination (``id < last id seen``) instead of OFFSET: a client walking 100k papers costs the same per page
at the end as at the start, and papers added meanwhile never shift a page under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from paperboy.domain import DailyEntry, Paper
from paperboy.store.community import add_local_counts
from paperboy.store.papers import load_papers
from paperboy.store.schema import daily_entries, paper_authors, paper_categories, papers
from paperboy.store.store import Store


@dataclass(frozen=True, slots=True)
class CatalogPage:
    """Papers with shown counts, each with its latest list entry (None if never listed), and whether more follow."""

    papers: list[tuple[Paper, DailyEntry | None]]
    has_more: bool


def latest_entries(conn: sa.Connection, ids: list[str]) -> dict[str, DailyEntry]:
    """The most recent daily entry of each paper that has one."""
    found: dict[str, DailyEntry] = {}
    if not ids:
        return found
    query = sa.select(daily_entries).where(daily_entries.c.paper_id.in_(ids))
    for row in conn.execute(query).mappings():
        if row["paper_id"] not in found or row["day"] > found[row["paper_id"]].day:
            found[row["paper_id"]] = DailyEntry(row["paper_id"], row["day"], row["submitted_by"], row["submitted_at"])
    return found


def _page(conn: sa.Connection, ids: list[str]) -> list[tuple[Paper, DailyEntry | None]]:
    found = load_papers(conn, ids)
    add_local_counts(conn, found.values())
    entries = latest_entries(conn, ids)
    return [(found[pid], entries.get(pid)) for pid in ids if pid in found]


def papers_page(store: Store, before: str | None, limit: int) -> CatalogPage:
    """Visible papers in descending id order (newest arXiv ids first), those with an id below ``before``."""
    query = sa.select(papers.c.id).where(papers.c.hidden == sa.false()).order_by(papers.c.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(papers.c.id < before)
    with store.read() as conn:
        ids = list(conn.execute(query).scalars())
        return CatalogPage(_page(conn, ids[:limit]), len(ids) > limit)


def paper_with_entry(store: Store, paper_id: str) -> tuple[Paper, DailyEntry | None] | None:
    """One visible paper with shown counts and its latest entry, or None."""
    with store.read() as conn:
        hidden = conn.execute(sa.select(papers.c.hidden).where(papers.c.id == paper_id)).scalar_one_or_none()
        if hidden is None or hidden:
            return None
        page = _page(conn, [paper_id])
    return page[0] if page else None


def newest_papers(
    store: Store, limit: int, author: str | None = None, category: str | None = None
) -> list[tuple[Paper, DailyEntry | None]]:
    """The newest visible papers (by publication time, then id) of an author (exact name) or in a category (an arXiv
    category like ``cs.CL``, or a whole archive like ``cs``), for their feeds."""
    query = sa.select(papers.c.id).where(papers.c.hidden == sa.false())
    if author is not None:
        query = query.where(sa.exists().where(paper_authors.c.paper_id == papers.c.id, paper_authors.c.name == author))
    if category is not None:
        match = paper_categories.c.category == category
        if "." not in category:
            match = sa.or_(match, paper_categories.c.category.like(category.replace("%", "").replace("_", "") + ".%"))
        query = query.where(sa.exists().where(paper_categories.c.paper_id == papers.c.id, match))
    query = query.order_by(papers.c.published_at.desc().nulls_last(), papers.c.id.desc()).limit(limit)
    with store.read() as conn:
        ids = list(conn.execute(query).scalars())
        return _page(conn, ids)
