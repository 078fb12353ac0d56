"""What every source shares: the run report, record checks, and the batching ingest loop.

A source is a generator of :class:`Record` (a good paper, perhaps with its daily entry) and :class:`Skip` (a bad
input record with where it was and why). The source decides what "one batch" of input is (a file, a response) and
skips a paper id seen twice in it. :func:`ingest` writes records in transactions of ``batch_size``, so a crash
never leaves a half-written paper, and returns the run's report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paperboy.domain import Paper, Record, Skip
from paperboy.store import Store

MAX_ID_LENGTH = 64
EARLIEST_DATE = datetime(1989, 1, 1, tzinfo=UTC)  # before arXiv and before any record paperboy expects
FUTURE_SLACK = timedelta(days=731)  # dates up to two years ahead are plausible (clock skew, announced dates)
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Flush:
    """Yielded by a source when everything so far must be committed before it goes on (e.g. before saving a
    harvest checkpoint), so a resumed run never skips records that were read but not yet written."""


FLUSH = Flush()
Item = Record | Skip | Flush


@dataclass
class RunReport:
    source: str
    location: str
    seen: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skip] = field(default_factory=list)
    error: str | None = None  # a failure that stopped the run early (network down, unreadable folder)
    run_id: int | None = None

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        return "partial" if self.skipped else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "location": self.location,
            "status": self.status,
            "seen": self.seen,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [{"where": s.where, "reason": s.reason} for s in self.skipped],
            "error": self.error,
            "run_id": self.run_id,
        }


class SourceError(Exception):
    """A failure that stops a whole run (e.g. the upstream keeps failing); records already written stay."""


def clean_text(value: Any) -> str:
    """Collapse whitespace (arXiv wraps lines at 80 columns) and drop control characters."""
    if value is None:
        return ""
    text = str(value)
    if text.isprintable():  # fast path for most values: no control characters and no whitespace but " "
        if "  " not in text and not text.startswith(" ") and not text.endswith(" "):
            return text
        return " ".join(text.split())
    return " ".join(CONTROL_CHARS.sub(" ", text).split())


def problem_with(paper: Paper, now: datetime | None = None) -> str | None:
    """Why ``paper`` cannot be stored, or None when it is fine."""
    if not paper.id or not paper.id.strip():
        return "missing id"
    if len(paper.id) > MAX_ID_LENGTH:
        return f"id longer than {MAX_ID_LENGTH} characters"
    if CONTROL_CHARS.search(paper.id) or paper.id != paper.id.strip():
        return "id contains whitespace or control characters"
    if not paper.title.strip():
        return "missing title"
    latest = (now or datetime.now(UTC)) + FUTURE_SLACK  # not replace(year=+2): that raises on 29 February
    for name in ("published_at", "updated_at", "counts_as_of"):
        value = getattr(paper, name)
        if value is not None and not (EARLIEST_DATE <= value <= latest):
            return f"impossible {name} {value.isoformat()}"
    for version in paper.versions:
        if version.number < 1:
            return f"impossible version number {version.number}"
        if version.created_at is not None and not (EARLIEST_DATE <= version.created_at <= latest):
            return f"impossible date {version.created_at.isoformat()} of version {version.number}"
    return None


def parse_day(text: str) -> date:
    """A YYYY-MM-DD day; raises ValueError with the text for impossible dates such as 2024-02-30."""
    try:
        return date.fromisoformat(text[:10])
    except (TypeError, ValueError):
        raise ValueError(f"impossible date {text!r}") from None


def parse_timestamp(text: str | None) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (naive means UTC); raises ValueError when impossible."""
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"impossible date {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DuplicateGuard:
    """Remembers the ids of one input batch (a file, a response) to skip a paper listed twice in it."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def check(self, paper_id: str, where: str) -> Skip | None:
        first = self.seen.get(paper_id)
        if first is not None:
            return Skip(where, f"duplicate id {paper_id} in one batch (first at {first})")
        self.seen[paper_id] = where
        return None


def ingest(
    store: Store,
    items: Iterable[Item],
    source: str,
    location: str,
    batch_size: int = 2000,
    on_progress: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Write a source's records to the store in batches and record the run; returns its report."""
    report = RunReport(source=source, location=location)
    report.run_id = store.start_run(source, location)
    batch: list[Record] = []

    def flush() -> None:
        outcome = store.apply_batch(batch)
        report.new += outcome.new
        report.updated += outcome.updated
        report.unchanged += outcome.unchanged
        batch.clear()
        if on_progress:
            on_progress(report)

    try:
        for item in items:
            if isinstance(item, Flush):
                if batch:
                    flush()
                continue
            report.seen += 1
            if isinstance(item, Skip):
                report.skipped.append(item)
                continue
            reason = problem_with(item.paper)
            if reason:
                report.skipped.append(Skip(item.where, reason))
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    except SourceError as exc:
        if batch:
            flush()
        report.error = str(exc)
    except BaseException as exc:
        store.finish_run(report.run_id, report.as_dict(), "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    store.finish_run(report.run_id, report.as_dict(), report.status, error=report.error)
    return report
