"""The JSON API: ``GET /api/daily_papers`` in the shape of Hugging Face's endpoint, and ``GET /healthz``.

A client written for ``https://huggingface.co/api/daily_papers`` (including paperboy's own ``hf-daily`` source)
reads this endpoint unchanged: same parameters, same item keys, same timestamp format. Keys HF omits when it has
no value (``githubRepo``, ``projectPage``, ``ai_summary``, ...) are omitted here too. paperboy does not keep HF's
item-level ``publishedAt`` (arXiv's announcement time); both ``publishedAt`` keys carry the paper's publication time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query, Request
from fastapi.responses import JSONResponse

from paperboy.store import ListedPaper, community
from paperboy.web.params import (
    MAX_LIMIT,
    SORTS,
    BadParameter,
    parse_count,
    parse_day,
    parse_month,
    parse_sort,
    parse_week,
)
from paperboy.web.site import site_of

log = logging.getLogger(__name__)


def hf_time(value: datetime | None) -> str | None:
    """A timestamp as HF writes it: UTC, milliseconds, a literal Z (``2026-08-20T00:00:00.000Z``)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def submitter(name: str | None) -> dict[str, Any] | None:
    """HF's user object, reduced to what paperboy knows about an imported submitter: the name."""
    if not name:
        return None
    return {"name": name, "fullname": name, "type": "user"}


def daily_item(listed: ListedPaper) -> dict[str, Any]:
    """One item of a daily list in HF's shape; counts are what the site shows (imported base + local)."""
    paper, entry = listed.paper, listed.entry
    published = hf_time(paper.published_at)
    submitted_at = entry.submitted_at or datetime.combine(entry.day, time(), UTC)
    who = submitter(entry.submitted_by)
    body: dict[str, Any] = {
        "id": paper.id,
        "authors": [{"name": name, "hidden": False} for name in paper.authors],
        "publishedAt": published,
        "submittedOnDailyAt": hf_time(submitted_at),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes or 0,
    }
    if who is not None:
        body["submittedOnDailyBy"] = who
    optional = {
        "githubRepo": paper.links.get("code"),
        "githubStars": paper.github_stars,
        "projectPage": paper.links.get("project"),
        "ai_summary": paper.ai_summary,
        "ai_keywords": paper.ai_keywords,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return {
        "paper": body,
        "publishedAt": published,
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": paper.num_comments or 0,
        "submittedBy": who,
    }


def bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def daily_papers(
    request: Request,
    day: Annotated[
        str | None, Query(alias="date", description="The list of this day, YYYY-MM-DD. Default: the latest day.")
    ] = None,
    p: Annotated[str | None, Query(description="Page number, from 0.")] = None,
    limit: Annotated[str | None, Query(description=f"Papers per page, 1 to {MAX_LIMIT} (default 50).")] = None,
    sort: Annotated[str | None, Query(description=f"Order: {' or '.join(SORTS)}.")] = None,
    submitted_by: Annotated[
        str | None, Query(alias="submitter", description="Only papers submitted by this user name.")
    ] = None,
    week: Annotated[str | None, Query(description="The list of an ISO week, YYYY-Www (2026-W34).")] = None,
    month: Annotated[str | None, Query(description="The list of a month, YYYY-MM (2026-08).")] = None,
) -> JSONResponse:
    """A day's (week's, month's) list: most upvoted first, then earliest submitted; ``sort=trending`` ranks it by
    the time-decayed community score instead. Upvotes are the imported base plus local votes. Bad parameters answer
    400 with an error."""
    site = site_of(request)
    try:
        if sum(value is not None for value in (day, week, month)) > 1:
            raise BadParameter("give only one of date, week and month")
        if week is not None:
            start, end = parse_week("week", week)
        elif month is not None:
            start, end = parse_month("month", month)
        else:
            start = end = parse_day("date", day) if day is not None else site.default_day()
        page = parse_count("p", p, minimum=0) if p is not None else 0
        size = parse_count("limit", limit, 1, MAX_LIMIT) if limit is not None else min(site.pb.settings.page_size, 100)
        order = parse_sort(sort) if sort is not None else "publishedAt"
    except BadParameter as exc:
        return bad_request(str(exc))
    if order == "trending":
        from paperboy.web.lists import trending_ranking

        ranking = trending_ranking(site, start, end)
        if submitted_by:
            keep = {lp.paper.id for lp in site.store.daily_list(start, end, submitter=submitted_by)}
            ranking = [(pid, score) for pid, score in ranking if pid in keep]
        ids = [pid for pid, _ in ranking[page * size : (page + 1) * size]]
        listed = community.listed_papers(site.store, ids, start, end)
    else:
        listed = site.store.daily_list(start, end, limit=size, offset=page * size, submitter=submitted_by or None)
    return JSONResponse([daily_item(lp) for lp in listed])


def healthz(request: Request) -> JSONResponse:
    """Liveness and readiness for load balancers: the store answers, and how many papers it holds."""
    try:
        count = site_of(request).store.count_papers()
    except sa.exc.SQLAlchemyError as exc:
        log.exception("health check failed")
        return JSONResponse(
            {"status": "error", "error": f"the database does not answer: {exc.__class__.__name__}"}, 503
        )
    return JSONResponse({"status": "ok", "papers": count})
