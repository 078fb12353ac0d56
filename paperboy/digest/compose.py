"""Compose digest mails: multipart plain text + HTML from Jinja2 templates, with the list headers mail providers
expect (RFC 2369 ``List-Unsubscribe`` with an https URL and a mailto, RFC 8058 one-click, ``Feedback-ID``) and a
DKIM signature when a key is configured.

A run sends the same few hundred papers to 100k people, so a digest is assembled from fragments instead of being
rendered whole: each paper's HTML and text (a Jinja2 macro, autoescaped) is rendered and quoted-printable encoded
once per run, each "why it was picked" line once per distinct reason, and per subscriber only the head (cached by
paper count) and the foot with their own links. Quoted-printable works line by line, so encoded fragments that end
at a line end join into exactly the encoding of the whole text; the templates' document renders the same bytes
(a test holds both to that). The MIME bytes are written directly (CRLF lines) rather than through
``email.message``, whose generator would cost more than everything else together at this volume. The templates
inline every style and contain no script; math in titles and abstracts is shown as readable Unicode.

Unsubscribing: ``List-Unsubscribe`` names the signed https URL first (mail providers' one-click button POSTs to
it, RFC 8058) and a ``mailto:`` second, for clients that only speak RFC 2369. paperboy reads no mailbox: the mailto
goes to the ``mail_from`` address with the subject ``unsubscribe ADDRESS``, and the operator acts on it with
``paperboy subscribers unsubscribe ADDRESS`` (or points ``mail_from`` at a mailbox whose filter runs that).
"""

from __future__ import annotations

import binascii
import hashlib
import time
from dataclasses import dataclass
from datetime import date
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from paperboy.app import Paperboy
from paperboy.digest import tokens
from paperboy.digest.mathtext import readable
from paperboy.domain import Paper, is_arxiv_id
from paperboy.mail import Mailer

TEMPLATES = Path(__file__).parent / "templates"
AUTHORS_SHOWN = 5
SUMMARY_CHARS = 280
SIGNED_HEADERS = (
    "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
    "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Feedback-ID",
)  # fmt: skip


def _environment(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=autoescape,
        trim_blocks=False,
        keep_trailing_newline=True,
        auto_reload=False,  # a template is read once per process, not stat()ed on every render
    )


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends, as SMTP DATA wants them."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _fragment(text: str) -> bytes:
    """One encoded fragment. It must end at a line end, or joining it to the next would not be the encoding of
    the joined text (a soft line break or an encoded trailing space could straddle the seam)."""
    if not text.endswith("\n"):
        raise ValueError(f"a digest template fragment must end with a new line: {text[-60:]!r}")
    return _qp(text)


def _header_value(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def short_summary(paper: Paper) -> str:
    text = readable(" ".join((paper.ai_summary or paper.abstract or "").split()))
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def author_line(paper: Paper) -> str:
    names = paper.authors[:AUTHORS_SHOWN]
    more = " et al." if len(paper.authors) > AUTHORS_SHOWN else ""
    return ", ".join(names) + more


@dataclass(frozen=True)
class Dkim:
    selector: bytes
    domain: bytes
    key: bytes

    @classmethod
    def from_settings(cls, pb: Paperboy) -> Dkim | None:
        settings = pb.settings
        if not settings.dkim_selector or not settings.dkim_private_key_file:
            return None
        domain = settings.dkim_domain or parseaddr(settings.mail_from)[1].rpartition("@")[2]
        key = Path(settings.dkim_private_key_file).expanduser().read_bytes()
        return cls(settings.dkim_selector.encode(), domain.encode(), key)

    def sign(self, message: bytes) -> bytes:
        import dkim

        present = [h for h in SIGNED_HEADERS if f"\r\n{h.lower()}:".encode() in b"\r\n" + message.lower()]
        signature: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            include_headers=[h.encode() for h in present],
            canonicalize=(b"relaxed", b"relaxed"),
            linesep=b"\r\n",
        )
        return signature + message


