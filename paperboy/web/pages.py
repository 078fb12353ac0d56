"""HTML pages: the daily list (home and any day), a paper's page, and error pages.

Pages are server-rendered Jinja2 with autoescape on, so every title, abstract and name from a source is text,
never markup. Links taken from sources (code, project pages) are shown only when they are http(s) URLs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from paperboy.domain import parse_arxiv_id
from paperboy.store import community
from paperboy.web import auth
from paperboy.web.markup import math_text, render_comment
from paperboy.web.params import BadParameter, month_name, parse_count, parse_day, week_name
from paperboy.web.site import site_of

TEMPLATES = Path(__file__).parent / "templates"
SITE_NAME = "paperboy — Daily Papers"
TAGLINE = "New papers, every day, picked and upvoted by the research community"
AUTHORS_SHOWN = 5  # a card lists this many authors, then "et al."


# -- template helpers ------------------------------------------------------------------------------------------


def day_url(day: date) -> str:
    return f"/papers/date/{day.isoformat()}"


def paper_url(paper_id: str) -> str:
    return f"/papers/{quote(paper_id, safe='/')}"


def long_day(day: date) -> str:
    return f"{day:%A}, {day.day} {day:%B %Y}"


def short_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def compact(count: int | None) -> str:
    """1234 -> 1.2k, as lists show star counts."""
    if count is None:
        return "0"
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{count / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"


def web_url(url: str | None) -> str | None:
    """The URL when it is safe to link (http or https), else None: a source may carry ``javascript:`` links."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def link_label(url: str) -> str:
    """``owner/repo`` for a GitHub link, otherwise the host name without ``www.``."""
    parts = urlsplit(url)
    host = parts.netloc.lower().removeprefix("www.")
    path = [segment for segment in parts.path.split("/") if segment]
    if host == "github.com" and len(path) >= 2:
        return f"{path[0]}/{path[1]}"
    return host


def week_url(day: date) -> str:
    return f"/papers/week/{week_name(day)}"


def month_url(day: date) -> str:
    return f"/papers/month/{month_name(day)}"


def user_url(handle: str) -> str:
    return f"/u/{quote(handle, safe='')}"


def make_templates() -> Jinja2Templates:
    """The page templates with autoescape (Starlette's default) and the helpers above."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.globals.update(
        site_name=SITE_NAME,
        tagline=TAGLINE,
        day_url=day_url,
        paper_url=paper_url,
        week_url=week_url,
        month_url=month_url,
        user_url=user_url,
        authors_shown=AUTHORS_SHOWN,
        **auth.template_globals(),
    )
    env.filters.update(
        long_day=long_day,
        short_day=short_day,
        compact=compact,
        web_url=web_url,
        link_label=link_label,
        math_text=math_text,
        markdown=render_comment,
    )
    return templates


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page, with the signed-in user (and which listed papers they upvoted) known to every template."""
    site = site_of(request)
    user = auth.current_user(request)
    extra: dict[str, Any] = {"user": user, "voted": set(), "nav_day": site.default_day()}
    if user is not None and context.get("listed"):
        extra["voted"] = community.voted(site.store, user.id, [lp.paper.id for lp in context["listed"]])
    response = site.templates.TemplateResponse(request, name, extra | context, status_code=status)
    auth.remember_csrf_cookie(request, response)
    return response


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "title": title, "message": message}, status)


# -- pages -----------------------------------------------------------------------------------------------------

PageParam = Annotated[str | None, Query(description="Page of the list, from 0.")]


def home(request: Request, p: PageParam = None) -> HTMLResponse:
    """Today's list in the site's time zone or, when today has none yet, the latest day that has papers."""
    site = site_of(request)
    return day_list(request, site.default_day().isoformat(), p, home=True)


def day_page(request: Request, day: str, p: PageParam = None) -> HTMLResponse:
    """The list of one day, ``/papers/date/YYYY-MM-DD``."""
    return day_list(request, day, p)


def day_list(request: Request, day_text: str, p: str | None, home: bool = False) -> HTMLResponse:
    site = site_of(request)
    try:
        day = parse_day("date", day_text)
        page = parse_count("p", p, minimum=0) if p is not None else 0
    except BadParameter as exc:
        return error_page(request, 400, "That is not a day we can show", str(exc))
    size = site.pb.settings.page_size
    total = site.store.count_listed(day)
    listed = site.store.daily_list(day, limit=size, offset=page * size) if total else []
    before, after = site.store.neighbour_days(day)
    today = site.today()
    context = {
        "day": day,
        "today": today,
        "home": home,
        "listed": listed,
        "total": total,
        "page": page,
        "offset": page * size,
        "has_more": (page + 1) * size < total,
        "before": before,
        "after": after,
    }
    return render(request, "day.html", context)


def jump_to_day(
    request: Request, day: Annotated[str | None, Query(alias="date", description="YYYY-MM-DD")] = None
) -> Response:
    """The target of the date picker form (``/papers/date?date=...``): a redirect to that day's page."""
    if not day:
        return RedirectResponse("/", status_code=303)
    try:
        return RedirectResponse(day_url(parse_day("date", day)), status_code=303)
    except BadParameter as exc:
        return error_page(request, 400, "That is not a day we can show", str(exc))


def paper_page(request: Request, paper_id: str, submitted: Annotated[str | None, Query()] = None) -> Response:
    """One paper: abstract (math marked for typesetting), links, upvote button, discussion, the days it was listed.
    A versioned arXiv id redirects to the paper. Hidden papers exist only for moderators."""
    parsed = parse_arxiv_id(paper_id)
    if parsed and parsed[1] is not None:
        return RedirectResponse(paper_url(parsed[0]), status_code=301)
    site = site_of(request)
    paper = community.shown_paper(site.store, paper_id)
    user = auth.current_user(request)
    hidden = paper is not None and not community.is_visible(site.store, paper_id)
    if paper is None or (hidden and not (user and user.is_moderator)):
        return error_page(
            request,
            404,
            "Paper not found",
            f"No paper with id “{paper_id}” is on this site. It may not have been listed yet: check the id, "
            "or browse the daily lists.",
        )
    context = {
        "paper": paper,
        "hidden": hidden,
        "entries": community.listed_days(site.store, paper.id),
        "comments": community.paper_comments(site.store, paper.id),
        "has_voted": bool(user and community.voted(site.store, user.id, [paper.id])),
        "submitted": submitted == "1",
    }
    return render(request, "paper.html", context)
