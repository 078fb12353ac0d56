"""`arxiv-api`: the arXiv export API (``/api/query``, Atom), by id list or by search query, or saved responses.

Each response is one batch: a paper listed twice in it is skipped. The API's own error feed (one entry whose id is
``http://arxiv.org/api/errors#...``, usually with HTTP 400) is reported with the API's message and never stored.
The API says only a paper's current version, its first-version date (``published``) and its current-version date
(``updated``), so a paper gets v1 with ``published`` and, when newer, its current version with ``updated``.
arXiv API ingest puts no paper on a day's list: that is for announcement-based sources.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from paperboy.domain import ARXIV_NEW_ID, Paper, Record, Skip, Version, parse_arxiv_id
from paperboy.sources.atom import AtomEntry, AtomFeed, parse_feed
from paperboy.sources.base import DuplicateGuard, Item, SourceError, clean_text, parse_timestamp
from paperboy.sources.http import Fetcher

NAME = "arxiv-api"
ID_EXAMPLES = "e.g. 2104.12255, 2104.12255v2 or hep-th/9901001"
FIRST_NEW_STYLE_MONTH = 704  # new-style ids (YYMM.NNNNN) began in April 2007


def read_ids(fetcher: Fetcher, base_url: str, ids: Sequence[str], page_size: int = 100) -> Iterator[Item]:
    """Papers by arXiv id, ``page_size`` ids per request; bad or repeated ids are skipped before any request.

    An id the API does not return (withdrawn, or a number never issued) is reported as not found.
    """
    wanted: dict[str, str] = {}  # paper id -> the id as requested (with its version, if one was given)
    for raw in ids:
        problem = id_problem(raw)
        parsed = parse_arxiv_id(raw)
        if problem or parsed is None:
            yield Skip(f"id {raw!r}", problem or "not an arXiv identifier")
            continue
        paper_id, version = parsed
        requested = f"{paper_id}v{version}" if version else paper_id
        if paper_id in wanted:
            yield Skip(
                f"id {raw!r}", f"duplicate id {paper_id} in the id list (already asked for as {wanted[paper_id]})"
            )
            continue
        wanted[paper_id] = requested
    size = max(1, page_size)
    chunks = list(wanted.items())
    for first in range(0, len(chunks), size):
        chunk = dict(chunks[first : first + size])
        params = {"id_list": ",".join(chunk.values()), "start": 0, "max_results": size}
        where = _where(base_url, params)
        response = fetcher.get(base_url, params=params)
        feed, items = read_page(response.content, where, response.status_code)
        yield from items
        if feed.api_error is None and feed.problem is None and response.status_code == 200:
            returned = {parsed[0] for e in feed.entries if (parsed := parse_arxiv_id(e.id))}
            for paper_id, requested in chunk.items():
                if paper_id not in returned:
                    yield Skip(where, f"{requested} not found: the arXiv API returned no entry for it")


def read_query(
    fetcher: Fetcher, base_url: str, query: str, max_results: int = 100, page_size: int = 100
) -> Iterator[Item]:
    """Papers matching an arXiv search query, page by page until ``max_results`` entries or the end of the results.

    The API sometimes answers a page with no entries although more results exist; such a page is asked for again
    with the fetcher's backoff before the run gives up on the rest (reported as a Skip).
    """
    if not query.strip():
        raise SourceError("empty search query: give one such as 'cat:cs.CL AND ti:agent'")
    size = max(1, page_size)
    start = 0
    while start < max_results:
        params = {"search_query": query, "start": start, "max_results": min(size, max_results - start)}
        where = _where(base_url, params)
        feed, items, status, attempts = _fetch_query_page(fetcher, base_url, params, where)
        if feed.api_error is not None and start == 0:
            raise SourceError(f"the arXiv API rejected the query {query!r}: {feed.api_error}")
        yield from items
        if feed.api_error is not None or feed.problem is not None or status != 200:
            return  # the Skip in items says why; later pages of a failing query are not worth asking for
        if not feed.entries:
            if _more_expected(feed, start):
                yield Skip(
                    where,
                    f"the arXiv API returned an empty page {attempts} times although it reported "
                    f"{feed.total_results if feed.total_results is not None else 'more'} results; "
                    f"stopped after {start} entries, try again later",
                )
            return
        start += len(feed.entries)
        if feed.total_results is not None and start >= feed.total_results:
            return


def read_files(paths: Sequence[Path]) -> Iterator[Item]:
    """Papers in saved responses: Atom files, or JSON wrappers ``{url, status_code, body}``; a folder means its
    ``*.xml`` files, or its ``*.json`` files when it has no XML (so a folder holding both is not read twice)."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(".xml"))
            files = files or sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".json")
            if not files:
                yield Skip(str(path), "no *.atom.xml or *.json files in this folder")
        elif path.is_file():
            files = [path]
        else:
            yield Skip(str(path), "no such file or folder")
            continue
        for file in files:
            yield from _read_file(file)


