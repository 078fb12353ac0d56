"""Digest periods: a daily period is a site calendar day, a weekly one an ISO week, both in the site's time zone.

A subscriber's own hour and time zone never change *which* papers a period holds; they only decide when that
subscriber's row becomes due (:func:`due_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KINDS = ("daily", "weekly")


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # daily or weekly
    key: str  # 2024-05-27 or 2024-W22: unique per kind
    first_day: date  # the daily lists it covers, inclusive
    last_day: date

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def daily(day: date) -> Period:
    """The daily digest of ``day``. Daily digests go out on weekdays, so Monday's also covers the weekend's lists
    (nothing listed on a Saturday is lost); a weekend day asked for explicitly covers just that day."""
    first = day - timedelta(days=2) if day.weekday() == 0 else day
    return Period("daily", day.isoformat(), first, day)


def weekly(day: date) -> Period:
    """The ISO week containing ``day``, Monday to Sunday."""
    year, week, weekday = day.isocalendar()
    monday = day - timedelta(days=weekday - 1)
    return Period("weekly", f"{year}-W{week:02d}", monday, monday + timedelta(days=6))


def period_for(kind: str, day: date) -> Period:
    if kind == "daily":
        return daily(day)
    if kind == "weekly":
        return weekly(day)
    raise ValueError(f"unknown digest period {kind!r}: use daily or weekly")


def last_complete(kind: str, now: datetime, site_tz: ZoneInfo) -> Period:
    """The newest period that has ended on the site's calendar: yesterday, or last week."""
    today = now.astimezone(site_tz).date()
    return period_for(kind, today - timedelta(days=1) if kind == "daily" else today - timedelta(days=7))


def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def due_at(period: Period, send_hour: int, tz_name: str, site_tz: ZoneInfo) -> datetime:
    """The first moment at the subscriber's ``send_hour`` (their time zone) once the period is over (site's)."""
    tz = zone(tz_name) or UTC
    end = datetime.combine(period.last_day + timedelta(days=1), time(0), site_tz).astimezone(tz)
    due = datetime.combine(end.date(), time(send_hour % 24), tz)
    if due < end:
        due = datetime.combine(end.date() + timedelta(days=1), time(send_hour % 24), tz)
    return due.astimezone(UTC)
