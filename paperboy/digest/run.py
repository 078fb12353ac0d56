"""One digest run end to end: find or create the period's run, plan it (once), send it until it is finished.

This is what ``paperboy digest run`` and the scheduled jobs call. Every step can be interrupted at any moment and
started again: the run is unique per period, planning skips subscribers that have their row, and the outbox only
ever moves a row forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from paperboy.app import Paperboy
from paperboy.digest.periods import Period, last_complete, period_for
from paperboy.digest.plan import PlanReport, plan_run
from paperboy.digest.send import Sender, SendReport
from paperboy.digest.subscriptions import utc_now
from paperboy.store import digests as db


@dataclass
class RunResult:
    run_id: int
    period: Period
    plan: PlanReport
    send: SendReport
    counts: dict[str, int]
    finished: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "period": self.period.kind,
            "key": self.period.key,
            "first_day": self.period.first_day.isoformat(),
            "last_day": self.period.last_day.isoformat(),
            "finished": self.finished,
            **self.counts,
        }


def resolve_period(pb: Paperboy, kind: str, day: date | None, clock: Callable[[], datetime] = utc_now) -> Period:
    """The period of ``day``, or the newest complete one (yesterday, last week) on the site's calendar."""
    if day is not None:
        return period_for(kind, day)
    return last_complete(kind, clock(), ZoneInfo(pb.settings.timezone))


def plan(pb: Paperboy, period: Period, clock: Callable[[], datetime] = utc_now) -> tuple[dict[str, Any], PlanReport]:
    run = db.get_or_create_run(pb.store, period.kind, period.key, period.first_day, period.last_day, clock())
    return run, plan_run(pb, run, period, clock)


def run_digest(
    pb: Paperboy,
    kind: str,
    day: date | None = None,
    respect_due: bool = False,
    wait: bool = True,
    clock: Callable[[], datetime] = utc_now,
    sender: Sender | None = None,
) -> RunResult:
    """Plan and send one period's digests. ``respect_due`` holds each row until its subscriber's send hour (the
    scheduler's way); an operator's explicit run sends at once."""
    period = resolve_period(pb, kind, day, clock)
    run, plan_report = plan(pb, period, clock)
    sender = sender or Sender(pb, respect_due=respect_due, clock=clock)
    send_report = sender.drain(run["id"], wait=wait)
    finished = db.finish_if_done(pb.store, run["id"], clock())
    return RunResult(run["id"], period, plan_report, send_report, db.run_counts(pb.store, run["id"]), finished)


def status(pb: Paperboy, run_id: int | None = None, kind: str | None = None) -> dict[str, Any] | None:
    """A run's counts (the latest run when no id is given): planned, sent, failed, pending, skipped."""
    run = db.get_run(pb.store, run_id) if run_id is not None else db.latest_run(pb.store, kind)
    if run is None:
        return None
    return {
        "run": run["id"],
        "period": run["period"],
        "key": run["period_key"],
        "planned_at": run["planned_at"].isoformat() if run["planned_at"] else None,
        "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
        **db.run_counts(pb.store, run["id"]),
    }


def resend_failed(pb: Paperboy, run_id: int, lift_suppression: bool = False) -> tuple[int, SendReport]:
    """Put a run's failed rows back in the outbox and send only them (same Message-IDs)."""
    count = db.reset_failed(pb.store, run_id, lift_suppression)
    report = Sender(pb, respect_due=False).drain(run_id, wait=True) if count else SendReport()
    return count, report
