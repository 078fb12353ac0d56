"""The web application: ``create_app(pb)`` wires the route table, templates, static files and error pages.

Every route is in :data:`ROUTES`, so the whole surface of the site reads in one place. Handlers are plain
synchronous functions (FastAPI runs them in its thread pool) because the store is synchronous SQLAlchemy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from paperboy.app import Paperboy
from paperboy.web import (
    account_pages,
    api,
    community_pages,
    digest_routes,
    feeds,
    lists,
    pages,
    papers_api,
    search_routes,
)
from paperboy.web.auth import sign_in_url
from paperboy.web.cache import PageCache
from paperboy.web.csp import ContentSecurityPolicy
from paperboy.web.site import Site, utc_now

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    path: str
    endpoint: Callable[..., Any]
    name: str
    page: bool = True  # an HTML page (kept out of the OpenAPI schema) or an API endpoint
    methods: tuple[str, ...] = ("GET",)


POST = ("POST",)

# Order matters only where paths overlap: /papers/date/..., /papers/week/..., /papers/trending and the POST actions
# on a paper come before the catch-all /papers/{paper_id:path} (old-style arXiv ids contain a slash).
ROUTES: tuple[Route, ...] = (
    Route("/", pages.home, "home"),
    Route("/papers/date", pages.jump_to_day, "jump_to_day"),
    Route("/papers/date/{day}", pages.day_page, "day"),
    Route("/papers/week", lists.current_week, "current_week"),
    Route("/papers/week/{week}", lists.week_page, "week"),
    Route("/papers/month", lists.current_month, "current_month"),
    Route("/papers/month/{month}", lists.month_page, "month"),
    Route("/papers/trending", lists.trending_page, "trending"),
    Route("/papers/{paper_id:path}/vote", community_pages.vote, "vote", methods=POST),
    Route("/papers/{paper_id:path}/comments", community_pages.add_comment, "add_comment", methods=POST),
    Route("/papers/{paper_id:path}/hide", community_pages.hide_paper, "hide_paper", methods=POST),
    Route("/papers/{paper_id:path}", pages.paper_page, "paper"),
    Route("/about", lists.about_page, "about"),
    Route("/submit", community_pages.submit_page, "submit_page"),
    Route("/submit", community_pages.submit, "submit", methods=POST),
    Route("/comments/{comment_id:int}/edit", community_pages.edit_comment_page, "edit_comment_page"),
    Route("/comments/{comment_id:int}/edit", community_pages.edit_comment, "edit_comment", methods=POST),
    Route("/comments/{comment_id:int}/delete", community_pages.delete_comment, "delete_comment", methods=POST),
    Route("/comments/{comment_id:int}/hide", community_pages.hide_comment, "hide_comment", methods=POST),
    Route("/sign-in", account_pages.sign_in_page, "sign_in_page"),
    Route("/sign-in", account_pages.request_sign_in, "request_sign_in", methods=POST),
    Route("/sign-in/confirm", account_pages.confirm_page, "confirm_page"),
    Route("/sign-in/confirm", account_pages.confirm_sign_in, "confirm_sign_in", methods=POST),
    Route("/sign-out", account_pages.sign_out, "sign_out", methods=POST),
    Route("/settings", account_pages.settings_page, "settings"),
    Route("/settings", account_pages.save_settings, "save_settings", methods=POST),
    Route("/settings/tokens", account_pages.create_token, "create_token", methods=POST),
    Route("/settings/tokens/{token_id:int}/revoke", account_pages.revoke_token, "revoke_token", methods=POST),
    Route("/u/{handle}", account_pages.profile_page, "profile"),
    Route("/u/{handle}/ban", account_pages.ban_user, "ban_user", methods=POST),
    Route("/digest", digest_routes.subscribe_page, "digest"),
    Route("/digest/subscribe", digest_routes.subscribe, "digest_subscribe", methods=POST),
    Route("/digest/confirm", digest_routes.confirm_page, "digest_confirm_page"),
    Route("/digest/confirm", digest_routes.confirm, "digest_confirm", methods=POST),
    Route("/digest/preferences", digest_routes.preferences_page, "digest_preferences"),
    Route("/digest/preferences", digest_routes.save_preferences, "digest_save_preferences", methods=POST),
    Route("/digest/unsubscribe", digest_routes.unsubscribe_page, "digest_unsubscribe_page"),
    Route("/digest/unsubscribe", digest_routes.unsubscribe, "digest_unsubscribe", methods=POST),
    Route("/api/daily_papers", api.daily_papers, "api_daily_papers", page=False),
    Route("/search", search_routes.search_page, "search"),
    Route("/api/papers/search", search_routes.api_search, "api_search", page=False),
    Route("/api/papers/{paper_id:path}/similar", search_routes.api_similar, "api_similar", page=False),
    Route("/api/papers", papers_api.list_papers, "api_papers", page=False),
    Route("/api/papers/submit", papers_api.submit, "api_submit", page=False, methods=POST),
    Route("/api/papers/{paper_id:path}/upvote", papers_api.upvote, "api_upvote", page=False, methods=POST),
    Route("/api/papers/{paper_id:path}/upvote", papers_api.unvote, "api_unvote", page=False, methods=("DELETE",)),
    Route("/api/papers/{paper_id:path}/comments", papers_api.list_comments, "api_comments", page=False),
    Route("/api/papers/{paper_id:path}/comments", papers_api.add_comment, "api_comment", page=False, methods=POST),
    Route("/api/papers/{paper_id:path}", papers_api.get_paper, "api_paper", page=False),
    Route("/feeds/{feed}.rss", feeds.rss_feed, "feed_rss"),
    Route("/feeds/{feed}.atom", feeds.atom_feed, "feed_atom"),
    Route("/api/whoami-v2", account_pages.whoami, "api_whoami", page=False),
    Route("/healthz", api.healthz, "healthz", page=False),
)


def create_app(pb: Paperboy, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The ASGI app serving ``pb.store``. ``clock`` (aware datetimes) replaces the wall clock in tests."""
    try:
        tz = ZoneInfo(pb.settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"setting timezone (PAPERBOY_TIMEZONE) = {pb.settings.timezone!r} is not a time zone; "
            "use a name like UTC or Europe/Berlin"
        ) from None
    # FastAPI's /docs and /redoc load scripts from a CDN; the site serves everything itself.
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if "search" in pb.__dict__:  # only if this process built the search service
            pb.search.stop_background()

    app = FastAPI(title="paperboy", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.site = Site(pb=pb, templates=pages.make_templates(), tz=tz, clock=clock or utc_now)
    for route in ROUTES:
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=list(route.methods),
            name=route.name,
            include_in_schema=not route.page,
            response_class=HTMLResponse if route.page else JSONResponse,
        )
    app.state.site.templates.env.globals["feed_links"] = feeds.feed_links
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if pb.settings.page_cache:
        app.add_middleware(
            PageCache, site=app.state.site, recheck_seconds=float(pb.settings.page_cache_seconds), owner=app
        )
    app.add_middleware(ContentSecurityPolicy)  # added last, so outermost: cached pages get it too
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)
    return app


