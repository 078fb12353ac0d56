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
