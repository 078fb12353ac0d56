"""`arxiv-oai`: arXiv's OAI-PMH interface, `ListRecords` in the `arXivRaw` or `arXiv` metadata format.

OAI-PMH is arXiv's bulk channel: every record changed in a date range (or in a set), in pages chained by
resumption tokens. A full harvest takes hours and a token expires, so :func:`harvest` is checkpointed: once a page's
records are committed (it yields ``FLUSH`` and the ingest loop commits before resuming it), the next token is saved
under a key naming the source and its parameters, and a rerun continues from there instead of starting over.
:func:`read_files` reads saved responses (ListRecords or GetRecord, either format, told apart per record).

`arXivRaw` knows every version with its date (v1's date is the paper's publication time); `arXiv` knows only the
created and updated days, so it yields version 1 and invents no later version numbers. Neither yields daily entries:
an OAI datestamp is when the record last changed, not when the paper was announced.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from lxml import etree

from paperboy.domain import Paper, Record, Skip, Version, parse_arxiv_id
from paperboy.sources.arxiv_names import author_names, tex_to_unicode
from paperboy.sources.base import (
    FLUSH,
    DuplicateGuard,
    Item,
    SourceError,
    clean_text,
    parse_timestamp,
)
from paperboy.sources.http import Fetcher
from paperboy.store import Store

NAME = "arxiv-oai"
RAW_NS = "http://arxiv.org/OAI/arXivRaw/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
FORMATS = {"arXivRaw": RAW_NS, "arXiv": ARXIV_NS}
NO_RECORDS = "noRecordsMatch"
BAD_TOKEN = "badResumptionToken"
MAX_VERSION = 10_000  # far above any real arXiv paper; keeps garbage out of an INTEGER column
MAX_KEY_LENGTH = 255  # harvest_checkpoints.key


@dataclass
class Page:
    """What one response says besides its records: where the list goes on, or why it stops."""

    token: str | None = None
    complete_list_size: int | None = None
    error_code: str | None = None
    error_message: str = ""
    problem: str | None = None  # the response is unusable from some point on (not XML, truncated, an HTML page)
    records: int = 0


# -- harvesting ------------------------------------------------------------------------------------------------


def checkpoint_key(base_url: str, metadata_prefix: str, from_: str | None, until: str | None, set_: str | None) -> str:
    """The checkpoint's name: one per distinct harvest, so harvests with other parameters never share a token."""
    key = f"{NAME} {base_url} metadataPrefix={metadata_prefix} from={from_ or ''} until={until or ''} set={set_ or ''}"
    if len(key) > MAX_KEY_LENGTH:
        key = f"{NAME} {hashlib.sha256(key.encode()).hexdigest()}"
    return key


def harvest(
    fetcher: Fetcher,
    store: Store,
    base_url: str,
    metadata_prefix: str = "arXivRaw",
    from_: str | None = None,
    until: str | None = None,
    set_: str | None = None,
    restart: bool = False,
) -> Iterator[Item]:
    """Every record of a ListRecords harvest, page by page, resuming from a saved checkpoint unless ``restart``.

    Raises SourceError when the harvest cannot go on (the server keeps failing, an OAI-PMH error, an expired
    token, a page that is not OAI-PMH XML); what was committed stays, and the checkpoint names the page to retry.
    """
    if metadata_prefix not in FORMATS:
        raise SourceError(f"unknown metadata format {metadata_prefix!r}; paperboy reads {' or '.join(FORMATS)}")
    key = checkpoint_key(base_url, metadata_prefix, from_, until, set_)
    if restart:
        store.clear_checkpoint(key)
    saved = store.load_checkpoint(key)
    state: dict[str, Any] = {"pages": 0, "records": 0}
    if saved and saved.get("token"):
        state.update(saved.get("state") or {})
        params: dict[str, str] = {"verb": "ListRecords", "resumptionToken": saved["token"]}
    else:
        params = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
        params.update({k: v for k, v in (("from", from_), ("until", until), ("set", set_)) if v})
    while True:
        where = f"{base_url}?{urlencode(params)}"
        response = fetcher.get(base_url, params=params)
        if response.status_code == 200:
            page = yield from read_response(response.content, where)
        else:
            page = _page_only(response.content, where)
            if page.error_code is None:
                raise SourceError(f"{where} answered HTTP {response.status_code}: {response.text[:200]!r}")
        if page.error_code == NO_RECORDS:
            break
        if page.error_code == BAD_TOKEN:
            raise SourceError(
                f"the server rejected resumption token {params.get('resumptionToken')!r} (badResumptionToken: "
                f"{page.error_message or 'expired?'}); run again with --restart to start this harvest over"
            )
        if page.error_code:
            raise SourceError(f"{where}: OAI-PMH error {page.error_code}: {page.error_message or '(no message)'}")
        if page.problem:
            raise SourceError(f"{where}: {page.problem}; run again to retry from this page")
        state["pages"] += 1
        state["records"] += page.records
        if page.complete_list_size is not None:
            state["complete_list_size"] = page.complete_list_size
        yield FLUSH  # everything read so far is committed before the checkpoint moves past it
        if not page.token:
            break
        if page.token == params.get("resumptionToken"):
            raise SourceError(f"{where}: the server returned the same resumption token again; stopping the loop")
        store.save_checkpoint(key, page.token, state)
        params = {"verb": "ListRecords", "resumptionToken": page.token}
    store.clear_checkpoint(key)


