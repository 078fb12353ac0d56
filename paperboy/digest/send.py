"""Drain a digest run's outbox over SMTP: claim a batch, compose, re-check, send, mark each row.

Each sender thread keeps one SMTP connection open for many mails (``digest_smtp_connections`` threads per
process), claims ``digest_batch_size`` rows at a time, and marks every row right after the server's reply with one
small UPDATE: the only window for a duplicate is between the server's 250 and that commit. A row a crashed sender
held is taken over (at once when the sender was on this host and its process is gone, otherwise when its claim
expires) and sent again with the same Message-ID.

Replies: 2xx sent; 4xx or a dropped connection retried with exponential backoff up to ``digest_max_attempts``;
5xx to the recipient fails the row and suppresses the address (a hard bounce). Unsubscribes and suppressions are
re-checked after composing, just before the batch goes out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from paperboy.app import Paperboy
from paperboy.digest.compose import Composer
from paperboy.digest.subscriptions import utc_now
from paperboy.domain import Paper
from paperboy.mail import MailConnection, Mailer, MailError
from paperboy.store import digests as db
from paperboy.store.papers import load_papers

log = logging.getLogger(__name__)
HOST = socket.gethostname()


def deliver(client: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    """Send one message to one recipient, raising what ``smtplib.SMTP.sendmail`` raises.

    When the server offers PIPELINING (RFC 2920; Postfix and most relays do), MAIL, RCPT and DATA go out in one
    write and their three replies are read together: two round trips per mail instead of four, which is most of a
    sender's wall time on a busy machine. ``data`` is CRLF text.
    """
    if not recipient.isascii():  # would need SMTPUTF8; smtplib would crash on it in the middle of a batch
        raise smtplib.SMTPRecipientsRefused({recipient: (553, b"non-ASCII address; SMTPUTF8 is not used")})
    if not (client.does_esmtp and client.has_extn("pipelining")):
        client.sendmail(sender, [recipient], data)
        return
    client.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
    mail, rcpt, start = client.getreply(), client.getreply(), client.getreply()
    if mail[0] != 250 or rcpt[0] not in (250, 251) or start[0] != 354:
        if start[0] == 354:  # DATA accepted although MAIL or RCPT failed: end it empty (RFC 2920, 3.1)
            client.send(b".\r\n")
            client.getreply()
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.rset()
        if mail[0] != 250:
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
        if rcpt[0] not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
        raise smtplib.SMTPDataError(*start)
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\n.", b"\n..")  # every line ends with CRLF, so this is every line that starts with a dot
    client.send(data + b".\r\n" if data.endswith(b"\r\n") else data + b"\r\n.\r\n")
    code, reply = client.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def sender_id() -> str:
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process here (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def dead_senders(owners: set[str], me: str) -> list[str]:
    """Claimants on this host whose process is gone: their rows need not wait for the lease to run out."""
    dead = []
    for owner in owners:
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if owner != me and host == HOST and pid_text.isdigit():
            pid = int(pid_text)
            if pid != os.getpid() and not process_alive(pid):
                dead.append(owner)
    return dead


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str) -> None:
        with self.lock:
            setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed, "skipped": self.skipped}


class Sender:
    """Sends the rows of digest runs. Many senders (threads, processes, machines) may drain one run at once."""

    def __init__(
        self,
        pb: Paperboy,
        respect_due: bool = True,
        clock: Callable[[], datetime] = utc_now,
        mailer: Mailer | None = None,
        composer: Composer | None = None,
    ) -> None:
        self.pb = pb
        self.settings = pb.settings
        self.respect_due = respect_due
        self.clock = clock
        self.owner = sender_id()
        self.mailer = mailer or Mailer.from_settings(pb.settings)
        self.envelope_from = parseaddr(self.mailer.mail_from)[1]
        self.composer = composer or Composer(pb)
        self.papers: dict[str, Paper] = {}
        self.papers_lock = threading.Lock()
        self.stop = threading.Event()

    # -- one run ---------------------------------------------------------------------------------------------

    def drain(self, run_id: int, wait: bool = True, max_wait_seconds: float = 3600.0) -> SendReport:
        """Send what can be sent now. With ``wait``, keep going (sleeping until retries fall due) until the run is
        finished: planned, and no row pending or awaiting retry."""
        run = db.get_run(self.pb.store, run_id)
        if run is None:
            raise ValueError(f"no digest run {run_id}")
        report = SendReport()
        deadline = time.monotonic() + max_wait_seconds
        while not self.stop.is_set():
            self._send_available(run, report)
            if db.finish_if_done(self.pb.store, run_id, self.clock()) or not wait:
                break
            wake = db.next_wakeup(self.pb.store, run_id, self.respect_due)
            if time.monotonic() > deadline:
                break
            pause = 0.5 if wake is None else (wake - self.clock()).total_seconds()
            self.stop.wait(min(max(pause, 0.05), 5.0))
        return report

    def _send_available(self, run: dict[str, Any], report: SendReport) -> None:
        threads = [
            threading.Thread(target=self._worker, args=(run, report), name=f"digest-sender-{n}", daemon=True)
            for n in range(max(1, self.settings.digest_smtp_connections))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # -- one thread, one SMTP connection ---------------------------------------------------------------------

    def _claim(self, run_id: int) -> list[dict[str, Any]]:
        now = self.clock()
        dead = dead_senders(db.live_claimants(self.pb.store, run_id, now), self.owner)
        return db.claim(
            self.pb.store,
            run_id,
            self.owner,
            now,
            timedelta(seconds=self.settings.digest_claim_seconds),
            self.settings.digest_batch_size,
            respect_due=self.respect_due,
            dead_owners=dead,
        )

    def _worker(self, run: dict[str, Any], report: SendReport) -> None:
        connection: MailConnection | None = None
        context: Any = None
        marker = db.SentMarker(self.pb.store)
        try:
            while not self.stop.is_set():
                rows = self._claim(run["id"])
                if not rows:
                    return
                messages = self._compose(run, rows)
                statuses, blocked = db.recipients_now(self.pb.store, [r["subscriber_id"] for r in rows])
                for n, row in enumerate(rows):
                    if self.stop.is_set():
                        db.release(self.pb.store, [r["id"] for r in rows[n:]], self.owner)
                        return
                    if statuses.get(row["subscriber_id"]) != "confirmed":
                        db.mark_skipped(self.pb.store, row["id"], self.owner, "unsubscribed before sending")
                        report.add("skipped")
                        continue
                    if row["email"] in blocked:
                        db.mark_skipped(self.pb.store, row["id"], self.owner, "address suppressed (hard bounce)")
                        report.add("skipped")
                        continue
                    if connection is None:
                        try:
                            context = self.mailer.connect()
                            connection = context.__enter__()
                        except MailError as exc:
                            context = None
                            self._retry(row, exc.code, str(exc), report)
                            continue
                    assert connection is not None
                    outcome = self._send_one(connection, marker, row, messages[row["id"]], report)
                    if outcome == "reconnect":
                        connection = self._close(context)
                        context = None
        finally:
            self._close(context)
            marker.close()

    @staticmethod
    def _close(context: Any) -> None:
        if context is not None:
            with contextlib.suppress(MailError, OSError, smtplib.SMTPException):
                context.__exit__(None, None, None)
        return None

    def _compose(self, run: dict[str, Any], rows: list[dict[str, Any]]) -> dict[int, bytes]:
        wanted = {pid for row in rows for pid, _ in row["papers"]}
        with self.papers_lock:
            missing = [pid for pid in wanted if pid not in self.papers]
        if missing:
            with self.pb.store.read() as conn:
                found = load_papers(conn, missing)
            with self.papers_lock:
                self.papers.update(found)
        return {
            row["id"]: self.composer.digest(
                subscriber_id=row["subscriber_id"],
                email=row["email"],
                message_id=row["message_id"],
                picks=[(pid, why) for pid, why in row["papers"]],
                papers=self.papers,
                kind=run["period"],
                first_day=run["first_day"],
                last_day=run["last_day"],
                run_id=run["id"],
            )
            for row in rows
        }

    def _send_one(
        self, connection: MailConnection, marker: db.SentMarker, row: dict[str, Any], data: bytes, report: SendReport
    ) -> str:
        email = row["email"]
        try:
            deliver(connection.client, self.envelope_from, email, data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(email, (None, b""))
            return self._refused(row, code, _text(reply), report, at_rcpt=True)
        except smtplib.SMTPResponseException as exc:  # sender refused, or the DATA reply
            if exc.smtp_code == 421:
                self._retry(row, exc.smtp_code, _text(exc.smtp_error), report)
                return "reconnect"
            return self._refused(row, exc.smtp_code, _text(exc.smtp_error), report, at_rcpt=False)
        except (smtplib.SMTPException, OSError) as exc:
            self._retry(row, None, f"connection lost: {exc}", report)
            return "reconnect"
        if marker.sent(row["id"], self.owner, self.clock()):
            report.add("sent")
        return "ok"

    def _refused(self, row: dict[str, Any], code: int | None, reply: str, report: SendReport, at_rcpt: bool) -> str:
        if code is not None and 500 <= code < 600:
            error = f"{code} {reply}".strip()
            if at_rcpt:
                with self.pb.store.write() as conn:
                    db.suppress(conn, row["email"], f"hard bounce: {error}", self.clock())
            db.mark_failed(self.pb.store, row["id"], self.owner, code, error)
            report.add("failed")
            return "ok"
        self._retry(row, code, reply, report)
        return "ok"

    def _retry(self, row: dict[str, Any], code: int | None, error: str, report: SendReport) -> None:
        attempts = int(row["attempts"])  # the claim counted this attempt
        message = f"{code} {error}".strip() if code else error
        if attempts >= self.settings.digest_max_attempts:
            db.mark_failed(self.pb.store, row["id"], self.owner, code, f"gave up after {attempts} attempts: {message}")
            report.add("failed")
            return
        wait = self.settings.digest_retry_seconds * (2 ** (attempts - 1))
        db.mark_retry(self.pb.store, row["id"], self.owner, self.clock() + timedelta(seconds=wait), code, message)
        report.add("retried")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