class Composer:
    """Builds every mail of the digest feature for one site (its URLs, sender, secret and DKIM key).

    The links' tokens carry one issue time per composer (a run, or one request), so every mail of a run and every
    rendering of one mail holds the same links, whatever second the clock ticks over in between."""

    def __init__(self, pb: Paperboy, issued: int | None = None) -> None:
        self.pb = pb
        self.issued = int(time.time()) if issued is None else issued
        self.site_url = pb.settings.public_url.rstrip("/")
        self.mail_from = pb.settings.mail_from
        self.sender = parseaddr(self.mail_from)[1]
        self.domain = self.sender.rpartition("@")[2] or "localhost"
        self.key = pb.secret_key
        self.dkim = Dkim.from_settings(pb)
        self.html = _environment(True)
        self.text = _environment(False)
        self.html_digest = self.html.get_template("digest.html")
        self.text_digest = self.text.get_template("digest.txt")
        self.html_macros: Any = self.html_digest.module  # the templates' macros, callable from Python
        self.text_macros: Any = self.text_digest.module
        # Run-wide caches of encoded fragments (threads may race to fill one entry: both compute the same bytes).
        self._items: dict[str, dict[str, Any]] = {}
        self._papers: dict[str, tuple[bytes, bytes]] = {}  # paper id -> (html, text)
        self._titles: dict[tuple[int, str], bytes] = {}  # (position, paper id) -> text "n. Title" line
        self._reasons: dict[str, tuple[bytes, bytes]] = {}
        self._heads: dict[str, tuple[bytes, bytes]] = {}  # heading -> (html, text)

    # -- urls ------------------------------------------------------------------------------------------------

    def unsubscribe_url(self, subscriber_id: int, email: str) -> str:
        token = tokens.make_token(self.key, tokens.UNSUBSCRIBE, subscriber_id, email, self.issued)
        return f"{self.site_url}/digest/unsubscribe?t={token}"

    def preferences_url(self, subscriber_id: int, email: str) -> str:
        token = tokens.make_token(self.key, tokens.MANAGE, subscriber_id, email, self.issued)
        return f"{self.site_url}/digest/preferences?t={token}"

    def confirm_url(self, subscriber_id: int, email: str) -> str:
        token = tokens.make_token(self.key, tokens.CONFIRM, subscriber_id, email, self.issued)
        return f"{self.site_url}/digest/confirm?t={token}"

    # -- digests ---------------------------------------------------------------------------------------------

    def _item(self, paper: Paper) -> dict[str, Any]:
        item = self._items.get(paper.id)
        if item is None:
            arxiv = is_arxiv_id(paper.id)
            item = {
                "title": readable(" ".join(paper.title.split())),
                "authors": author_line(paper),
                "summary": short_summary(paper),
                "url": f"{self.site_url}/papers/{quote(paper.id, safe='/')}",
                "abs_url": f"https://arxiv.org/abs/{paper.id}" if arxiv else None,
                "pdf_url": f"https://arxiv.org/pdf/{paper.id}" if arxiv else None,
                "upvotes": paper.upvotes or 0,
            }
            self._items[paper.id] = item
        return item

    def _paper(self, paper: Paper) -> tuple[bytes, bytes]:
        found = self._papers.get(paper.id)
        if found is None:
            item = self._item(paper)
            found = (_fragment(self.html_macros.paper(item)), _fragment(self.text_macros.paper(item)))
            self._papers[paper.id] = found
        return found

    def _title(self, number: int, paper: Paper) -> bytes:
        found = self._titles.get((number, paper.id))
        if found is None:
            found = _fragment(self.text_macros.title(number, self._item(paper)))
            self._titles[(number, paper.id)] = found
        return found

    def _reason(self, why: str) -> tuple[bytes, bytes]:
        found = self._reasons.get(why)
        if found is None:
            if len(self._reasons) > 100_000:  # reasons quote subscribers' queries: bound the cache
                self._reasons.clear()
            found = (_fragment(self.html_macros.reason(why)), _fragment(self.text_macros.reason(why)))
            self._reasons[why] = found
        return found

    def _head(self, heading: str, empty: bool) -> tuple[bytes, bytes]:
        found = self._heads.get(heading)
        if found is None:
            found = (
                _fragment(self.html_macros.head(heading, heading, empty)),
                _fragment(self.text_macros.head(heading, empty)),
            )
            self._heads[heading] = found
        return found

    @staticmethod
    def heading(kind: str, first_day: date, last_day: date, count: int) -> str:
        papers = f"{count} new paper{'s' if count != 1 else ''}"
        if kind == "weekly":
            return f"Your weekly papers, {first_day:%d %b} to {last_day:%d %b %Y}: {papers}"
        return f"Your daily papers for {last_day:%a %d %b %Y}: {papers}"

    def document(
        self,
        *,
        subscriber_id: int,
        email: str,
        picks: list[tuple[str, str]],
        papers: dict[str, Paper],
        kind: str,
        first_day: date,
        last_day: date,
    ) -> tuple[str, str]:
        """(text, html) of one digest rendered whole by the templates: what :meth:`digest` assembles from
        fragments (for previews, and for the test that holds the two to the same bytes)."""
        items = [dict(self._item(papers[pid]), reason=why) for pid, why in picks if pid in papers]
        heading = self.heading(kind, first_day, last_day, len(items))
        context = {
            "heading": heading,
            "subject": heading,
            "items": items,
            "email": email,
            "frequency": kind,
            "site_url": self.site_url,
            "unsubscribe_url": self.unsubscribe_url(subscriber_id, email),
            "preferences_url": self.preferences_url(subscriber_id, email),
        }
        return self.text_digest.render(context), self.html_digest.render(context)

    def bodies(
        self,
        *,
        subscriber_id: int,
        email: str,
        picks: list[tuple[str, str]],
        papers: dict[str, Paper],
        kind: str,
        first_day: date,
        last_day: date,
    ) -> tuple[str, bytes, bytes]:
        """(heading, text, html) of one digest: quoted-printable CRLF bodies joined from cached fragments."""
        chosen = [(papers[pid], why) for pid, why in picks if pid in papers]
        heading = self.heading(kind, first_day, last_day, len(chosen))
        html_head, text_head = self._head(heading, not chosen)
        html = [html_head]
        text = [text_head]
        for number, (paper, why) in enumerate(chosen, 1):
            paper_html, paper_text = self._paper(paper)
            reason_html, reason_text = self._reason(why)
            html += (reason_html, paper_html)
            text += (self._title(number, paper), reason_text, paper_text)
        links = (kind, email, self.site_url, self.preferences_url(subscriber_id, email))
        unsubscribe = self.unsubscribe_url(subscriber_id, email)
        html.append(_fragment(self.html_macros.foot(*links, unsubscribe)))
        text.append(_fragment(self.text_macros.foot(*links, unsubscribe)))
        return heading, b"".join(text), b"".join(html)

    def digest(
        self,
        *,
        subscriber_id: int,
        email: str,
        message_id: str,
        picks: list[tuple[str, str]],
        papers: dict[str, Paper],
        kind: str,
        first_day: date,
        last_day: date,
        run_id: int,
    ) -> bytes:
        """The complete message (DKIM-signed when configured), ready for SMTP DATA."""
        heading, text, html = self.bodies(
            subscriber_id=subscriber_id,
            email=email,
            picks=picks,
            papers=papers,
            kind=kind,
            first_day=first_day,
            last_day=last_day,
        )
        unsubscribe = self.unsubscribe_url(subscriber_id, email)
        boundary = "=_pb_" + hashlib.sha1(message_id.encode()).hexdigest()[:24]
        mailto = f"mailto:{self.sender}?subject={quote('unsubscribe ' + email)}"
        headers = [
            f"From: {_header_value(self.mail_from)}",
            f"To: {email}",
            f"Subject: {_header_value(heading)}",
            f"Date: {formatdate(usegmt=True)}",
            f"Message-ID: {message_id}",
            "MIME-Version: 1.0",
            f"List-Id: paperboy digest <digest.{self.domain}>",
            f"List-Unsubscribe: <{unsubscribe}>, <{mailto}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            f"Feedback-ID: {run_id}:{kind}:digest:paperboy",
            "Precedence: bulk",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
        ]
        part = "--{}\r\nContent-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        message = b"".join(
            (
                "\r\n".join(headers).encode(),
                b"\r\n\r\nThis is a multi-part message in MIME format.\r\n",
                part.format(boundary, "plain").encode(),
                text,
                b"\r\n",
                part.format(boundary, "html").encode(),
                html,
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )
        return self.dkim.sign(message) if self.dkim else message

    # -- confirmation ----------------------------------------------------------------------------------------

    def confirmation(self, subscriber_id: int, email: str, already_confirmed: bool) -> EmailMessage:
        """The double opt-in mail; to an address already confirmed, a link to its preferences instead."""
        context = {
            "email": email,
            "already": already_confirmed,
            "site_url": self.site_url,
            "confirm_url": self.confirm_url(subscriber_id, email),
            "preferences_url": self.preferences_url(subscriber_id, email),
        }
        subject = "Your paperboy digest" if already_confirmed else "Confirm your paperboy digest subscription"
        mailer = Mailer.from_settings(self.pb.settings)
        return mailer.compose(
            email,
            subject,
            self.text.get_template("confirm.txt").render(context),
            self.html.get_template("confirm.html").render(context),
        )
