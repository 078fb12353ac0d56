"""A real SMTP server for tests: aiosmtpd in-process on a free port, keeping every message it accepts.

``smtp_server`` (a pytest fixture, re-exported by tests/conftest.py) is a plain ``smtp://`` server. Tests that
need TLS, STARTTLS or AUTH build one with :func:`running_smtp_server`. A test can make the server refuse a
recipient (``server.refuse["a@b.c"] = "550 5.1.1 no such user"``) to exercise bounces and retries.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One accepted message: the envelope as the client gave it and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    url: str
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply, e.g. "450 4.2.0 try later"
    logins: list[tuple[str, str]] = field(default_factory=list)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once at least ``count`` have arrived (delivery is synchronous, this only guards races)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.received) >= count, f"expected {count} messages, got {len(self.received)}"
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]


class _Handler:
    def __init__(self, state: SmtpServer) -> None:
        self.state = state

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.state.refuse:
            return self.state.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.state.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost made with the openssl command line (key, cert)."""
    from tests.conftest import need  # here, not at the top: conftest imports this module

    need(shutil.which("openssl") is not None, "the openssl command is needed to make a test certificate")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@contextmanager
def running_smtp_server(
    tls: str = "none",
    certificate: tuple[Path, Path] | None = None,
    credentials: tuple[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """An SMTP server on a free port. ``tls``: "none", "implicit" (smtps) or "starttls" (required before mail)."""
    port = free_port()
    scheme = {"none": "smtp", "implicit": "smtps", "starttls": "smtp+starttls"}[tls]
    state = SmtpServer(url=f"{scheme}://127.0.0.1:{port}", host="127.0.0.1", port=port)
    kwargs: dict[str, Any] = {}
    context = None
    if tls != "none":
        assert certificate is not None, "TLS needs a certificate (self_signed_certificate)"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certificate[1]), str(certificate[0]))
    if tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if credentials is not None:

        def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
            if isinstance(data, LoginPassword):
                login, password = data.login.decode(), data.password.decode()
                if (login, password) == credentials:
                    state.logins.append((login, password))
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls == "starttls")
    controller = Controller(
        _Handler(state),
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if tls == "implicit" else None,
        server_hostname="localhost",
        **kwargs,
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain ``smtp://`` server (no TLS, no AUTH) collecting messages in ``.received`` / ``.messages``."""
    with running_smtp_server() as server:
        yield server
