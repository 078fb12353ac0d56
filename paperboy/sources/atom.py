"""Reading the arXiv export API's Atom feeds into plain entries, robustly and safely.

Kept apart from the arXiv mapping so the XML handling (untrusted bytes from the network or a user's disk) is in one
place: lxml parses incrementally with entity resolution, DTD loading and network access off (no XXE), and a body
that breaks off (truncated download, proxy error page) still gives every entry completed before the break, plus a
description of the problem instead of an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ERROR_ID_MARKER = "/api/errors"  # the id of the one entry of the API's error feed: http://arxiv.org/api/errors#...


@dataclass(slots=True)
class AtomEntry:
    """One ``<entry>`` as the feed says it: raw text, nothing interpreted yet."""

    line: int | None
    id: str = ""
    title: str = ""
    summary: str = ""
    published: str = ""
    updated: str = ""
    authors: list[str] = field(default_factory=list)
    primary_category: str = ""
    categories: list[str] = field(default_factory=list)
    doi: str = ""
    journal_ref: str = ""
    comment: str = ""


@dataclass(slots=True)
class AtomFeed:
    """What one response body held, and why reading stopped early if it did."""

    entries: list[AtomEntry] = field(default_factory=list)
    total_results: int | None = None
    start_index: int | None = None
    api_error: str | None = None  # the message of the API's error feed; such a feed holds no papers
    problem: str | None = None  # why the body could not be read to its end (HTML page, broken XML, truncation)
    problem_line: int | None = None


def parse_feed(body: bytes) -> AtomFeed:
    """The entries and paging numbers of an Atom response; never raises for bad input, it says what was wrong."""
    feed = AtomFeed()
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        feed.problem = "an HTML page instead of an Atom feed (an error page from the server or a proxy?)"
        return feed
    root: etree._Element | None = None
    try:
        events = etree.iterparse(
            BytesIO(body),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        for event, element in events:
            if root is None:
                root = element
                if element.tag != f"{ATOM}feed":
                    feed.problem = f"not an Atom feed (the document is a <{_local_name(element.tag)}>)"
                    return feed
                continue
            if event != "end" or element.getparent() is not root:
                continue
            _read_feed_child(feed, element)
            element.clear()
            while element.getprevious() is not None:  # keep memory flat on long responses
                del root[0]
    except etree.XMLSyntaxError as exc:
        feed.problem = f"broken or truncated XML: {exc.msg or 'unreadable'}"
        feed.problem_line = exc.lineno or None
    except (etree.LxmlError, ValueError, LookupError, MemoryError, RecursionError) as exc:
        feed.problem = f"unreadable XML: {type(exc).__name__}: {exc}"
    if root is None and feed.problem is None:
        feed.problem = "an empty response"
    return feed


def _read_feed_child(feed: AtomFeed, element: etree._Element) -> None:
    tag = element.tag
    if tag == f"{ATOM}entry":
        entry = _read_entry(element)
        if ERROR_ID_MARKER in entry.id:
            feed.api_error = " ".join((entry.summary or entry.title or "unspecified error").split())
        else:
            feed.entries.append(entry)
    elif tag == f"{OPENSEARCH}totalResults":
        feed.total_results = _count(element)
    elif tag == f"{OPENSEARCH}startIndex":
        feed.start_index = _count(element)


def _read_entry(element: etree._Element) -> AtomEntry:
    entry = AtomEntry(line=element.sourceline)
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == f"{ATOM}id":
            entry.id = _text(child).strip()
        elif tag == f"{ATOM}title":
            entry.title = _text(child)
        elif tag == f"{ATOM}summary":
            entry.summary = _text(child)
        elif tag == f"{ATOM}published":
            entry.published = _text(child).strip()
        elif tag == f"{ATOM}updated":
            entry.updated = _text(child).strip()
        elif tag == f"{ATOM}author":
            names = [_text(c) for c in child if c.tag == f"{ATOM}name"]  # arxiv:affiliation is ignored
            if names and names[0].strip():
                entry.authors.append(names[0])
        elif tag == f"{ATOM}category":
            entry.categories.append((child.get("term") or "").strip())
        elif tag == f"{ARXIV}primary_category":
            entry.primary_category = (child.get("term") or "").strip()
        elif tag == f"{ARXIV}doi":
            entry.doi = _text(child).strip()
        elif tag == f"{ARXIV}journal_ref":
            entry.journal_ref = _text(child)
        elif tag == f"{ARXIV}comment":
            entry.comment = _text(child)
    return entry


def _text(element: etree._Element) -> str:
    return "".join(element.itertext())


def _count(element: etree._Element) -> int | None:
    text = _text(element).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _local_name(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1] if isinstance(tag, str) else "non-element"