def wants_json(request: Request) -> bool:
    """API paths, and scripts that ask for JSON (the vote button), get errors as ``{"error": ...}``."""
    path = request.url.path
    return path.startswith("/api/") or path == "/healthz" or "application/json" in request.headers.get("accept", "")


TITLES = {400: "Bad request", 401: "Sign in first", 403: "Not allowed", 409: "Conflict", 429: "Too many requests"}


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods: JSON ``{"error"}`` under /api/, a friendly page elsewhere."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and exc.detail in (None, "Not Found"):
        title, message = "Page not found", f"There is no page at {request.url.path}. Try the daily lists."
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "GET")
        title, message = "Method not allowed", f"{request.method} is not allowed here; this address answers {allowed}."
    else:
        title, message = TITLES.get(exc.status_code, "Request failed"), str(exc.detail)
    if wants_json(request):
        if exc.status_code == 404 and exc.detail in (None, "Not Found"):
            message = f"no endpoint at {request.url.path}; the API is described at /openapi.json"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 401:
        return RedirectResponse(sign_in_url(request.url.path), status_code=303)
    response = pages.error_page(request, exc.status_code, title, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    """Parameters are checked by hand (see params.py); this only catches what slips past, as a 400, not a 422."""
    message = "bad request parameters"
    if isinstance(exc, RequestValidationError) and exc.errors():
        first = exc.errors()[0]
        message = f"{'.'.join(str(part) for part in first.get('loc', ()))}: {first.get('msg', message)}"
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=400)
    return pages.error_page(request, 400, "Bad request", message)


async def server_error(request: Request, exc: Exception) -> Response:
    """A bug or an unreachable database: logged with its traceback, answered as a plain 500, never a stack."""
    log.error("error serving %s", request.url.path, exc_info=exc)
    message = "Something went wrong on our side. Please try again in a moment."
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=500)
    return HTMLResponse(
        f"<!doctype html><html lang=en><title>Server error</title><h1>Server error</h1><p>{message}</p>",
        status_code=500,
    )
