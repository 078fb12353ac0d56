"""`paperboy export`: every paper with its daily entries as JSON lines, the format `paperboy ingest jsonl` reads.

The export is a backup and a migration path (SQLite to PostgreSQL, one site to another), so it is exact: exporting,
importing into an empty store and exporting again gives the same bytes. Papers are read in id order in batches, so
memory stays flat however large the store. ``docs/jsonl-format.md`` documents every key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from paperboy.domain import DailyEntry, Paper
from paperboy.store import Store

BATCH_SIZE = 1000


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``, microseconds only when there are some."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def paper_to_json(paper: Paper, entries: list[DailyEntry]) -> dict[str, Any]:
    """One export line's object: every paper field, then its daily entries (in the order given)."""
    return {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "published_at": iso(paper.published_at),
        "updated_at": iso(paper.updated_at),
        "versions": [{"version": v.number, "created_at": iso(v.created_at)} for v in paper.versions],
        "doi": paper.doi,
        "journal_ref": paper.journal_ref,
        "comments": paper.comments,
        "license": paper.license,
        "links": dict(sorted(paper.links.items())),
        "github_stars": paper.github_stars,
        "ai_summary": paper.ai_summary,
        "ai_keywords": None if paper.ai_keywords is None else list(paper.ai_keywords),
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "counts_as_of": iso(paper.counts_as_of),
        "daily": [
            {"day": e.day.isoformat(), "submitted_by": e.submitted_by, "submitted_at": iso(e.submitted_at)}
            for e in entries
        ],
    }


def _batches(store: Store) -> Iterator[list[Paper]]:
    batch: list[Paper] = []
    for paper in store.iter_papers(batch_size=BATCH_SIZE):
        batch.append(paper)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def write_jsonl(store: Store, out: TextIO) -> int:
    """Write every paper of ``store`` to ``out``, one JSON object per line, in id order; returns how many."""
    count = 0
    for batch in _batches(store):
        entries = store.entries_for([p.id for p in batch])
        lines = [orjson.dumps(paper_to_json(p, entries.get(p.id, []))).decode() for p in batch]
        out.write("\n".join(lines) + "\n")
        count += len(batch)
    return count
