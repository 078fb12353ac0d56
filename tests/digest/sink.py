"""An SMTP sink for the crash and multi-worker tests: aiosmtpd in a thread of the test process, so it outlives the
sender processes the tests kill. It records (recipient, Message-ID) and can slow each message down (before its
data is handed over) so a kill lands mid-run. It offers PIPELINING (RFC 2920) like Postfix does, so the senders'
pipelined path is the one these tests drive, and can refuse recipients like tests/smtp.py's server."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtp import free_port


@dataclass
class Sink:
    url: str
    delay: float = 0.0
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply, e.g. "450 4.2.0 try later"
    deliveries: list[tuple[str, str]] = field(default_factory=list)  # (recipient, Message-ID)
    raw: list[bytes] = field(default_factory=list)  # the bytes as sent (for signature checks)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.deliveries)

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.deliveries)

    def duplicates(self) -> list[tuple[str, str]]:
        with self.lock:
            return [key for key, n in Counter(self.deliveries).items() if n > 1]


class _Handler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.sink.refuse:
            return self.sink.refuse[address]
        if self.sink.delay:  # slow the session before the message is handed over, like a busy server
            await asyncio.sleep(self.sink.delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message_id = ""
        for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
        with self.sink.lock:
            self.sink.raw.append(raw)
            for rcpt in envelope.rcpt_tos:
                self.sink.deliveries.append((rcpt, message_id))
        return "250 OK"


@contextmanager
def running_sink(delay: float = 0.0) -> Iterator[Sink]:
    port = free_port()
    sink = Sink(url=f"smtp://127.0.0.1:{port}", delay=delay)
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
