"""Query and path parameters of the site and the API, checked by hand.

FastAPI's own validation answers 422 with a shape no Hugging Face client expects; these parsers raise
:class:`BadParameter` with a message that says what was wrong and how to fix it, which the API answers as HTTP 400
``{"error": ...}`` and the pages as a friendly error page.
"""

from __future__ import annotations

import re
from datetime import date

DAY_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_LIMIT = 100
SORTS = ("publishedAt", "trending")


class BadParameter(ValueError):
    """A request parameter that cannot be used; the message is shown to the caller as is."""


def parse_day(name: str, text: str) -> date:
    """A calendar day written YYYY-MM-DD; impossible days (2024-02-30) are refused, not rolled over."""
    if not DAY_FORMAT.match(text):
        raise BadParameter(f"{name}={text!r} is not a date: use YYYY-MM-DD, e.g. {name}=2024-05-27")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name}={text!r} is not a day of the calendar: check the month and day") from None


def parse_count(name: str, text: str, minimum: int, maximum: int | None = None) -> int:
    """A whole number within bounds, e.g. a page number (from 0) or a page size (1..100)."""
    try:
        value = int(text)
    except ValueError:
        raise BadParameter(f"{name}={text!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
        raise BadParameter(f"{name}={value} is out of range: use a whole number {allowed}")
    return value


def parse_sort(text: str) -> str:
    if text not in SORTS:
        raise BadParameter(f"sort={text!r} is not a known order: use one of {', '.join(SORTS)}")
    return text


WEEK_FORMAT = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_FORMAT = re.compile(r"^(\d{4})-(\d{2})$")


def parse_week(name: str, text: str) -> tuple[date, date]:
    """An ISO week ``YYYY-Www`` (2026-W34) as its Monday and Sunday."""
    match = WEEK_FORMAT.match(text)
    if not match:
        raise BadParameter(f"{name}={text!r} is not an ISO week: use YYYY-Www, e.g. {name}=2026-W34")
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise BadParameter(f"{name}={text!r}: year {match.group(1)} has no week {match.group(2)}") from None
    return monday, date.fromordinal(monday.toordinal() + 6)


def parse_month(name: str, text: str) -> tuple[date, date]:
    """A month ``YYYY-MM`` (2026-08) as its first and last day."""
    match = MONTH_FORMAT.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise BadParameter(f"{name}={text!r} is not a month: use YYYY-MM, e.g. {name}=2026-08")
    year, month = int(match.group(1)), int(match.group(2))
    if month == 12:
        return date(year, 12, 1), date(year, 12, 31)
    return date(year, month, 1), date.fromordinal(date(year, month + 1, 1).toordinal() - 1)


def week_name(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_name(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