def read_page(body: bytes, where: str, status: int = 200) -> tuple[AtomFeed, list[Item]]:
    """One response: its feed (for paging) and its items: papers, then a Skip for each problem found."""
    feed = parse_feed(body)
    http = f"HTTP {status}: " if status != 200 else ""
    if feed.api_error is not None:
        return feed, [Skip(where, f"{http}the arXiv API rejected the request: {feed.api_error}")]
    items: list[Item] = []
    guard = DuplicateGuard()
    for index, entry in enumerate(feed.entries):
        entry_where = f"{where}:{entry.line}" if entry.line else f"{where}[{index}]"
        try:
            record = entry_to_record(entry, entry_where)
        except ValueError as exc:
            items.append(Skip(entry_where, str(exc)))
            continue
        items.append(guard.check(record.paper.id, entry_where) or record)
    if feed.problem is not None:
        line = f":{feed.problem_line}" if feed.problem_line else ""
        read = f"; the {len(feed.entries)} entries before it were read" if feed.entries else ""
        items.append(Skip(f"{where}{line}", f"{http}{feed.problem}{read}"))
    elif status != 200:
        items.append(Skip(where, f"HTTP {status} for an Atom feed without an error message"))
    return feed, items


def entry_to_record(entry: AtomEntry, where: str) -> Record:
    """One Atom entry as a paper; raises ValueError saying what is wrong with it."""
    if not entry.id:
        raise ValueError("entry has no <id>")
    parsed = parse_arxiv_id(entry.id)
    if parsed is None:
        raise ValueError(f"entry id {entry.id[:200]!r} is not an arXiv abs URL")
    paper_id, version = parsed
    published = _timestamp(entry.published)
    updated = _timestamp(entry.updated)
    versions: list[Version] = []
    if version is not None and version >= 1:
        versions.append(Version(1, published))
        if version > 1:
            versions.append(Version(version, updated))
    elif version is not None:
        raise ValueError(f"impossible version number {version} in entry id {entry.id!r}")
    categories: list[str] = []
    for term in (entry.primary_category, *entry.categories):
        term = clean_text(term)
        if term and term not in categories:
            categories.append(term)
    doi = entry.doi.split()[0] if entry.doi.split() else None  # a few entries list several DOIs
    paper = Paper(
        id=paper_id,
        title=clean_text(entry.title),
        abstract=clean_text(entry.summary),
        authors=[name for name in (clean_text(a) for a in entry.authors) if name],
        categories=categories,
        published_at=published,
        updated_at=updated,
        versions=versions,
        doi=doi,
        journal_ref=clean_text(entry.journal_ref) or None,
        comments=clean_text(entry.comment) or None,
        links={"doi": f"https://doi.org/{doi}"} if doi else {},
    )
    return Record(paper=paper, where=where)


def id_problem(raw: str) -> str | None:
    """Why ``raw`` cannot be an arXiv id worth asking the API for, or None when it can."""
    parsed = parse_arxiv_id(raw)
    if parsed is None:
        return f"{raw!r} is not an arXiv identifier ({ID_EXAMPLES}; YYMM.NNNN until 1412, YYMM.NNNNN from 1501)"
    paper_id, version = parsed
    if version == 0:
        return f"{raw!r} has version 0; versions start at v1"
    if ARXIV_NEW_ID.match(paper_id) and int(paper_id[:4]) < FIRST_NEW_STYLE_MONTH:
        return f"{raw!r}: ids of this form began in April 2007 (0704); older ones look like hep-th/9901001"
    return None


def _fetch_query_page(
    fetcher: Fetcher, base_url: str, params: dict[str, Any], where: str
) -> tuple[AtomFeed, list[Item], int, int]:
    """One query page, asked for again (with the fetcher's backoff) while it comes back empty but shouldn't."""
    attempt = 0
    while True:
        response = fetcher.get(base_url, params=params)
        feed, items = read_page(response.content, where, response.status_code)
        attempt += 1
        transient = (
            not feed.entries
            and feed.api_error is None
            and feed.problem is None
            and response.status_code == 200
            and _more_expected(feed, params["start"])
        )
        if not transient or attempt > fetcher.retries:
            return feed, items, response.status_code, attempt
        fetcher.sleep(fetcher.backoff * 2 ** (attempt - 1))


def _timestamp(text: str) -> datetime | None:
    try:
        return parse_timestamp(text or None)
    except OverflowError:  # e.g. year 1 with a positive UTC offset
        raise ValueError(f"impossible date {text!r}") from None


def _more_expected(feed: AtomFeed, start: int) -> bool:
    return feed.total_results is None or start < feed.total_results


def _read_file(file: Path) -> Iterator[Item]:
    try:
        body = file.read_bytes()
    except OSError as exc:
        yield Skip(str(file), f"cannot read the file: {exc.strerror or exc}")
        return
    status = 200
    where = str(file)
    if file.suffix == ".json" or body.lstrip()[:1] == b"{":
        try:
            wrapper = json.loads(body)
        except (ValueError, RecursionError) as exc:
            yield Skip(where, f"not a JSON response wrapper ({exc}); truncated file?")
            return
        if not isinstance(wrapper, dict) or not isinstance(wrapper.get("body"), str):
            yield Skip(where, "a JSON file without a 'body' string (expected {url, status_code, body})")
            return
        code = wrapper.get("status_code", 200)
        status = code if isinstance(code, int) and not isinstance(code, bool) else 200
        body = wrapper["body"].encode("utf-8", errors="replace")
        where = f"{file} (body)"
    _feed, items = read_page(body, where, status)
    yield from items


def _where(base_url: str, params: dict[str, Any]) -> str:
    return f"{base_url}?" + "&".join(f"{key}={value}" for key, value in params.items())
