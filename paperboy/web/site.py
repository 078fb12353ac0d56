"""What every request handler needs: the paperboy instance, the templates, the site's clock and calendar.

One :class:`Site` is built by ``create_app`` and kept on ``app.state``; handlers reach it with :func:`site_of`.
The clock is injectable so tests can say what "today" is instead of depending on the machine's date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates

from paperboy.app import Paperboy
from paperboy.store import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Site:
    pb: Paperboy
    templates: Jinja2Templates
    tz: ZoneInfo
    clock: Callable[[], datetime] = utc_now

    @property
    def store(self) -> Store:
        return self.pb.store

    def today(self) -> date:
        """Today on the site's calendar (``settings.timezone``), which decides which daily list is "today's"."""
        return self.clock().astimezone(self.tz).date()

    def default_day(self) -> date:
        """The day shown without a date (home page, API): today when it has papers, else the latest day before it
        that has some, else the latest day of all (every list is dated after today), else today (an empty store)."""
        today = self.today()
        return self.store.latest_day(on_or_before=today) or self.store.latest_day() or today


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site