def _page_only(body: bytes, where: str) -> Page:
    """The response's page information, ignoring its records (for answers that are not HTTP 200)."""
    reader = read_response(body, where)
    while True:
        try:
            next(reader)
        except StopIteration as done:
            return done.value


# -- saved responses -------------------------------------------------------------------------------------------


def read_files(paths: Sequence[Path]) -> Iterator[Item]:
    """Every record of saved OAI-PMH responses (ListRecords or GetRecord); a folder means its *.xml files."""
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.suffix == ".xml") if path.is_dir() else [path]
        for file in files:
            try:
                body = file.read_bytes()
            except OSError as exc:
                yield Skip(str(file), f"cannot read the file ({exc.strerror or exc})")
                continue
            page = yield from read_response(body, str(file), in_file=True)
            if page.problem:
                yield Skip(str(file), page.problem)
            elif page.error_code and page.error_code != NO_RECORDS:
                yield Skip(str(file), f"OAI-PMH error {page.error_code}: {page.error_message or '(no message)'}")


# -- one response ----------------------------------------------------------------------------------------------


def read_response(body: bytes, where: str, in_file: bool = False) -> Generator[Item, None, Page]:
    """Items of one OAI-PMH response, streamed, so the records before a break in the XML still land.

    Returns the :class:`Page` (resumption token, OAI-PMH error, or the problem that stopped the reading). Never
    raises on bad input: the parser loads no DTD, resolves no entities and touches no network.
    """
    page = Page()
    if not body.strip():
        page.problem = "empty response"
        return page
    guard = DuplicateGuard()
    position = 0
    root_seen = False
    events = etree.iterparse(
        io.BytesIO(body),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for event, element in events:
            if event == "start":
                if not root_seen:
                    root_seen = True
                    page.problem = _root_problem(element)
                    if page.problem:
                        return page
                continue
            parent = element.getparent()
            name, parent_name = _local(element), _local(parent)
            if name == "record" and parent_name in ("ListRecords", "GetRecord"):
                position += 1
                page.records += 1
                yield _record_item(element, where, position, in_file, guard)
                element.clear(keep_tail=True)
                while element.getprevious() is not None:
                    del parent[0]
            elif name == "resumptionToken" and parent_name == "ListRecords":
                page.token = (element.text or "").strip() or None
                size = (element.get("completeListSize") or "").strip()
                page.complete_list_size = int(size) if size.isdigit() else None
            elif name == "error" and parent_name == "OAI-PMH" and page.error_code is None:
                page.error_code = clean_text(element.get("code")) or "unknown"
                page.error_message = clean_text(element.text)
    except etree.XMLSyntaxError as exc:
        page.problem = _syntax_problem(body, exc, root_seen, position)
    except (etree.LxmlError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        page.problem = f"unreadable XML ({type(exc).__name__}: {exc})"
    return page


def _root_problem(root: Any) -> str | None:
    name = _local(root)
    if name.lower() == "html":
        return "an HTML page instead of OAI-PMH XML (an error page from the server?)"
    if name != "OAI-PMH":
        return f"not an OAI-PMH response (the root element is <{name[:40]}>)"
    return None


def _syntax_problem(body: bytes, exc: etree.XMLSyntaxError, root_seen: bool, position: int) -> str:
    head = body[:2000].lstrip().lower()
    if not root_seen and (head.startswith(b"<!doctype html") or b"<html" in head):
        return "an HTML page instead of OAI-PMH XML (an error page from the server?)"
    line = getattr(exc, "lineno", None)
    message = clean_text(getattr(exc, "msg", None) or exc)[:200]
    return (
        f"broken XML at line {line} ({message}) after {position} records; "
        "the response is truncated or damaged, fetch it again"
    )


def _local(element: Any) -> str:
    """An element's name without its namespace ('' for comments, entities, or no element)."""
    tag = getattr(element, "tag", None)
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _namespace(element: Any) -> str:
    tag = element.tag
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element if _local(child) == name]


def _child(element: Any, name: str) -> Any | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: Any | None) -> str:
    if element is None:
        return ""
    return clean_text("".join(t for t in element.itertext() if isinstance(t, str)))


