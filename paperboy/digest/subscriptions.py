"""Subscribers and their preferences: subscribe (double opt-in), confirm, change preferences, unsubscribe, import.

Nobody unconfirmed ever gets a digest: a subscription starts ``pending`` and only the signed link in the
confirmation mail (or an operator importing an already-confirmed list) makes it ``confirmed``. Subscribing again
never reveals whether an address is on the list: the page says the same, the mail differs.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paperboy.app import Paperboy
from paperboy.digest import tokens
from paperboy.digest.periods import zone
from paperboy.domain import Skip
from paperboy.store import digests as db

FREQUENCIES = ("daily", "weekly", "off")
EMAIL = re.compile(
    r"^[^@\s<>(),;:\"\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)
LIST_SPLIT = re.compile(r"[;\n|]+")
MAX_ITEMS = 50  # per section: a preferences form is not a place to paste a corpus


@dataclass(frozen=True, slots=True)
class Preferences:
    """What goes into one subscriber's digest. Sections are unioned, then ``exclude`` removes papers."""

    trending: int = 10  # the period's top N by community score; 0 turns the section off
    queries: tuple[str, ...] = ()  # keywords or search queries; ``-word`` inside a query excludes, "..." is a phrase
    exclude: tuple[str, ...] = ()  # words that drop a paper from every section
    categories: tuple[str, ...] = ()  # arXiv categories, e.g. cs.CL
    authors: tuple[str, ...] = ()
    max_papers: int = 20
    send_empty: bool = False  # also mail when nothing matched

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Preferences:
        data = data or {}
        return cls(
            trending=int(data.get("trending", 10)),
            queries=tuple(data.get("queries", ())),
            exclude=tuple(data.get("exclude", ())),
            categories=tuple(data.get("categories", ())),
            authors=tuple(data.get("authors", ())),
            max_papers=int(data.get("max_papers", 20)),
            send_empty=bool(data.get("send_empty", False)),
        )


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    status: str  # pending, confirmed, unsubscribed
    frequency: str  # daily, weekly, off
    send_hour: int
    timezone: str
    preferences: Preferences = field(default_factory=Preferences)
    user_id: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Subscriber:
        return cls(
            id=row["id"],
            email=row["email"],
            status=row["status"],
            frequency=row["frequency"],
            send_hour=row["send_hour"],
            timezone=row["timezone"],
            preferences=Preferences.from_json(row["preferences"]),
            user_id=row.get("user_id"),
        )


class InvalidPreference(ValueError):
    """A preference value that cannot be used; the message is shown to the subscriber as is."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def normalize_email(text: str) -> str | None:
    """The address lower-cased (one subscription per mailbox in practice), or None when it is not an address."""
    address = text.strip().lower()
    return address if len(address) <= 320 and EMAIL.match(address) else None


def split_list(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Items from a form field or CSV cell, separated by new lines, ``;`` or ``|``; blanks and repeats dropped."""
    if text is None:
        return ()
    parts = LIST_SPLIT.split(text) if isinstance(text, str) else list(text)
    seen: dict[str, None] = {}
    for part in parts:
        item = " ".join(part.split())
        if item and item.lower() not in {s.lower() for s in seen}:
            seen[item[:200]] = None
    return tuple(seen)[:MAX_ITEMS]


def check_schedule(frequency: str, send_hour: int, timezone: str) -> None:
    if frequency not in FREQUENCIES:
        raise InvalidPreference(f"frequency {frequency!r} is not one of {', '.join(FREQUENCIES)}")
    if not 0 <= send_hour <= 23:
        raise InvalidPreference(f"send hour {send_hour} is not an hour of the day (0-23)")
    if zone(timezone) is None:
        raise InvalidPreference(f"{timezone!r} is not a time zone; use a name like Europe/Berlin or UTC")


def _default_preferences(pb: Paperboy) -> Preferences:
    return Preferences(max_papers=pb.settings.digest_max_papers)


def get(pb: Paperboy, subscriber_id: int) -> Subscriber | None:
    with pb.store.read() as conn:
        row = db.subscriber_by_id(conn, subscriber_id)
    return Subscriber.from_row(row) if row else None


def by_email(pb: Paperboy, email: str) -> Subscriber | None:
    address = normalize_email(email)
    if address is None:
        return None
    with pb.store.read() as conn:
        row = db.subscriber_by_email(conn, address)
    return Subscriber.from_row(row) if row else None


def from_token(pb: Paperboy, purpose: str, token: str) -> Subscriber | None:
    """The subscriber a signed link is for, or None when the link is forged, expired or for another address."""
    subscriber_id = tokens.token_subscriber(token)
    if subscriber_id is None:
        return None
    subscriber = get(pb, subscriber_id)
    max_age = tokens.CONFIRM_MAX_AGE if purpose == tokens.CONFIRM else None
    if subscriber is None or not tokens.verify(pb.secret_key, purpose, token, subscriber.email, max_age):
        return None
    return subscriber


def token_for(pb: Paperboy, purpose: str, subscriber: Subscriber) -> str:
    return tokens.make_token(pb.secret_key, purpose, subscriber.id, subscriber.email)


