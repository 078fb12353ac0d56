"""`jsonl`: paperboy's own JSON-lines format (what `paperboy export` writes), and any {id, title, abstract} corpus.

One JSON object per line; ``docs/jsonl-format.md`` documents every key. A full line carries every paper field and a
``daily`` list; a minimal line needs only an id and a title, so any corpus loads (BEIR files spell them ``_id`` and
``text``, accepted as aliases). A paper on several days becomes one record per day, all with the same paper: the
store merges them. A line that cannot be used is skipped as ``path:line`` with the reason; the rest lands.

This module also holds what every JSON-lines source shares: the streaming line reader (plain or gzip, constant
memory, byte-based progress) and a compact memory of the ids seen in one file.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from paperboy.domain import LINK_KINDS, DailyEntry, Paper, Record, Skip, Version, parse_arxiv_id
from paperboy.sources.base import Item, clean_text, parse_day, parse_timestamp

NAME = "jsonl"
PROGRESS_EVERY = 4096  # lines between progress callbacks
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
MAX_INT = 2**31 - 1  # the store's count columns are 32-bit integers
# Column widths of the store: a longer value would fail a whole batch on PostgreSQL, so the line is skipped instead.
MAX_LENGTHS = {"doi": 255, "license": 255, "category": 64, "submitted_by": 200}

Progress = Callable[[int, int], None]


# -- shared by the JSON-lines sources ---------------------------------------------------------------------------


def read_lines(path: Path, on_progress: Progress | None = None) -> Iterator[tuple[int, bytes] | Skip]:
    """(line number, raw bytes) for every non-blank line of a plain or gzip file, streamed in constant memory.

    Problems with the file itself (missing, unreadable, a truncated gzip stream) come out as a Skip and end the
    stream; what was read before stays. ``on_progress(bytes_read, total_bytes)`` is called every few thousand
    lines and at the end; for a gzip file both count compressed bytes, so a progress bar still reaches 100%.
    """
    if not path.is_file():
        yield Skip(str(path), "a folder, not a file" if path.is_dir() else "no such file")
        return
    number = 0
    try:
        total = path.stat().st_size
        with path.open("rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            for number, line in enumerate(stream, 1):
                if number == 1 and line.startswith(UTF8_BOM):
                    line = line[len(UTF8_BOM) :]
                if on_progress is not None and number % PROGRESS_EVERY == 0:
                    on_progress(raw.tell(), total)
                if line.strip():
                    yield number, line
            if on_progress is not None:
                on_progress(total, total)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        yield Skip(f"{path}:{number + 1}", f"the gzip file is truncated or corrupt ({exc}); download it again")
    except OSError as exc:
        yield Skip(f"{path}:{number + 1}", f"cannot read the file: {exc}")


def decode_line(line: bytes) -> dict[str, Any]:
    """The JSON object on one line; raises ValueError with a reason a user can act on."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise ValueError(
                f"not UTF-8 text (byte {line[bad.start]:#04x} at column {bad.start + 1}); re-save the file as UTF-8"
            ) from None
        hint = "" if line.endswith(b"\n") else "; the file ends mid-line (truncated download?)"
        raise ValueError(f"not valid JSON ({exc}){hint}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


class SeenIds:
    """The paper ids of one file, to skip a paper listed on two lines, in a few MB even for all of arXiv.

    A set of 2.7 million id strings costs hundreds of MB; arXiv ids instead set one bit in a bitmap per month
    (new-style ``YYMM.NNNNN``) or per archive and month (old-style ``hep-th/YYMMNNN``). Other ids go in a set.
    """

    def __init__(self) -> None:
        self._bitmaps: dict[str, bytearray] = {}
        self._others: set[str] = set()

    def add(self, paper_id: str) -> bool:
        """Remember ``paper_id``; False when it was already there."""
        slot = _bitmap_slot(paper_id)
        if slot is None:
            if paper_id in self._others:
                return False
            self._others.add(paper_id)
            return True
        key, index, size = slot
        bitmap = self._bitmaps.get(key)
        if bitmap is None:
            bitmap = self._bitmaps[key] = bytearray(size // 8 + 1)
        byte, bit = index >> 3, 1 << (index & 7)
        if bitmap[byte] & bit:
            return False
        bitmap[byte] |= bit
        return True


def _bitmap_slot(paper_id: str) -> tuple[str, int, int] | None:
    """(bitmap key, bit index, bitmap size) for an arXiv id without version, None for any other id."""
    archive, slash, digits = paper_id.rpartition("/")
    if slash:  # old style: archive/YYMMNNN
        if len(digits) == 7 and digits.isdigit() and archive:
            return f"{archive}/{digits[:4]}", int(digits[4:]), 1000
        return None
    month, dot, number = paper_id.partition(".")
    if dot and len(month) == 4 and month.isdigit() and len(number) in (4, 5) and number.isdigit():
        return f"{month}.{len(number)}", int(number), 10 ** len(number)
    return None


# -- the jsonl source -------------------------------------------------------------------------------------------


def read_path(path: Path, on_progress: Progress | None = None) -> Iterator[Item]:
    """Every record of a paperboy JSONL file (plain or gzip): one Record per daily entry, or one without."""
    seen = SeenIds()
    for line in read_lines(path, on_progress):
        if isinstance(line, Skip):
            yield line
            continue
        number, raw = line
        where = f"{path}:{number}"
        try:
            paper, entries = parse_record(decode_line(raw))
        except (ValueError, TypeError, OverflowError) as exc:
            yield Skip(where, str(exc) or type(exc).__name__)
            continue
        if not seen.add(paper.id):
            yield Skip(where, f"duplicate id {paper.id} in this file (an earlier line has it)")
            continue
        if not entries:
            yield Record(paper=paper, where=where)
        for entry in entries:
            yield Record(paper=paper, where=where, entry=entry)


def parse_record(data: dict[str, Any]) -> tuple[Paper, list[DailyEntry]]:
    """One line's object as a paper and its daily entries; raises ValueError or TypeError saying what is wrong."""
    paper_id = _id(data)
    title = clean_text(_str(data, "title"))
    if not title:
        raise ValueError("missing title")
    abstract = _str(data, "abstract") if data.get("abstract") is not None else _str(data, "text")
    versions = [_version(v) for v in _list(data, "versions")]
    parsed = parse_arxiv_id(paper_id)
    if parsed is not None:  # "2405.15738v2" or an abs URL: the bare id, and the version it names
        paper_id, number = parsed
        if number is not None and not versions:
            versions = [Version(number)]
    categories = [clean_text(_item(c, "categories")) for c in _list(data, "categories")]
    for category in categories:
        _check_length(category, "category")
    keywords = data.get("ai_keywords")
    paper = Paper(
        id=paper_id,
        title=title,
        abstract=clean_text(abstract),
        authors=[a for a in (clean_text(_item(a, "authors")) for a in _list(data, "authors")) if a],
        categories=[c for c in categories if c],
        published_at=_time(data, "published_at"),
        updated_at=_time(data, "updated_at"),
        versions=versions,
        doi=_check_length(_verbatim(data, "doi"), "doi"),
        journal_ref=_verbatim(data, "journal_ref"),
        comments=_verbatim(data, "comments"),
        license=_check_length(_verbatim(data, "license"), "license"),
        links=_links(data.get("links")),
        github_stars=_count(data, "github_stars"),
        ai_summary=_verbatim(data, "ai_summary"),
        ai_keywords=None
        if keywords is None
        else [_verbatim_text(_item(k, "ai_keywords")) for k in _list(data, "ai_keywords")],
        upvotes=_count(data, "upvotes"),
        num_comments=_count(data, "num_comments"),
        counts_as_of=_time(data, "counts_as_of"),
    )
    entries = [_entry(paper_id, raw) for raw in _list(data, "daily")]
    return paper, entries


def _id(data: dict[str, Any]) -> str:
    value = data.get("id") if data.get("id") is not None else data.get("_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError('missing id (give each line a stable string "id")')
    value = value.strip()
    if len(value.split()) > 1:  # ids end up in URLs and on command lines
        raise ValueError(f"id {value!r:.80} contains whitespace")
    return value


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{key} is a {type(value).__name__}, not a string")
    return value


def _verbatim_text(value: str) -> str:
    """Free text kept as written (so export -> import -> export is exact), minus NUL which PostgreSQL refuses."""
    return value.replace("\x00", "")


def _verbatim(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _verbatim_text(_str(data, key))


def _check_length(value: str | None, name: str) -> str | None:
    if value is not None and len(value) > MAX_LENGTHS[name]:
        raise ValueError(f"{name} longer than {MAX_LENGTHS[name]} characters")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{key} is a {type(value).__name__}, not a list")
    return value


def _item(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{key} holds a {type(value).__name__}, not a string")
    return value


def _time(data: dict[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key} is a {type(value).__name__}, not an ISO-8601 string")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _count(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise ValueError(f"{key} is {value!r}, not a count")
    return value


def _version(raw: Any) -> Version:
    if not isinstance(raw, dict):
        raise TypeError(f"versions holds a {type(raw).__name__}, not an object")
    number = raw.get("version")
    if isinstance(number, str) and number.lower().removeprefix("v").isdigit():
        number = int(number.lower().removeprefix("v"))
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_INT:
        raise ValueError(f"version number {number!r} is not a positive integer")
    return Version(number, _time(raw, "created_at"))


def _links(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TypeError(f"links is a {type(raw).__name__}, not an object")
    links = {}
    for kind, url in raw.items():
        if kind not in LINK_KINDS:
            raise ValueError(f"unknown link kind {kind!r} (known: {', '.join(LINK_KINDS)})")
        if url is not None:
            links[kind] = _verbatim_text(_item(url, f"links.{kind}"))
    return links


def _entry(paper_id: str, raw: Any) -> DailyEntry:
    if not isinstance(raw, dict):
        raise TypeError(f"daily holds a {type(raw).__name__}, not an object")
    day = raw.get("day")
    if not isinstance(day, str):
        raise ValueError(f'daily entry without a "day" (YYYY-MM-DD): {raw!r:.80}')
    submitted_by = _verbatim(raw, "submitted_by")
    return DailyEntry(
        paper_id=paper_id,
        day=parse_day(day),
        submitted_by=_check_length(submitted_by, "submitted_by"),
        submitted_at=_time(raw, "submitted_at"),
    )
