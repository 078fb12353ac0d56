"""The store: the only truth, and the only place with SQL (with its helper modules in this package)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from paperboy.domain import DailyEntry, Paper, Record, merge_papers
from paperboy.store import engine as engines
from paperboy.store.papers import bulk_insert, insert_papers, load_papers, load_texts, replace_papers
from paperboy.store.schema import daily_entries, harvest_checkpoints, ingest_runs, papers

INGEST_LOCK_KEY = 7_201_105  # the PostgreSQL advisory lock that serialises ingest batches
ENTRY_COLUMNS = ("paper_id", "day", "submitted_by", "submitted_at")


@dataclass(slots=True)
class BatchOutcome:
    """How each record of a batch changed the store: counted per record, in the order given."""

    new: int = 0  # the paper was not known before
    updated: int = 0  # the paper changed, or it joined another day's list
    unchanged: int = 0


@dataclass(slots=True, frozen=True)
class ListedPaper:
    """A paper on a day's list, with its entry."""

    paper: Paper
    entry: DailyEntry


def utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engines.create_engine(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> str | None:
        return engines.migrate(self.engine)

    def is_current(self) -> bool:
        return engines.current_revision(self.engine) == engines.head_revision()

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success, rolled back on error."""
        with self.engine.connect().execution_options(**engines.WRITE) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- ingest ------------------------------------------------------------------------------------------------

    def apply_batch(self, records: Sequence[Record]) -> BatchOutcome:
        """Merge one batch of records into the store in one transaction. A paper may appear more than once."""
        outcome = BatchOutcome()
        now = utcnow()
        with self.write() as conn:
            if self.dialect == "postgresql":
                # Read-merge-write must not interleave between processes (SQLite gets this from BEGIN IMMEDIATE).
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": INGEST_LOCK_KEY})
            existing = load_papers(conn, [r.paper.id for r in records])
            entry_keys = [(r.entry.paper_id, r.entry.day) for r in records if r.entry]
            known_entries = self._existing_entries(conn, entry_keys)
            current: dict[str, Paper] = dict(existing)  # the state as of the records applied so far
            inserted: dict[str, None] = {}  # insertion order kept
            new_entries: list[tuple[Any, ...]] = []
            for record in records:
                paper, entry = record.paper, record.entry
                entry_is_new = entry is not None and (entry.paper_id, entry.day) not in known_entries
                if entry is not None and entry_is_new:
                    known_entries.add((entry.paper_id, entry.day))
                    new_entries.append((entry.paper_id, entry.day, entry.submitted_by, entry.submitted_at))
                before = current.get(paper.id)
                if before is None:
                    current[paper.id] = paper
                    inserted[paper.id] = None
                    outcome.new += 1
                    continue
                merged = merge_papers(before, paper)
                current[paper.id] = merged
                if merged != before or entry_is_new:
                    outcome.updated += 1
                else:
                    outcome.unchanged += 1
            insert_papers(conn, [current[pid] for pid in inserted], now)
            replace_papers(conn, [p for pid, p in current.items() if pid in existing and p != existing[pid]], now)
            bulk_insert(conn, "daily_entries", ENTRY_COLUMNS, new_entries)
        return outcome

    @staticmethod
    def _existing_entries(conn: sa.Connection, keys: list[tuple[str, date]]) -> set[tuple[str, date]]:
        if not keys:
            return set()
        ids = sorted({pid for pid, _ in keys})
        days = sorted({day for _, day in keys})
        rows = conn.execute(
            sa.select(daily_entries.c.paper_id, daily_entries.c.day).where(
                daily_entries.c.paper_id.in_(ids), daily_entries.c.day.in_(days)
            )
        )
        return {(pid, day) for pid, day in rows}

    def get_paper(self, paper_id: str) -> Paper | None:
        with self.read() as conn:
            return load_papers(conn, [paper_id]).get(paper_id)

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        with self.read() as conn:
            return load_papers(conn, ids)

    def get_texts(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Title and abstract of each stored paper among ``ids`` (the text search reads, without the rest)."""
        with self.read() as conn:
            return load_texts(conn, ids)

    def iter_papers(self, batch_size: int = 1000) -> Iterator[Paper]:
        """Every paper in id order, read in keyset-paginated batches so memory stays flat."""
        after = ""
        while True:
            with self.read() as conn:
                ids = list(
                    conn.execute(
                        sa.select(papers.c.id).where(papers.c.id > after).order_by(papers.c.id).limit(batch_size)
                    ).scalars()
                )
                if not ids:
                    return
                found = load_papers(conn, ids)
            for pid in ids:
                yield found[pid]
            after = ids[-1]

    def entries_for(self, paper_ids: Sequence[str]) -> dict[str, list[DailyEntry]]:
        with self.read() as conn:
            rows = conn.execute(
                sa.select(daily_entries)
                .where(daily_entries.c.paper_id.in_(list(paper_ids)))
                .order_by(daily_entries.c.day)
            ).mappings()
            result: dict[str, list[DailyEntry]] = {}
            for row in rows:
                result.setdefault(row["paper_id"], []).append(_entry(row))
            return result

    # -- ingest runs and checkpoints ---------------------------------------------------------------------------

    def start_run(self, source: str, location: str) -> int:
        with self.write() as conn:
            result = conn.execute(
                ingest_runs.insert().values(
                    source=source, location=location, status="running", started_at=utcnow(), skipped=[]
                )
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, report: dict[str, Any], status: str, error: str | None = None) -> None:
        with self.write() as conn:
            conn.execute(
                ingest_runs.update()
                .where(ingest_runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    seen=report["seen"],
                    new=report["new"],
                    updated=report["updated"],
                    unchanged=report["unchanged"],
                    skipped=report["skipped"],
                    error=error,
                )
            )

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(sa.select(ingest_runs).order_by(ingest_runs.c.id.desc()).limit(limit)).mappings()
            return [dict(row) for row in rows]

    def load_checkpoint(self, key: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(sa.select(harvest_checkpoints).where(harvest_checkpoints.c.key == key)).mappings()
            found = row.first()
            return dict(found) if found else None

    def save_checkpoint(self, key: str, token: str | None, state: dict[str, Any]) -> None:
        with self.write() as conn:
            conn.execute(harvest_checkpoints.delete().where(harvest_checkpoints.c.key == key))
            conn.execute(harvest_checkpoints.insert().values(key=key, token=token, state=state, updated_at=utcnow()))

    def clear_checkpoint(self, key: str) -> None:
        with self.write() as conn:
            conn.execute(harvest_checkpoints.delete().where(harvest_checkpoints.c.key == key))

    # -- lists and stats ---------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self.read() as conn:
            count_papers = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
            count_entries = conn.execute(sa.select(sa.func.count()).select_from(daily_entries)).scalar_one()
            first, last = conn.execute(
                sa.select(sa.func.min(daily_entries.c.day), sa.func.max(daily_entries.c.day))
            ).one()
            days = conn.execute(sa.select(sa.func.count(sa.distinct(daily_entries.c.day)))).scalar_one()
        return {
            "papers": int(count_papers),
            "daily_entries": int(count_entries),
            "days": int(days),
            "first_day": first.isoformat() if first else None,
            "last_day": last.isoformat() if last else None,
        }

    def latest_day(self, on_or_before: date | None = None) -> date | None:
        query = sa.select(sa.func.max(daily_entries.c.day))
        if on_or_before is not None:
            query = query.where(daily_entries.c.day <= on_or_before)
        with self.read() as conn:
            return conn.execute(query).scalar_one_or_none()

    def neighbour_days(self, day: date) -> tuple[date | None, date | None]:
        """The nearest days before and after ``day`` that have papers."""
        with self.read() as conn:
            before = conn.execute(
                sa.select(sa.func.max(daily_entries.c.day)).where(daily_entries.c.day < day)
            ).scalar_one_or_none()
            after = conn.execute(
                sa.select(sa.func.min(daily_entries.c.day)).where(daily_entries.c.day > day)
            ).scalar_one_or_none()
        return before, after

    def daily_list(
        self,
        start: date,
        end: date | None = None,
        limit: int | None = None,
        offset: int = 0,
        submitter: str | None = None,
    ) -> list[ListedPaper]:
        """Papers listed on days ``start``..``end`` (inclusive), most upvoted first (shown upvotes: imported base +
        local votes), then earliest submitted. A paper listed twice in the range appears once, at its first entry."""
        from paperboy.store.community import add_local_counts, local_vote_count

        end = end or start
        query = (
            sa.select(daily_entries)
            .join(papers, papers.c.id == daily_entries.c.paper_id)
            .where(daily_entries.c.day >= start, daily_entries.c.day <= end, papers.c.hidden == sa.false())
            .order_by(
                (papers.c.upvotes + local_vote_count()).desc(),
                daily_entries.c.submitted_at.asc(),
                daily_entries.c.paper_id,
            )
            .offset(offset)
        )
        if end != start:
            query = query.where(~_earlier_entry_in(start))
        if submitter:
            query = query.where(daily_entries.c.submitted_by == submitter)
        if limit is not None:
            query = query.limit(limit)
        with self.read() as conn:
            entries = [_entry(row) for row in conn.execute(query).mappings()]
            found = load_papers(conn, [e.paper_id for e in entries])
            add_local_counts(conn, found.values())
        return [ListedPaper(found[e.paper_id], e) for e in entries]

    # -- web queries -------------------------------------------------------------------------------------------

    def count_papers(self) -> int:
        """Visible papers: one cheap query, so a load balancer's health probe never costs a full `stats()`."""
        query = sa.select(sa.func.count()).select_from(papers).where(papers.c.hidden == sa.false())
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def count_listed(self, day: date, end: date | None = None) -> int:
        """How many visible papers the list of ``day`` (or days ``day``..``end``) holds, for paged lists."""
        end = end or day
        query = (
            sa.select(sa.func.count(sa.distinct(daily_entries.c.paper_id)))
            .select_from(daily_entries.join(papers, papers.c.id == daily_entries.c.paper_id))
            .where(daily_entries.c.day >= day, daily_entries.c.day <= end, papers.c.hidden == sa.false())
        )
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())


def _earlier_entry_in(start: date) -> sa.Exists:
    """An entry of the same paper on an earlier day of the range (so ranges list each paper once)."""
    earlier = daily_entries.alias("earlier")
    return (
        sa.select(earlier.c.paper_id)
        .where(
            earlier.c.paper_id == daily_entries.c.paper_id,
            earlier.c.day >= start,
            earlier.c.day < daily_entries.c.day,
        )
        .exists()
    )


def _entry(row: Any) -> DailyEntry:
    return DailyEntry(
        paper_id=row["paper_id"],
        day=row["day"],
        submitted_by=row["submitted_by"],
        submitted_at=row["submitted_at"],
    )
