"""The web application: ``create_app(pb)`` wires the route table, templates, static files and error pages.

Every route is in :data:`ROUTES`, so the whole surface of the site reads in one place. Handlers are plain
synchronous functions (FastAPI runs them in its thread pool) because the store is synchronous SQLAlchemy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from paperboy.app import Paperboy
from paperboy.web import api, pages
from paperboy.web.site import Site, utc_now

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    path: str
    endpoint: Callable[..., Any]
    name: str
    page: bool = True  # an HTML page (kept out of the OpenAPI schema) or an API endpoint


# Order matters only where paths overlap: /papers/date/... before /papers/{paper_id:path}.
ROUTES: tuple[Route, ...] = (
    Route("/", pages.home, "home"),
    Route("/papers/date", pages.jump_to_day, "jump_to_day"),
    Route("/papers/date/{day}", pages.day_page, "day"),
    Route("/papers/{paper_id:path}", pages.paper_page, "paper"),
    Route("/api/daily_papers", api.daily_papers, "api_daily_papers", page=False),
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
    app = FastAPI(title="paperboy", docs_url=None, redoc_url=None)
    app.state.site = Site(pb=pb, templates=pages.make_templates(), tz=tz, clock=clock or utc_now)
    for route in ROUTES:
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=["GET"],
            name=route.name,
            include_in_schema=not route.page,
            response_class=HTMLResponse if route.page else JSONResponse,
        )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)
    return app


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods: JSON ``{"error"}`` under /api/, a friendly page elsewhere."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        title, message = "Page not found", f"There is no page at {request.url.path}. Try the daily lists."
    elif exc.status_code == 405:
        title, message = "Method not allowed", f"{request.method} is not allowed here; this address answers GET."
    else:
        title, message = "Request failed", str(exc.detail)
    if wants_json(request):
        if exc.status_code == 404:
            message = f"no endpoint at {request.url.path}; the API is described at /openapi.json"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)
    return pages.error_page(request, exc.status_code, title, message)


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