def _record_item(element: Any, where: str, position: int, in_file: bool, guard: DuplicateGuard) -> Item:
    """One <record> as a Record, or a Skip saying where it is and why it cannot be used."""
    header = _child(element, "header")
    identifier = _text(_child(header, "identifier"))[:100] if header is not None else ""
    place = f"{where}:{element.sourceline}" if in_file else f"{where} record {position}"
    record_where = f"{place} {identifier}" if identifier else place
    if header is None:
        return Skip(record_where, "record has no header")
    if header.get("status") == "deleted":
        return Skip(record_where, "deleted record")
    metadata = _child(element, "metadata")
    content = next((c for c in metadata if _local(c)), None) if metadata is not None else None
    if content is None:
        return Skip(record_where, "record has no metadata")
    try:
        paper = parse_metadata(content)
    except (ValueError, TypeError, OverflowError) as exc:
        return Skip(record_where, str(exc) or type(exc).__name__)
    return guard.check(paper.id, record_where) or Record(paper=paper, where=record_where)


# -- the two metadata formats ----------------------------------------------------------------------------------


def parse_metadata(content: Any) -> Paper:
    """The paper in an <arXivRaw> or <arXiv> metadata element, told apart by namespace (or, lacking one, name)."""
    namespace, name = _namespace(content), _local(content)
    if namespace == RAW_NS or (namespace != ARXIV_NS and name == "arXivRaw"):
        return _parse_raw(content)
    if namespace == ARXIV_NS or name == "arXiv":
        return _parse_arxiv(content)
    raise ValueError(f"unknown metadata format <{name[:40]}> ({namespace[:80]}); paperboy reads arXivRaw and arXiv")


def _parse_raw(content: Any) -> Paper:
    versions: dict[int, Version] = {}
    for element in _children(content, "version"):
        label = (element.get("version") or "").strip()
        match = re.fullmatch(r"v(\d{1,9})", label)
        if not match or not 1 <= int(match.group(1)) <= MAX_VERSION:
            raise ValueError(f"impossible version label {label[:20]!r} (expected v1, v2, ...)")
        number = int(match.group(1))
        created = _rfc2822(_text(_child(element, "date")), label)
        versions.setdefault(number, Version(number, created))
    ordered = [versions[n] for n in sorted(versions)]
    first = versions.get(1)
    paper = _common(content)
    paper.authors = author_names(_text(_child(content, "authors")))
    paper.versions = ordered
    paper.published_at = first.created_at if first else None
    paper.updated_at = ordered[-1].created_at if ordered else None
    return paper


def _parse_arxiv(content: Any) -> Paper:
    created = _iso_day(_text(_child(content, "created")), "created")
    updated = _iso_day(_text(_child(content, "updated")), "updated")
    paper = _common(content)
    authors = _child(content, "authors")
    paper.authors = (
        [name for a in _children(authors, "author") if (name := _author_name(a))] if authors is not None else []
    )
    paper.versions = [Version(1, created)] if created else []
    paper.published_at = created
    paper.updated_at = updated or created
    return paper


def _common(content: Any) -> Paper:
    """The fields both formats spell the same way."""
    raw_id = _text(_child(content, "id"))
    if not raw_id:
        raise ValueError("missing id")
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        raise ValueError(f"id {raw_id[:80]!r} is not an arXiv identifier")
    title = _text(_child(content, "title"))
    if not title:
        raise ValueError("missing title")
    doi = _first_doi(_text(_child(content, "doi")))
    return Paper(
        id=parsed[0],
        title=title,
        abstract=_text(_child(content, "abstract")),
        categories=_text(_child(content, "categories")).split(),
        doi=doi,
        journal_ref=_text(_child(content, "journal-ref")) or None,
        comments=_text(_child(content, "comments")) or None,
        license=_text(_child(content, "license")) or None,
        links={"doi": f"https://doi.org/{doi}"} if doi else {},
    )


def _author_name(author: Any) -> str:
    """'Forenames Keyname Suffix' of an arXiv-format <author>; affiliations stay out."""
    parts = (_text(_child(author, part)) for part in ("forenames", "keyname", "suffix"))
    name = " ".join(p for p in parts if p)
    return tex_to_unicode(name) if any(ch.isalnum() for ch in name) else ""


def _first_doi(text: str) -> str | None:
    """The first DOI of the field: arXiv lets authors list several, separated by commas, semicolons or spaces."""
    for candidate in re.split(r"[\s,;]+", text):
        candidate = re.sub(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)", "", candidate, flags=re.IGNORECASE)
        if candidate.startswith("10."):
            return candidate
    return None


def _rfc2822(text: str, label: str) -> datetime:
    try:
        value = parsedate_to_datetime(text)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise ValueError(f"impossible date {text[:60]!r} of version {label}") from None


def _iso_day(text: str, name: str) -> datetime | None:
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError):
        raise ValueError(f"impossible {name} date {text[:60]!r}") from None
