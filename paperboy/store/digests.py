"""All SQL of email digests: subscribers, suppressions, runs, the outbox, per-subscriber history and job locks.

Functions take a :class:`~paperboy.store.Store` when they are one transaction of their own, or a
``sa.Connection`` when the caller composes several into one transaction. Every write that could race with another
process is written to be safe when repeated: inserts skip rows that exist (``ON CONFLICT DO NOTHING``), claims use
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers with ``BEGIN IMMEDIATE``), and every state
change of an outbox row says which state it expects to leave.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from paperboy.store.engine import WRITE
from paperboy.store.schema import (
    UTCDateTime,
    digest_history,
    digest_outbox,
    digest_runs,
    digest_subscribers,
    job_runs,
    mail_suppressions,
    rate_limits,
)
from paperboy.store.store import Store

Row = dict[str, Any]


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT that can say ``on_conflict_do_nothing`` in either dialect."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# -- subscribers -----------------------------------------------------------------------------------------------


def subscriber_by_id(conn: sa.Connection, subscriber_id: int) -> Row | None:
    row = conn.execute(sa.select(digest_subscribers).where(digest_subscribers.c.id == subscriber_id)).mappings()
    found = row.first()
    return dict(found) if found else None


def subscriber_by_email(conn: sa.Connection, email: str) -> Row | None:
    row = conn.execute(sa.select(digest_subscribers).where(digest_subscribers.c.email == email)).mappings()
    found = row.first()
    return dict(found) if found else None


def insert_subscriber(conn: sa.Connection, values: Row) -> int:
    result = conn.execute(digest_subscribers.insert().values(**values))
    return int(result.inserted_primary_key[0])


def update_subscriber(conn: sa.Connection, subscriber_id: int, values: Row) -> None:
    conn.execute(digest_subscribers.update().where(digest_subscribers.c.id == subscriber_id).values(**values))


def insert_subscribers(conn: sa.Connection, rows: Sequence[Row]) -> int:
    """Bulk insert of new subscribers (an import); addresses already present are left alone. Returns rows added."""
    if not rows:
        return 0
    before = conn.execute(sa.select(sa.func.count()).select_from(digest_subscribers)).scalar_one()
    conn.execute(_insert(conn, digest_subscribers).on_conflict_do_nothing(index_elements=["email"]), list(rows))
    after = conn.execute(sa.select(sa.func.count()).select_from(digest_subscribers)).scalar_one()
    return int(after - before)


def subscribers_by_email(conn: sa.Connection, emails: Sequence[str]) -> dict[str, Row]:
    if not emails:
        return {}
    rows = conn.execute(sa.select(digest_subscribers).where(digest_subscribers.c.email.in_(list(emails))))
    return {row["email"]: dict(row) for row in rows.mappings()}


def subscribers_to_plan(conn: sa.Connection, frequency: str, after_id: int, limit: int) -> list[Row]:
    """Confirmed subscribers of one frequency, in id order after ``after_id`` (keyset pages)."""
    query = (
        sa.select(digest_subscribers)
        .where(
            digest_subscribers.c.status == "confirmed",
            digest_subscribers.c.frequency == frequency,
            digest_subscribers.c.id > after_id,
        )
        .order_by(digest_subscribers.c.id)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def subscriber_counts(store: Store) -> dict[str, int]:
    query = sa.select(digest_subscribers.c.status, sa.func.count()).group_by(digest_subscribers.c.status)
    with store.read() as conn:
        counts = {status: int(n) for status, n in conn.execute(query)}
        counts["suppressed"] = int(conn.execute(sa.select(sa.func.count()).select_from(mail_suppressions)).scalar_one())
    return counts


# -- suppressions ----------------------------------------------------------------------------------------------


def suppress(conn: sa.Connection, email: str, reason: str, now: datetime) -> None:
    conn.execute(
        _insert(conn, mail_suppressions)
        .values(email=email, reason=reason, created_at=now)
        .on_conflict_do_nothing(index_elements=["email"])
    )


def unsuppress(conn: sa.Connection, emails: Iterable[str]) -> int:
    result = conn.execute(mail_suppressions.delete().where(mail_suppressions.c.email.in_(list(emails))))
    return int(result.rowcount or 0)


def suppressed(conn: sa.Connection, emails: Sequence[str]) -> set[str]:
    if not emails:
        return set()
    query = sa.select(mail_suppressions.c.email).where(mail_suppressions.c.email.in_(list(emails)))
    return set(conn.execute(query).scalars())


# -- rate limits (the shared fixed-window counters) ------------------------------------------------------------


def hit_rate_limit(store: Store, key: str, window_start: datetime, limit: int) -> bool:
    """Count one hit for ``key`` in the window; True when it is within ``limit``. Counters live in the database so
    every web node agrees."""
    with store.write() as conn:
        conn.execute(
            _insert(conn, rate_limits)
            .values(key=key, window_start=window_start, hits=0)
            .on_conflict_do_nothing(index_elements=["key", "window_start"])
        )
        where = (rate_limits.c.key == key) & (rate_limits.c.window_start == window_start)
        conn.execute(rate_limits.update().where(where).values(hits=rate_limits.c.hits + 1))
        hits = conn.execute(sa.select(rate_limits.c.hits).where(where)).scalar_one()
    return int(hits) <= limit


# -- candidates and history ------------------------------------------------------------------------------------


def history_for(conn: sa.Connection, subscriber_ids: Sequence[int], paper_ids: Sequence[str]) -> dict[int, set[str]]:
    """Which of ``paper_ids`` each subscriber was already given."""
    found: dict[int, set[str]] = {}
    if not subscriber_ids or not paper_ids:
        return found
    for start in range(0, len(paper_ids), 5000):  # keep the IN lists of one statement bounded
        query = sa.select(digest_history.c.subscriber_id, digest_history.c.paper_id).where(
            digest_history.c.subscriber_id.in_(list(subscriber_ids)),
            digest_history.c.paper_id.in_(list(paper_ids[start : start + 5000])),
        )
        for sid, pid in conn.execute(query):
            found.setdefault(sid, set()).add(pid)
    return found


# -- runs ------------------------------------------------------------------------------------------------------


def get_or_create_run(store: Store, kind: str, key: str, first_day: date, last_day: date, now: datetime) -> Row:
    """The run of one period: created once, found again by every later call (the period is unique)."""
    where = (digest_runs.c.period == kind) & (digest_runs.c.period_key == key)
    with store.write() as conn:
        conn.execute(
            _insert(conn, digest_runs)
            .values(period=kind, period_key=key, first_day=first_day, last_day=last_day, created_at=now)
            .on_conflict_do_nothing(index_elements=["period", "period_key"])
        )
        return dict(conn.execute(sa.select(digest_runs).where(where)).mappings().one())


def get_run(store: Store, run_id: int) -> Row | None:
    with store.read() as conn:
        found = conn.execute(sa.select(digest_runs).where(digest_runs.c.id == run_id)).mappings().first()
    return dict(found) if found else None


def latest_run(store: Store, kind: str | None = None) -> Row | None:
    query = sa.select(digest_runs).order_by(digest_runs.c.created_at.desc(), digest_runs.c.id.desc()).limit(1)
    if kind:
        query = query.where(digest_runs.c.period == kind)
    with store.read() as conn:
        found = conn.execute(query).mappings().first()
    return dict(found) if found else None


def unfinished_runs(store: Store) -> list[Row]:
    query = sa.select(digest_runs).where(digest_runs.c.finished_at.is_(None)).order_by(digest_runs.c.id)
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def mark_planned(store: Store, run_id: int, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            digest_runs.update()
            .where(digest_runs.c.id == run_id, digest_runs.c.planned_at.is_(None))
            .values(planned_at=now)
        )


def finish_if_done(store: Store, run_id: int, now: datetime) -> bool:
    """Mark the run finished when it is planned and no row is pending (incl. awaiting retry); True when finished."""
    with store.write() as conn:
        run = conn.execute(sa.select(digest_runs).where(digest_runs.c.id == run_id)).mappings().one()
        if run["finished_at"] is not None:
            return True
        if run["planned_at"] is None:
            return False
        pending = conn.execute(
            sa.select(sa.func.count())
            .select_from(digest_outbox)
            .where(digest_outbox.c.run_id == run_id, digest_outbox.c.status == "pending")
        ).scalar_one()
        if pending:
            return False
        conn.execute(digest_runs.update().where(digest_runs.c.id == run_id).values(finished_at=now))
        return True


def reopen_run(conn: sa.Connection, run_id: int) -> None:
    conn.execute(digest_runs.update().where(digest_runs.c.id == run_id).values(finished_at=None))


def run_counts(store: Store, run_id: int) -> dict[str, int]:
    """Rows per state. ``planned`` is every row; ``pending`` includes rows awaiting a retry."""
    query = (
        sa.select(digest_outbox.c.status, sa.func.count())
        .where(digest_outbox.c.run_id == run_id)
        .group_by(digest_outbox.c.status)
    )
    retry = (
        sa.select(sa.func.count())
        .select_from(digest_outbox)
        .where(digest_outbox.c.run_id == run_id, digest_outbox.c.status == "pending", digest_outbox.c.attempts > 0)
    )
    with store.read() as conn:
        by_status = {status: int(n) for status, n in conn.execute(query)}
        awaiting_retry = int(conn.execute(retry).scalar_one())
    counts = {key: by_status.get(key, 0) for key in ("sent", "failed", "pending", "skipped")}
    counts["planned"] = sum(by_status.values())
    counts["awaiting_retry"] = awaiting_retry
    return counts


# -- the outbox ------------------------------------------------------------------------------------------------


def insert_outbox(conn: sa.Connection, rows: Sequence[Row]) -> set[int]:
    """Insert outbox rows, skipping (run, subscriber) pairs that exist; returns the subscribers actually added, so a
    planner racing another one writes history only for its own rows."""
    if not rows:
        return set()
    statement = (
        _insert(conn, digest_outbox)
        .on_conflict_do_nothing(index_elements=["run_id", "subscriber_id"])
        .returning(digest_outbox.c.subscriber_id)
    )
    return set(conn.execute(statement, list(rows)).scalars())  # SQLAlchemy batches this ("insertmanyvalues")


def insert_history(conn: sa.Connection, rows: Sequence[tuple[int, str, int]]) -> None:
    """(subscriber_id, paper_id, run_id) rows. A run writes ~15 per subscriber (1.5M at 100k subscribers), so this
    goes straight to the driver's executemany: SQLAlchemy's per-row parameter processing cost more than the
    database's own work."""
    if rows:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"INSERT INTO digest_history (subscriber_id, paper_id, run_id) VALUES ({mark}, {mark}, {mark})"
            " ON CONFLICT (subscriber_id, paper_id) DO NOTHING",
            list(rows),
        )