def subscribe(
    pb: Paperboy, email: str, frequency: str = "daily", user_id: int | None = None, now: datetime | None = None
) -> Subscriber:
    """A pending subscription for ``email`` (new, or an unsubscribed one starting over); an existing pending or
    confirmed one is returned unchanged. Raises :class:`InvalidPreference` for a bad address or frequency."""
    address = normalize_email(email)
    if address is None:
        raise InvalidPreference(f"{email.strip()[:100]!r} is not an email address")
    if frequency not in ("daily", "weekly"):
        raise InvalidPreference("choose a daily or a weekly digest")
    now = now or utc_now()
    with pb.store.write() as conn:
        row = db.subscriber_by_email(conn, address)
        if row is None:
            db.insert_subscriber(
                conn,
                {
                    "email": address,
                    "user_id": user_id,
                    "status": "pending",
                    "frequency": frequency,
                    "send_hour": pb.settings.digest_send_hour,
                    "timezone": pb.settings.timezone,
                    "preferences": _default_preferences(pb).to_json(),
                    "created_at": now,
                },
            )
        elif row["status"] == "unsubscribed":
            db.update_subscriber(conn, row["id"], {"status": "pending", "frequency": frequency})
        row = db.subscriber_by_email(conn, address)
    assert row is not None
    return Subscriber.from_row(row)


def confirm(pb: Paperboy, subscriber: Subscriber, now: datetime | None = None) -> Subscriber:
    if subscriber.status != "confirmed":
        with pb.store.write() as conn:
            db.update_subscriber(
                conn, subscriber.id, {"status": "confirmed", "confirmed_at": now or utc_now(), "unsubscribed_at": None}
            )
    return replace(subscriber, status="confirmed")


def update(
    pb: Paperboy, subscriber: Subscriber, frequency: str, send_hour: int, timezone: str, preferences: Preferences
) -> Subscriber:
    check_schedule(frequency, send_hour, timezone)
    if not 0 <= preferences.trending <= 100:
        raise InvalidPreference("trending top N must be from 0 (off) to 100")
    if not 1 <= preferences.max_papers <= 100:
        raise InvalidPreference("papers per digest must be from 1 to 100")
    with pb.store.write() as conn:
        db.update_subscriber(
            conn,
            subscriber.id,
            {
                "frequency": frequency,
                "send_hour": send_hour,
                "timezone": timezone,
                "preferences": preferences.to_json(),
            },
        )
    return replace(subscriber, frequency=frequency, send_hour=send_hour, timezone=timezone, preferences=preferences)


def unsubscribe(pb: Paperboy, subscriber: Subscriber, now: datetime | None = None) -> None:
    """Stop every digest to this address at once: pending outbox rows are skipped when their turn comes."""
    with pb.store.write() as conn:
        db.update_subscriber(conn, subscriber.id, {"status": "unsubscribed", "unsubscribed_at": now or utc_now()})


# -- import ----------------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    skipped: list[Skip] = field(default_factory=list)
    pending: list[Subscriber] = field(default_factory=list)  # need a confirmation mail (imported unconfirmed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": [{"where": s.where, "reason": s.reason} for s in self.skipped],
        }


def import_csv(pb: Paperboy, path: Path, confirmed: bool, now: datetime | None = None) -> ImportReport:
    """Import ``email`` [``frequency``, ``keywords``, ``categories``, ``authors``] rows. A bad row is skipped with
    its line and reason. An address that unsubscribed stays unsubscribed: a list import never re-opts anyone in."""
    now = now or utc_now()
    report = ImportReport()
    defaults = _default_preferences(pb)
    parsed: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = {name.strip().lower() for name in reader.fieldnames or []}
        if "email" not in fields:
            raise ValueError(f"{path}: the first line must name the columns, one of them `email`")
        for line_no, raw in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            where = f"{path.name}:{line_no}"
            address = normalize_email(row.get("email", ""))
            if address is None:
                report.skipped.append(Skip(where, f"{row.get('email', '')!r} is not an email address"))
                continue
            frequency = (row.get("frequency") or "daily").lower()
            if frequency not in FREQUENCIES:
                report.skipped.append(Skip(where, f"frequency {frequency!r}: use daily, weekly or off"))
                continue
            preferences = replace(
                defaults,
                queries=split_list(row.get("keywords")),
                categories=split_list(row.get("categories")),
                authors=split_list(row.get("authors")),
            )
            parsed[address] = {"frequency": frequency, "preferences": preferences.to_json(), "where": where}
    status = "confirmed" if confirmed else "pending"
    addresses = list(parsed)
    for start in range(0, len(addresses), 1000):
        chunk = addresses[start : start + 1000]
        with pb.store.write() as conn:
            existing = db.subscribers_by_email(conn, chunk)
            new_rows = []
            for address in chunk:
                values = parsed[address]
                row = existing.get(address)
                if row is None:
                    new_rows.append(
                        {
                            "email": address,
                            "status": status,
                            "frequency": values["frequency"],
                            "send_hour": pb.settings.digest_send_hour,
                            "timezone": pb.settings.timezone,
                            "preferences": values["preferences"],
                            "created_at": now,
                            "confirmed_at": now if confirmed else None,
                        }
                    )
                elif row["status"] == "unsubscribed":
                    report.skipped.append(Skip(values["where"], f"{address} unsubscribed; not re-subscribed"))
                else:
                    change = {"frequency": values["frequency"], "preferences": values["preferences"]}
                    if confirmed and row["status"] == "pending":
                        change.update(status="confirmed", confirmed_at=now)
                    db.update_subscriber(conn, row["id"], change)
                    report.updated += 1
            report.added += db.insert_subscribers(conn, new_rows)
            if not confirmed:
                added = db.subscribers_by_email(conn, [r["email"] for r in new_rows])
                report.pending.extend(Subscriber.from_row(r) for r in added.values() if r["status"] == "pending")
    return report
