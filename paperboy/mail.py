"""The project's mailer: one way to send an ``EmailMessage`` over SMTP, configured by one URL.

``smtp://host:port`` sends in the clear (a local relay), ``smtps://user:password@host:465`` speaks TLS from the
first byte, ``smtp+starttls://user:password@host:587`` upgrades with STARTTLS before anything else is said, and
refuses to go on if the server does not offer it (credentials never travel in the clear by accident). Sign-in mails
and digests both go through :class:`Mailer`, so both get the same headers and the same error reporting.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from paperboy.settings import Settings

SCHEMES = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


class MailError(Exception):
    """Sending failed. ``code`` is the server's SMTP reply code when it gave one; ``permanent`` (5xx) means a retry
    will not help (a bad address), otherwise (4xx, a dropped connection) the caller may retry later."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """The parts of an ``smtp_url`` setting; a wrong scheme or a missing host is a ValueError naming the setting."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"setting smtp_url (PAPERBOY_SMTP_URL) = {url!r}: use smtp://, smtps:// or smtp+starttls:// followed by "
            "[user:password@]host[:port]"
        )
    if not parts.hostname:
        raise ValueError(f"setting smtp_url (PAPERBOY_SMTP_URL) = {url!r} names no host")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValueError(f"setting smtp_url (PAPERBOY_SMTP_URL) = {url!r} has a bad port") from None
    return SmtpTarget(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class Mailer:
    """Sends messages to the SMTP server of ``smtp_url`` as ``mail_from``.

    ``ssl_context`` defaults to the system's trust store with hostname checks; tests pass one that trusts their
    self-signed certificate. Each :meth:`send` opens its own connection; a batch can share one with :meth:`connect`.
    """

    def __init__(
        self, smtp_url: str, mail_from: str, ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0
    ) -> None:
        self.target = parse_smtp_url(smtp_url)
        self.mail_from = mail_from
        self.ssl_context = ssl_context
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(settings.smtp_url, settings.mail_from)

    @property
    def from_domain(self) -> str:
        address = parseaddr(self.mail_from)[1]
        return address.rpartition("@")[2] or "localhost"

    def compose(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        """A message from ``mail_from`` with Date and Message-ID set: plain text, plus an HTML alternative if given.
        ``headers`` may override Message-ID (a resend after a crash keeps the first one)."""
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        extra = dict(headers or {})
        message["Message-ID"] = extra.pop("Message-ID", None) or make_msgid(domain=self.from_domain)
        for name, value in extra.items():
            message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    def send(self, message: EmailMessage) -> None:
        """Deliver one message on a new connection; raises :class:`MailError` when the server or network refuses."""
        with self.connect() as connection:
            connection.send(message)

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        """One SMTP session (TLS and login done) for sending several messages."""
        target = self.target
        context = self.ssl_context or ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if target.scheme == "smtps":
                client = smtplib.SMTP_SSL(target.host, target.port, timeout=self.timeout, context=context)
            else:
                client = smtplib.SMTP(target.host, target.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if target.scheme == "smtp+starttls":
                    if not client.has_extn("starttls"):
                        raise MailError(f"{target.host}:{target.port} does not offer STARTTLS; refusing to go on")
                    client.starttls(context=context)
                    client.ehlo()
                if target.username is not None:
                    client.login(target.username, target.password or "")
                yield MailConnection(client)
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"the mail server refused: {exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise MailError(f"the mail server refused the recipient: {code} {_text(reply)}", code) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"cannot send mail through {target.host}:{target.port}: {exc}") from exc


class MailConnection:
    """An open SMTP session; see :meth:`Mailer.connect`."""

    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client

    def send(self, message: EmailMessage) -> None:
        refused = self.client.send_message(message)
        if refused:  # some recipients refused, others accepted: report the first refusal
            code, reply = next(iter(refused.values()))
            raise MailError(f"the mail server refused a recipient: {code} {_text(reply)}", code)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
