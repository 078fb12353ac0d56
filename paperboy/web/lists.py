"""Weekly and monthly lists (ISO weeks, calendar months), the trending list, and the About page that explains them.

Every ranked list goes one way: a ranker gives ``(paper_id, score)`` pairs, this module takes a page of them and
renders the same cards as the daily list.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import RedirectResponse, Response

from paperboy.rank.trending import trending
from paperboy.store import community
from paperboy.web.pages import error_page, month_url, render, week_url
from paperboy.web.params import BadParameter, parse_count, parse_month, parse_week
from paperboy.web.site import Site, site_of

PageParam = Annotated[str | None, Query(description="Page of the list, from 0.")]


def current_week(request: Request) -> Response:
    return RedirectResponse(week_url(site_of(request).default_day()), status_code=303)


def current_month(request: Request) -> Response:
    return RedirectResponse(month_url(site_of(request).default_day()), status_code=303)


def week_page(request: Request, week: str, p: PageParam = None) -> Response:
    try:
        start, end = parse_week("week", week)
    except BadParameter as exc:
        return error_page(request, 400, "That is not a week we can show", str(exc))
    year, number, _ = start.isocalendar()
    title = f"Week {number}, {year}"
    subtitle = f"{start.day} {start:%b} to {end.day} {end:%b %Y}"
    prev_url, next_url = week_url(start - timedelta(days=7)), week_url(end + timedelta(days=1))
    return range_list(request, "week", start, end, title, subtitle, prev_url, next_url, p)


def month_page(request: Request, month: str, p: PageParam = None) -> Response:
    try:
        start, end = parse_month("month", month)
    except BadParameter as exc:
        return error_page(request, 400, "That is not a month we can show", str(exc))
    prev_url, next_url = month_url(start - timedelta(days=1)), month_url(end + timedelta(days=1))
    return range_list(request, "month", start, end, f"{start:%B %Y}", "", prev_url, next_url, p)


def range_list(
    request: Request,
    tab: str,
    start: date,
    end: date,
    title: str,
    subtitle: str,
    prev_url: str,
    next_url: str,
    p: str | None,
) -> Response:
    site = site_of(request)
    try:
        page = parse_count("p", p, minimum=0) if p is not None else 0
    except BadParameter as exc:
        return error_page(request, 400, "That is not a page we can show", str(exc))
    size = site.pb.settings.page_size
    total = site.store.count_listed(start, end)
    listed = site.store.daily_list(start, end, limit=size, offset=page * size) if total else []
    context = {
        "tab": tab,
        "title": title,
        "subtitle": subtitle,
        "listed": listed,
        "total": total,
        "page": page,
        "offset": page * size,
        "has_more": (page + 1) * size < total,
        "prev_url": prev_url,
        "next_url": next_url,
        "anchor": start,
        "base_url": request.url.path,
    }
    return render(request, "range.html", context)


def trending_window(site: Site) -> tuple[date, date]:
    """The latest ``trending_days`` days up to the newest list on or before today."""
    end = site.default_day()
    return end - timedelta(days=max(1, int(site.pb.settings.trending_days)) - 1), end


def trending_ranking(site: Site, start: date, end: date) -> list[tuple[str, float]]:
    settings = site.pb.settings
    return trending(
        site.store,
        site.clock(),
        start,
        end,
        gravity=float(settings.trending_gravity),
        comments_weight=float(settings.trending_comments_weight),
        tz=site.tz,
    )


def trending_page(request: Request, p: PageParam = None) -> Response:
    site = site_of(request)
    try:
        page = parse_count("p", p, minimum=0) if p is not None else 0
    except BadParameter as exc:
        return error_page(request, 400, "That is not a page we can show", str(exc))
    start, end = trending_window(site)
    ranking = trending_ranking(site, start, end)
    size = site.pb.settings.page_size
    window = ranking[page * size : (page + 1) * size]
    scores = dict(window)
    listed = community.listed_papers(site.store, [pid for pid, _ in window], start, end)
    context = {
        "tab": "trending",
        "title": "Trending",
        "subtitle": f"Papers listed {start.day} {start:%b} to {end.day} {end:%b %Y}, by community score",
        "listed": listed,
        "scores": scores,
        "total": len(ranking),
        "page": page,
        "offset": page * size,
        "has_more": (page + 1) * size < len(ranking),
        "prev_url": None,
        "next_url": None,
        "anchor": end,
        "base_url": "/papers/trending",
    }
    return render(request, "range.html", context)


def about_page(request: Request) -> Response:
    settings = site_of(request).pb.settings
    context = {
        "gravity": settings.trending_gravity,
        "comments_weight": settings.trending_comments_weight,
        "trending_days": settings.trending_days,
        "link_minutes": settings.sign_in_link_minutes,
        "timezone": settings.timezone,
    }
    return render(request, "about.html", context)
