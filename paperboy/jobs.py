"""Scheduled work: plan each finished digest period once, and keep sending rows as they fall due.

``paperboy serve`` runs :func:`run_forever` in a background thread (one machine, SQLite); ``paperboy worker`` runs
it in the foreground on other machines against PostgreSQL. Planning a period is a job with a lock row in the
database (``job_runs``, unique per job and period), so a job fired twice, or on several nodes at once, runs once;
sending is safe to run everywhere at once because the outbox hands each row to one sender.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from paperboy.app import Paperboy
from paperboy.digest.periods import last_complete
from paperboy.digest.run import plan
from paperboy.digest.send import Sender, sender_id
from paperboy.digest.subscriptions import utc_now
from paperboy.store import digests as db

log = logging.getLogger(__name__)
STALE_JOB = timedelta(minutes=10)  # a planning job whose owner stopped beating this long ago is taken over
TICK_SECONDS = 30.0


def plan_due_periods(pb: Paperboy, now: datetime, owner: str) -> list[str]:
    """Plan the newest complete daily period (weekdays only) and weekly period, each once. Returns job keys run."""
    done = []
    site_tz = ZoneInfo(pb.settings.timezone)
    for kind in ("daily", "weekly"):
        period = last_complete(kind, now, site_tz)
        if kind == "daily" and period.last_day.weekday() >= 5:
            continue  # daily digests go out on weekdays; Monday's covers the weekend
        name = f"digest-{kind}"
        if not db.claim_job(pb.store, name, period.key, owner, now, STALE_JOB):
            continue
        try:
            plan(pb, period, clock=lambda: now)
        except Exception as exc:
            log.exception("planning %s %s failed", kind, period.key)
            db.finish_job(pb.store, name, period.key, owner, utc_now(), error=str(exc)[:2000])
            continue
        db.finish_job(pb.store, name, period.key, owner, utc_now())
        done.append(f"{name}:{period.key}")
    return done


def send_due(pb: Paperboy, clock: Callable[[], datetime] = utc_now, stop: threading.Event | None = None) -> int:
    """Send every row of unfinished runs whose subscriber's hour has come; returns how many were sent."""
    sent = 0
    for run in db.unfinished_runs(pb.store):
        sender = Sender(pb, respect_due=True, clock=clock)
        if stop is not None:
            sender.stop = stop
        sent += sender.drain(run["id"], wait=False).sent
    return sent


def tick(pb: Paperboy, clock: Callable[[], datetime] = utc_now, stop: threading.Event | None = None) -> None:
    plan_due_periods(pb, clock(), sender_id())
    send_due(pb, clock, stop)


def run_forever(pb: Paperboy, stop: threading.Event, interval: float = TICK_SECONDS) -> None:
    """Tick until ``stop`` is set; an error in one tick is logged and the next tick tries again."""
    while not stop.is_set():
        try:
            tick(pb, stop=stop)
        except Exception:
            log.exception("scheduled digest work failed; trying again in %.0f s", interval)
        stop.wait(interval)


def start_in_background(pb: Paperboy) -> threading.Event:
    """The single-process mode: the scheduler in a daemon thread of ``paperboy serve``. Set the event to stop."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(pb, stop), name="paperboy-jobs", daemon=True).start()
    return stop
