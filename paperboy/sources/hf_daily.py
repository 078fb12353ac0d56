"""`hf-daily`: Hugging Face Daily Papers, `GET /api/daily_papers?date=YYYY-MM-DD`.

Reads a folder (or one file) of archived responses named ``YYYY-MM-DD.json``, or the live endpoint for a date
range. A paper joins the list of the response's own date. Archived files come in three shapes found in the wild:
a JSON list of items, a JSON list of Python repr strings of items, and an object whose ``data`` holds either.
Upvotes and comment counts are snapshots: a later day's snapshot replaces an earlier one, never the reverse.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson

from paperboy.domain import DailyEntry, Paper, Record, Skip, Version, parse_arxiv_id
from paperboy.sources.base import DuplicateGuard, Item, clean_text, parse_day, parse_timestamp
from paperboy.sources.http import Fetcher

NAME = "hf-daily"


def read_path(path: Path) -> Iterator[Item]:
    """Every item of an archive folder (files in date order) or of one archived response file."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".json")
        if not files:
            yield Skip(str(path), "no *.json files in this folder")
    elif path.is_file():
        files = [path]
    else:
        yield Skip(str(path), "no such file or folder")
        return
    for file in files:
        try:
            day = parse_day(file.stem)
        except ValueError:
            yield Skip(str(file), "file name is not a date (expected YYYY-MM-DD.json)")
            continue
        yield from read_response(file.read_bytes(), day, str(file), counts_as_of=datetime.combine(day, time(), UTC))


def read_live(fetcher: Fetcher, base_url: str, start: date, end: date) -> Iterator[Item]:
    """Every item of the live endpoint for each day from ``start`` to ``end`` inclusive."""
    day = start
    while day <= end:
        url = f"{base_url.rstrip('/')}/api/daily_papers"
        response = fetcher.get(url, params={"date": day.isoformat(), "limit": 100})
        where = f"{url}?date={day.isoformat()}"
        if response.status_code != 200:
            yield Skip(where, f"HTTP {response.status_code}: {response.text[:200]!r}")
        else:
            yield from read_response(response.content, day, where, counts_as_of=datetime.now(UTC))
        day += timedelta(days=1)


def read_response(body: bytes, day: date, where: str, counts_as_of: datetime) -> Iterator[Item]:
    """Items of one response body; a body that is not the expected JSON is one Skip saying why."""
    items, problem = _decode_items(body)
    if problem:
        yield Skip(where, problem)
        return
    guard = DuplicateGuard()
    for index, raw in enumerate(items):
        item_where = f"{where}[{index}]"
        try:
            record = parse_item(raw, day, item_where, counts_as_of)
        except (ValueError, TypeError, KeyError, SyntaxError, MemoryError, RecursionError) as exc:
            yield Skip(item_where, str(exc) or type(exc).__name__)
            continue
        duplicate = guard.check(record.paper.id, item_where)
        yield duplicate or record


def _decode_items(body: bytes) -> tuple[list[Any], str | None]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], f"not UTF-8 text (byte {body[exc.start]:#04x} at offset {exc.start}); re-save it as UTF-8"
    stripped = text.lstrip()
    if stripped[:1] == "<":
        return [], "an HTML/XML page instead of JSON (an error page from the server?)"
    try:
        data = orjson.loads(text)  # several times faster than json on archive-sized responses
    except orjson.JSONDecodeError:
        try:  # json takes what orjson refuses (NaN, lone surrogates) and says where the error is
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); truncated file?"
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    if not isinstance(data, list):
        return [], f"expected a JSON list of papers, got {type(data).__name__}"
    return data, None


def parse_item(raw: Any, day: date, where: str, counts_as_of: datetime) -> Record:
    """One API item (a dict, or its Python repr string) as a paper and its daily entry."""
    if isinstance(raw, str):
        raw = ast.literal_eval(raw)
    if not isinstance(raw, dict):
        raise TypeError(f"item is a {type(raw).__name__}, not an object")
    paper_raw = raw.get("paper")
    if not isinstance(paper_raw, dict):
        raise ValueError("item has no 'paper' object")
    raw_id = paper_raw.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("paper has no id")
    parsed = parse_arxiv_id(raw_id)
    paper_id, version = parsed if parsed else (raw_id.strip(), None)
    links = {}
    if _text(paper_raw.get("githubRepo")):
        links["code"] = _text(paper_raw["githubRepo"])
    if _text(paper_raw.get("projectPage")):
        links["project"] = _text(paper_raw["projectPage"])
    keywords = paper_raw.get("ai_keywords")
    paper = Paper(
        id=paper_id,
        title=clean_text(paper_raw.get("title") or raw.get("title")),
        abstract=clean_text(paper_raw.get("summary") or raw.get("summary")),
        authors=[clean_text(a.get("name")) for a in paper_raw.get("authors") or [] if _author_name(a)],
        published_at=parse_timestamp(paper_raw.get("publishedAt")),
        versions=[Version(version)] if version else [],
        links=links,
        github_stars=_count(paper_raw.get("githubStars"), "githubStars"),
        ai_summary=_text(paper_raw.get("ai_summary")) or None,
        ai_keywords=[clean_text(k) for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else None,
        upvotes=_count(paper_raw.get("upvotes"), "upvotes") or 0,
        num_comments=_count(raw.get("numComments"), "numComments") or 0,
        counts_as_of=counts_as_of,
    )
    entry = DailyEntry(
        paper_id=paper_id,
        day=day,
        submitted_by=_submitter(raw, paper_raw),
        submitted_at=parse_timestamp(paper_raw.get("submittedOnDailyAt")),
    )
    return Record(paper=paper, where=where, entry=entry)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _author_name(author: Any) -> bool:
    return isinstance(author, dict) and bool(_text(author.get("name")))


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} is {value!r}, not a count")
    return int(value)


def _submitter(raw: dict[str, Any], paper_raw: dict[str, Any]) -> str | None:
    for who in (raw.get("submittedBy"), paper_raw.get("submittedOnDailyBy")):
        if isinstance(who, dict):
            for key in ("name", "user", "fullname"):
                if _text(who.get(key)):
                    return _text(who[key])
    return None
