"""RSS 2.0 and Atom feeds: the daily list, trending, any search query, an author, a category.

``/feeds/{name}.rss`` and ``/feeds/{name}.atom`` with ``name`` one of :data:`KINDS` (``search?q=``,
``author?name=``, ``category?cat=``). Feeds are built as element trees, so every title and abstract is escaped
XML text; characters XML 1.0 forbids (control characters a source may carry) are dropped first, since one would make
the whole feed unreadable. RSS descriptions are HTML by convention, so the abstract goes in HTML-escaped: a reader
shows ``<script>`` in a title as text and never runs it. Atom says so explicitly with ``type="text"``.

Each page links its feeds with ``<link rel="alternate">`` (see :func:`feed_links`), so feed readers find them.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response

from paperboy.domain import DailyEntry, Paper
from paperboy.index.query import QueryError, parse_query
from paperboy.store import catalog
from paperboy.web.lists import trending_ranking, trending_window
from paperboy.web.pages import error_page, paper_url
from paperboy.web.site import Site, site_of

KINDS = ("daily", "trending", "search", "author", "category")
FORMATS = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
FEED_ITEMS = 50
DAILY_DAYS = 7  # the daily feed carries the latest week of lists, so a reader polling once a week misses nothing
CATEGORY = re.compile(r"^[a-z][a-z-]{0,30}(\.[A-Za-z][A-Za-z-]{0,30})?$")
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
ET.register_namespace("atom", ATOM_NS)
ET.register_namespace("dc", DC_NS)


def xml_text(text: str | None) -> str:
    """Text XML 1.0 can carry: forbidden characters (NUL, other C0 controls, lone surrogates) removed."""
    return _NOT_XML.sub("", text or "")


@dataclass(frozen=True, slots=True)
class Feed:
    title: str
    description: str
    page: str  # the site path of the HTML page this feed follows
    items: list[tuple[Paper, DailyEntry | None]]


# -- what each feed holds --------------------------------------------------------------------------------------


class FeedProblem(ValueError):
    """A feed parameter that cannot be used; the message says how to fix it."""


def _daily(site: Site) -> Feed:
    end = site.default_day()
    start = end - timedelta(days=DAILY_DAYS - 1)
    listed = site.store.daily_list(start, end, limit=FEED_ITEMS * 2)
    listed.sort(key=lambda lp: lp.entry.day, reverse=True)  # newest list first, most upvoted first within a day
    items = [(lp.paper, lp.entry) for lp in listed[:FEED_ITEMS]]
    return Feed("Daily papers", "The papers of the latest daily lists, most upvoted first.", "/", items)


def _trending(site: Site) -> Feed:
    from paperboy.store import community

    start, end = trending_window(site)
    ids = [pid for pid, _ in trending_ranking(site, start, end)[:FEED_ITEMS]]
    items = [(lp.paper, lp.entry) for lp in community.listed_papers(site.store, ids, start, end)]
    return Feed(
        "Trending papers", "The papers the community is upvoting and discussing now.", "/papers/trending", items
    )


def _search(site: Site, q: str | None) -> Feed:
    text = " ".join((q or "").split())[:500]
    if not text:
        raise FeedProblem("q: give a search query, e.g. /feeds/search.rss?q=diffusion")
    try:
        query = parse_query(text)
    except QueryError as exc:
        raise FeedProblem(str(exc)) from None
    results = [] if query.is_empty else site.pb.search.search(query, limit=FEED_ITEMS, semantic=None).results
    items = [(r.paper, r.entry if r.listed_on_site else None) for r in results]
    return Feed(
        f"Search: {text}", f"Papers matching “{text}”, best match first.", "/search?" + urlencode({"q": text}), items
    )


def _author(site: Site, name: str | None) -> Feed:
    author = " ".join(xml_text(name).split())[:200]
    if not author:
        raise FeedProblem("name: give an author's name, e.g. /feeds/author.rss?name=Yann+LeCun")
    items = catalog.newest_papers(site.store, FEED_ITEMS, author=author)
    page = "/search?" + urlencode({"author": author})
    return Feed(f"Papers by {author}", f"The newest papers with {author} among the authors.", page, items)


def _category(site: Site, cat: str | None) -> Feed:
    category = (cat or "").strip()
    if not CATEGORY.match(category):
        raise FeedProblem("cat: give an arXiv category or archive, e.g. /feeds/category.rss?cat=cs.CL or cat=cs")
    items = catalog.newest_papers(site.store, FEED_ITEMS, category=category)
    page = "/search?" + urlencode({"cat": category})
    return Feed(f"Papers in {category}", f"The newest papers in {category}.", page, items)


# -- XML ------------------------------------------------------------------------------------------------------


def _when(paper: Paper, entry: DailyEntry | None) -> datetime:
    if entry is not None:
        return entry.submitted_at or datetime.combine(entry.day, time(), UTC)
    return paper.published_at or datetime(1970, 1, 1, tzinfo=UTC)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = xml_text(text)
    return element


def rss(feed: Feed, base: str, self_url: str, now: datetime) -> bytes:
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", f"paperboy — {feed.title}")
    _sub(channel, "link", base + feed.page)
    _sub(channel, "description", feed.description)
    _sub(channel, f"{{{ATOM_NS}}}link", href=self_url, rel="self", type=FORMATS["rss"])
    _sub(channel, "lastBuildDate", format_datetime(now.astimezone(UTC), usegmt=True))
    for paper, entry in feed.items:
        item = _sub(channel, "item")
        link = base + paper_url(paper.id)
        _sub(item, "title", paper.title)
        _sub(item, "link", link)
        _sub(item, "guid", link, isPermaLink="true")
        _sub(item, "description", html.escape(xml_text(paper.abstract), quote=False))
        _sub(item, "pubDate", format_datetime(_when(paper, entry).astimezone(UTC), usegmt=True))
        for name in paper.authors:
            _sub(item, f"{{{DC_NS}}}creator", name)
        for category in paper.categories:
            _sub(item, "category", category)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def atom(feed: Feed, base: str, self_url: str, now: datetime) -> bytes:
    ET.register_namespace("", ATOM_NS)
    try:
        root = ET.Element(f"{{{ATOM_NS}}}feed")
        _sub(root, f"{{{ATOM_NS}}}title", f"paperboy — {feed.title}", type="text")
        _sub(root, f"{{{ATOM_NS}}}subtitle", feed.description, type="text")
        _sub(root, f"{{{ATOM_NS}}}id", self_url)
        _sub(root, f"{{{ATOM_NS}}}link", href=self_url, rel="self", type=FORMATS["atom"])
        _sub(root, f"{{{ATOM_NS}}}link", href=base + feed.page, rel="alternate", type="text/html")
        newest = max((_when(p, e) for p, e in feed.items), default=now)
        _sub(root, f"{{{ATOM_NS}}}updated", newest.astimezone(UTC).isoformat())
        for paper, entry in feed.items:
            item = _sub(root, f"{{{ATOM_NS}}}entry")
            link = base + paper_url(paper.id)
            _sub(item, f"{{{ATOM_NS}}}title", paper.title, type="text")
            _sub(item, f"{{{ATOM_NS}}}id", link)
            _sub(item, f"{{{ATOM_NS}}}link", href=link, rel="alternate", type="text/html")
            _sub(item, f"{{{ATOM_NS}}}updated", _when(paper, entry).astimezone(UTC).isoformat())
            if paper.published_at:
                _sub(item, f"{{{ATOM_NS}}}published", paper.published_at.astimezone(UTC).isoformat())
            for name in paper.authors or ["unknown"]:
                _sub(_sub(item, f"{{{ATOM_NS}}}author"), f"{{{ATOM_NS}}}name", name)
            for category in paper.categories:
                _sub(item, f"{{{ATOM_NS}}}category", term=category)
            _sub(item, f"{{{ATOM_NS}}}summary", paper.abstract, type="text")
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
    finally:
        ET.register_namespace("atom", ATOM_NS)


# -- the routes -----------------------------------------------------------------------------------------------


def build(site: Site, name: str, params: dict[str, str | None]) -> Feed:
    if name == "daily":
        return _daily(site)
    if name == "trending":
        return _trending(site)
    if name == "search":
        return _search(site, params.get("q"))
    if name == "author":
        return _author(site, params.get("name"))
    return _category(site, params.get("cat"))


def _serve(request: Request, name: str, fmt: str, params: dict[str, str | None]) -> Response:
    if name not in KINDS:
        return error_page(request, 404, "No such feed", f"There are feeds for: {', '.join(KINDS)}.")
    site = site_of(request)
    try:
        feed = build(site, name, params)
    except FeedProblem as exc:
        return error_page(request, 400, "That feed cannot be made", str(exc))
    base = str(site.pb.settings.public_url).rstrip("/")
    self_url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = (rss if fmt == "rss" else atom)(feed, base, self_url, site.clock())
    return Response(body, media_type=FORMATS[fmt] + "; charset=utf-8")


FeedParam = Annotated[str | None, Query()]


def rss_feed(
    request: Request, feed: str, q: FeedParam = None, name: FeedParam = None, cat: FeedParam = None
) -> Response:
    """RSS 2.0 (``feed``: daily, trending, search?q=, author?name=, category?cat=)."""
    return _serve(request, feed, "rss", {"q": q, "name": name, "cat": cat})


def atom_feed(
    request: Request, feed: str, q: FeedParam = None, name: FeedParam = None, cat: FeedParam = None
) -> Response:
    """Atom (the same feeds as :func:`rss_feed`)."""
    return _serve(request, feed, "atom", {"q": q, "name": name, "cat": cat})


# -- <link rel="alternate"> -----------------------------------------------------------------------------------


def feed_url(kind: str, fmt: str, params: dict[str, str] | None = None) -> str:
    query = urlencode({k: v for k, v in (params or {}).items() if v})
    return f"/feeds/{kind}.{fmt}" + (f"?{query}" if query else "")


def feed_links(request: Request, paper: Any = None) -> list[dict[str, str]]:
    """The feeds of the page being rendered (a Jinja global): the page's own feeds first, then the daily list."""
    path = request.url.path
    found: list[tuple[str, str, dict[str, str]]] = []
    if path == "/papers/trending":
        found.append(("Trending", "trending", {}))
    elif path == "/search":
        q = " ".join(request.query_params.get("q", "").split())[:500]
        if q:
            found.append((f"Search: {q}", "search", {"q": q}))
    if isinstance(paper, Paper):
        if paper.categories:
            found.append((f"Papers in {paper.categories[0]}", "category", {"cat": paper.categories[0]}))
        if paper.authors:
            found.append((f"Papers by {paper.authors[0]}", "author", {"name": paper.authors[0]}))
    found.append(("Daily papers", "daily", {}))
    links = []
    for title, name, params in found:
        for fmt, label in (("rss", "RSS"), ("atom", "Atom")):
            links.append({"title": f"{title} ({label})", "href": feed_url(name, fmt, params), "type": FORMATS[fmt]})
    return links