def planned_subscribers(conn: sa.Connection, run_id: int, subscriber_ids: Sequence[int]) -> set[int]:
    if not subscriber_ids:
        return set()
    query = sa.select(digest_outbox.c.subscriber_id).where(
        digest_outbox.c.run_id == run_id, digest_outbox.c.subscriber_id.in_(list(subscriber_ids))
    )
    return set(conn.execute(query).scalars())


def live_claimants(store: Store, run_id: int, now: datetime) -> set[str]:
    """Senders holding unexpired claims on pending rows (the caller decides which of them are dead)."""
    query = (
        sa.select(digest_outbox.c.claimed_by)
        .where(
            digest_outbox.c.run_id == run_id,
            digest_outbox.c.status == "pending",
            digest_outbox.c.claimed_until >= now,
        )
        .distinct()
    )
    with store.read() as conn:
        return {owner for owner in conn.execute(query).scalars() if owner}


def claim(
    store: Store,
    run_id: int,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    respect_due: bool = True,
    dead_owners: Sequence[str] = (),
) -> list[Row]:
    """Claim up to ``limit`` sendable rows for ``owner``: pending, due, not waiting for a retry, and not claimed by
    a live sender. PostgreSQL skips rows another sender has locked; SQLite's write lock serialises claims."""
    free = sa.or_(digest_outbox.c.claimed_until.is_(None), digest_outbox.c.claimed_until < now)
    if dead_owners:
        free = sa.or_(free, digest_outbox.c.claimed_by.in_(list(dead_owners)))
    conditions = [
        digest_outbox.c.run_id == run_id,
        digest_outbox.c.status == "pending",
        sa.or_(digest_outbox.c.next_attempt_at.is_(None), digest_outbox.c.next_attempt_at <= now),
        free,
    ]
    if respect_due:
        conditions.append(digest_outbox.c.due_at <= now)
    pick = (
        sa.select(digest_outbox.c.id)
        .where(*conditions)
        .order_by(digest_outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with store.write() as conn:
        ids = list(conn.execute(pick).scalars())
        if not ids:
            return []
        conn.execute(
            digest_outbox.update()
            .where(digest_outbox.c.id.in_(ids))
            .values(claimed_by=owner, claimed_until=now + lease, attempts=digest_outbox.c.attempts + 1)
        )
        rows = conn.execute(
            sa.select(
                digest_outbox,
                digest_subscribers.c.status.label("subscriber_status"),
                digest_subscribers.c.email.label("subscriber_email"),
                digest_subscribers.c.frequency,
            )
            .join(digest_subscribers, digest_subscribers.c.id == digest_outbox.c.subscriber_id)
            .where(digest_outbox.c.id.in_(ids))
            .order_by(digest_outbox.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def recipients_now(store: Store, subscriber_ids: Sequence[int]) -> tuple[dict[int, str], set[str]]:
    """Just before sending: each subscriber's status now, and which addresses are suppressed now."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(digest_subscribers.c.id, digest_subscribers.c.status, digest_subscribers.c.email).where(
                digest_subscribers.c.id.in_(list(subscriber_ids))
            )
        ).all()
        blocked = suppressed(conn, [email for _, _, email in rows])
    return {sid: status for sid, status, _ in rows}, blocked


def _finish_row(store: Store, row_id: int, owner: str, values: Row) -> bool:
    """Move one claimed row out of its claim; False when it is no longer ours (another sender took over)."""
    with store.write() as conn:
        result = conn.execute(
            digest_outbox.update()
            .where(
                digest_outbox.c.id == row_id, digest_outbox.c.status == "pending", digest_outbox.c.claimed_by == owner
            )
            .values(claimed_by=None, claimed_until=None, **values)
        )
        return bool(result.rowcount)


def mark_sent(store: Store, row_id: int, owner: str, now: datetime) -> bool:
    """The one small update between the server's 250 and the row's end: keep it that small."""
    return _finish_row(store, row_id, owner, {"status": "sent", "sent_at": now})


MARK_SENT = sa.text(
    "UPDATE digest_outbox SET status = 'sent', sent_at = :now, claimed_by = NULL, claimed_until = NULL"
    " WHERE id = :id AND status = 'pending' AND claimed_by = :owner"
).bindparams(sa.bindparam("now", type_=UTCDateTime()))


class SentMarker:
    """One sender thread's own write connection for marking rows sent, one row per transaction right after the
    server's 250 (the duplicate window DESIGN.md keeps to one small update). Holding the connection skips a pool
    checkout (and PostgreSQL's pre-ping round trip) per mail, and the textual statement skips SQLAlchemy's
    per-execution cache-key work: at 100k mails a run both were a visible share of the sender's time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn: sa.Connection | None = None

    def sent(self, row_id: int, owner: str, now: datetime) -> bool:
        """Like :func:`mark_sent`: False when the row is no longer this sender's (another one took it over)."""
        if self.conn is None or self.conn.invalidated or self.conn.closed:
            self.conn = self.store.engine.connect().execution_options(**WRITE)
        try:
            with self.conn.begin():
                result = self.conn.execute(MARK_SENT, {"id": row_id, "owner": owner, "now": now})
        except sa.exc.DBAPIError:
            self.close()  # a broken connection is not reused; the next mark opens a fresh one
            raise
        return bool(result.rowcount)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def mark_retry(store: Store, row_id: int, owner: str, at: datetime, code: int | None, error: str) -> bool:
    return _finish_row(store, row_id, owner, {"next_attempt_at": at, "last_code": code, "last_error": error})


def mark_failed(store: Store, row_id: int, owner: str, code: int | None, error: str) -> bool:
    return _finish_row(store, row_id, owner, {"status": "failed", "last_code": code, "last_error": error})


def mark_skipped(store: Store, row_id: int, owner: str, reason: str) -> bool:
    return _finish_row(store, row_id, owner, {"status": "skipped", "last_error": reason})


def release(store: Store, row_ids: Sequence[int], owner: str) -> None:
    """Give claimed rows back untouched (a sender stopping early), undoing the attempt it counted."""
    if not row_ids:
        return
    with store.write() as conn:
        conn.execute(
            digest_outbox.update()
            .where(
                digest_outbox.c.id.in_(list(row_ids)),
                digest_outbox.c.status == "pending",
                digest_outbox.c.claimed_by == owner,
            )
            .values(claimed_by=None, claimed_until=None, attempts=digest_outbox.c.attempts - 1)
        )


def next_wakeup(store: Store, run_id: int, respect_due: bool = True) -> datetime | None:
    """The earliest moment a pending row of the run may become sendable: the latest of its gates (due time, retry
    time, claim lease), taken over all pending rows. None when nothing is pending."""
    epoch = sa.literal(datetime(1970, 1, 1, tzinfo=UTC), UTCDateTime())
    gate: Any = sa.func.coalesce(digest_outbox.c.next_attempt_at, epoch)
    lease = sa.func.coalesce(digest_outbox.c.claimed_until, epoch)
    gate = sa.case((gate > lease, gate), else_=lease)
    if respect_due:
        gate = sa.case((gate > digest_outbox.c.due_at, gate), else_=digest_outbox.c.due_at)
    query = sa.select(sa.type_coerce(sa.func.min(gate), UTCDateTime())).where(
        digest_outbox.c.run_id == run_id, digest_outbox.c.status == "pending"
    )
    with store.read() as conn:
        found: datetime | None = conn.execute(query).scalar_one_or_none()
    return found


def failed_rows(store: Store, run_id: int) -> list[Row]:
    query = (
        sa.select(digest_outbox.c.id, digest_outbox.c.email, digest_outbox.c.last_code, digest_outbox.c.last_error)
        .where(digest_outbox.c.run_id == run_id, digest_outbox.c.status == "failed")
        .order_by(digest_outbox.c.id)
    )
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def reset_failed(store: Store, run_id: int, lift_suppression: bool) -> int:
    """Failed rows back to pending (same Message-ID), so only they are sent again; the run is reopened."""
    with store.write() as conn:
        emails = list(
            conn.execute(
                sa.select(digest_outbox.c.email).where(
                    digest_outbox.c.run_id == run_id, digest_outbox.c.status == "failed"
                )
            ).scalars()
        )
        if lift_suppression:
            unsuppress(conn, emails)
        result = conn.execute(
            digest_outbox.update()
            .where(digest_outbox.c.run_id == run_id, digest_outbox.c.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=None, claimed_by=None, claimed_until=None)
        )
        if result.rowcount:
            reopen_run(conn, run_id)
        return int(result.rowcount or 0)


def sent_messages(store: Store, run_id: int) -> list[tuple[str, str]]:
    """(email, message_id) of every sent row: what tests and the operator compare with the mail server's log."""
    query = sa.select(digest_outbox.c.email, digest_outbox.c.message_id).where(
        digest_outbox.c.run_id == run_id, digest_outbox.c.status == "sent"
    )
    with store.read() as conn:
        return [(email, mid) for email, mid in conn.execute(query)]


# -- job locks -------------------------------------------------------------------------------------------------


def claim_job(store: Store, name: str, key: str, owner: str, now: datetime, stale_after: timedelta) -> bool:
    """Take the one run of job (name, key). False when it is done, or running elsewhere with a fresh heartbeat.
    A failed run, or one whose owner stopped beating, is taken over."""
    where = (job_runs.c.name == name) & (job_runs.c.key == key)
    with store.write() as conn:
        # RETURNING, not rowcount: psycopg reports -1 (truthy) for an INSERT ... ON CONFLICT DO NOTHING that
        # inserted nothing, which once let a second node take a job that was already done.
        inserted = conn.execute(
            _insert(conn, job_runs)
            .values(name=name, key=key, status="running", owner=owner, started_at=now, heartbeat_at=now)
            .on_conflict_do_nothing(index_elements=["name", "key"])
            .returning(job_runs.c.name)
        ).first()
        if inserted is not None:
            return True
        takeover = conn.execute(
            job_runs.update()
            .where(
                where,
                sa.or_(
                    job_runs.c.status == "failed",
                    sa.and_(job_runs.c.status == "running", job_runs.c.heartbeat_at < now - stale_after),
                ),
            )
            .values(status="running", owner=owner, started_at=now, heartbeat_at=now, finished_at=None, error=None)
        )
        return bool(takeover.rowcount)


def beat_job(store: Store, name: str, key: str, owner: str, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            job_runs.update()
            .where(job_runs.c.name == name, job_runs.c.key == key, job_runs.c.owner == owner)
            .values(heartbeat_at=now)
        )


def finish_job(store: Store, name: str, key: str, owner: str, now: datetime, error: str | None = None) -> None:
    with store.write() as conn:
        conn.execute(
            job_runs.update()
            .where(job_runs.c.name == name, job_runs.c.key == key, job_runs.c.owner == owner)
            .values(status="failed" if error else "done", finished_at=now, heartbeat_at=now, error=error)
        )


def job_history(store: Store, name: str | None = None, limit: int = 20) -> list[Row]:
    query = sa.select(job_runs).order_by(job_runs.c.started_at.desc()).limit(limit)
    if name:
        query = query.where(job_runs.c.name == name)
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
