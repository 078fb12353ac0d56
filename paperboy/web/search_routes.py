"""Search on the site: ``GET /search`` (the page), ``GET /api/papers/search`` (Hugging Face's shape) and
``GET /api/papers/{id}/similar``.

Bad queries never cost a 500: a query the parser cannot use (``author:`` with nothing, an impossible date) is a 400
with the parser's message; control characters are dropped, overlong text is cut, an unbalanced quote runs to the
end, a query of stop words is searched as it is. The first search of a web process starts the background embedder
(``embed_in_background``); until the query model is loaded, search answers lexically rather than wait.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response

from paperboy.domain import parse_arxiv_id
from paperboy.index.query import Filters, QueryError, parse_query
from paperboy.index.service import SearchResult, SearchService
from paperboy.store import community
from paperboy.web.api import bad_request, daily_item
from paperboy.web.pages import error_page, render
from paperboy.web.params import MAX_LIMIT, BadParameter, parse_count, parse_day
from paperboy.web.site import Site, site_of

DEFAULT_LIMIT = 20
SIMILAR_DEFAULT = 10


def service(site: Site) -> SearchService:
    """The site's search service, with the background embedder started on first use (once per process)."""
    search = site.pb.search
    if site.pb.settings.embed_in_background:
        search.ensure_background()
    return search


def search_item(result: SearchResult) -> dict[str, Any]:
    """A daily-list item (HF's shape) plus HTML-safe highlights: matches in ``<mark>``, everything else escaped."""
    item = daily_item(result.listed)
    item["highlightedTitle"] = result.highlighted_title
    item["highlightedSummary"] = result.highlighted_summary
    return item


def api_search(
    request: Request,
    q: Annotated[
        str | None,
        Query(description='The query: words, "exact phrase", -exclude, author:NAME, cat:cs.CL, since:/until:DATE.'),
    ] = None,
    limit: Annotated[str | None, Query(description=f"Results, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).")] = None,
    p: Annotated[str | None, Query(description="Page of results, from 0.")] = None,
) -> JSONResponse:
    """Hybrid search (BM25 + embeddings) over every paper, best first, as daily-list items with highlights."""
    site = site_of(request)
    try:
        if q is None or not q.strip():
            raise BadParameter("q: give a search query, e.g. q=AgentFormer")
        size = parse_count("limit", limit, 1, MAX_LIMIT) if limit is not None else DEFAULT_LIMIT
        page = parse_count("p", p, minimum=0, maximum=1000) if p is not None else 0
        query = parse_query(q)
    except (BadParameter, QueryError) as exc:
        return bad_request(str(exc))
    if query.is_empty:
        return JSONResponse([])
    found = service(site).search(query, limit=size, offset=page * size, semantic=None)
    return JSONResponse([search_item(r) for r in found.results])


def api_similar(
    request: Request,
    paper_id: str,
    limit: Annotated[str | None, Query(description=f"Neighbours, 1 to {MAX_LIMIT} (default 10).")] = None,
) -> JSONResponse:
    """The papers nearest to this one by embedding (by title words while it has no vector), as daily items."""
    site = site_of(request)
    try:
        size = parse_count("limit", limit, 1, MAX_LIMIT) if limit is not None else SIMILAR_DEFAULT
    except BadParameter as exc:
        return bad_request(str(exc))
    parsed = parse_arxiv_id(paper_id)
    paper_id = parsed[0] if parsed else paper_id
    if not community.is_visible(site.store, paper_id):
        return JSONResponse({"error": f"no paper with id {paper_id!r}"}, status_code=404)
    results = service(site).similar(paper_id, size)
    return JSONResponse([daily_item(r.listed) | {"score": round(r.score, 6)} for r in results])


def _page_filters(cat: str | None, author: str | None, since: str | None, until: str | None) -> Filters:
    """The page's filter fields, checked as the query syntax checks them (same messages)."""
    parts = []
    if cat and cat.strip():
        parts.append(f"cat:{cat.strip()}")
    if author and author.strip():
        parts.append('author:"' + " ".join(author.replace('"', " ").split()) + '"')
    for name, value in (("since", since), ("until", until)):
        if value and value.strip():
            parse_day(name, value.strip())
            parts.append(f"{name}:{value.strip()}")
    return parse_query(" ".join(parts)).filters if parts else Filters()


def _page_url(form: dict[str, str], page: int) -> str:
    params = {k: v for k, v in form.items() if v} | ({"p": str(page)} if page else {})
    return "/search?" + urlencode(params)


def search_page(
    request: Request,
    q: Annotated[str | None, Query(description="The query.")] = None,
    cat: Annotated[str | None, Query(description="Only this arXiv category (cs.CL) or archive (cs).")] = None,
    author: Annotated[str | None, Query(description="Only papers with this author.")] = None,
    since: Annotated[str | None, Query(description="Published on or after, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, Query(description="Published on or before, YYYY-MM-DD.")] = None,
    p: Annotated[str | None, Query(description="Page of results, from 0.")] = None,
) -> Response:
    """The search page: a box, the filters, and highlighted results; empty, it only shows the form."""
    site = site_of(request)
    form = {"q": q or "", "cat": cat or "", "author": author or "", "since": since or "", "until": until or ""}
    try:
        page = parse_count("p", p, minimum=0, maximum=1000) if p is not None else 0
        filters = _page_filters(cat, author, since, until)
        query = parse_query(q or "")
    except (BadParameter, QueryError) as exc:
        context = {"form": form, "error": str(exc), "results": [], "searched": False}
        return render(request, "search.html", context | {"status": None, "page": 0, "has_more": False}, 400)
    searched = not (query.is_empty and not filters)
    size = site.pb.settings.page_size
    results: list[SearchResult] = []
    found = None
    if searched:
        try:
            found = service(site).search(query, limit=size, offset=page * size, filters=filters, semantic=None)
        except QueryError as exc:  # pragma: no cover - parse_query already raised
            return error_page(request, 400, "That search cannot be run", str(exc))
        results = found.results
    status = site.pb.search.status()
    context = {
        "form": form,
        "error": None,
        "results": results,
        "searched": searched,
        "status": status,
        "page": page,
        "offset": page * size,
        "has_more": bool(found and found.has_more),
        "semantic": bool(found and found.semantic),
        "listed": [r.listed for r in results],
        "prev_url": _page_url(form, page - 1) if page > 0 else None,
        "next_url": _page_url(form, page + 1) if found and found.has_more else None,
    }
    return render(request, "search.html", context)
