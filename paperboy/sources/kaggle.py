"""`kaggle`: the Kaggle arXiv metadata snapshot, ``arxiv-metadata-oai-snapshot.json`` (JSON lines, .gz allowed).

The real file holds every arXiv paper (millions of lines, several GB), so it is streamed line by line in constant
memory and parsed lean (orjson, a hand-rolled RFC 2822 date parser for the one date shape it uses). The snapshot has
no daily lists, so records carry no daily entry. Author names come from ``authors_parsed`` when present (the
``authors`` string mixes in affiliations), with TeX accents (``Bal\\'azs``) turned into Unicode. A bad line is skipped
as ``path:line`` with the reason; the rest lands.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperboy.domain import Paper, Record, Skip, Version, parse_arxiv_id
from paperboy.sources.arxiv_names import author_names, tex_to_unicode
from paperboy.sources.base import Item, clean_text
from paperboy.sources.jsonl import MAX_LENGTHS, Progress, SeenIds, decode_line, read_lines

NAME = "kaggle"
MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}


def read_path(path: Path, on_progress: Progress | None = None) -> Iterator[Item]:
    """Every paper of a snapshot file; ``on_progress(bytes_read, total_bytes)`` is called every few thousand lines."""
    seen = SeenIds()
    for line in read_lines(path, on_progress):
        if isinstance(line, Skip):
            yield line
            continue
        number, raw = line
        where = f"{path}:{number}"
        try:
            paper = parse_paper(decode_line(raw))
        except (ValueError, TypeError, OverflowError) as exc:
            yield Skip(where, str(exc) or type(exc).__name__)
            continue
        if not seen.add(paper.id):
            yield Skip(where, f"duplicate id {paper.id} in this file (an earlier line has it)")
            continue
        yield Record(paper=paper, where=where)


def parse_paper(data: dict[str, Any]) -> Paper:
    """One snapshot record as a paper; raises ValueError or TypeError saying what is wrong."""
    raw_id = _str(data, "id")
    parsed = parse_arxiv_id(raw_id) if raw_id else None
    if parsed is None:
        raise ValueError(f"id {raw_id!r} is not an arXiv identifier" if raw_id else "missing id")
    title = clean_text(_str(data, "title"))
    if not title:
        raise ValueError("missing title")
    versions = _versions(data.get("versions"))
    doi = _str(data, "doi").split(maxsplit=1)[0] if _str(data, "doi").strip() else None
    if doi is not None and len(doi) > MAX_LENGTHS["doi"]:
        doi = None  # not a DOI; the paper itself is still good
    categories = _str(data, "categories").split()
    for category in categories:
        if len(category) > MAX_LENGTHS["category"]:
            raise ValueError(f"category longer than {MAX_LENGTHS['category']} characters")
    return Paper(
        id=parsed[0],
        title=title,
        abstract=clean_text(_str(data, "abstract")),
        authors=_authors(data),
        categories=categories,
        published_at=versions[0].created_at if versions else None,
        updated_at=versions[-1].created_at if versions else None,
        versions=versions,
        doi=doi,
        journal_ref=clean_text(_str(data, "journal-ref")) or None,
        comments=clean_text(_str(data, "comments")) or None,
        license=_str(data, "license").strip()[: MAX_LENGTHS["license"]] or None,
        links={"doi": f"https://doi.org/{doi}"} if doi else {},
    )


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{key} is a {type(value).__name__}, not a string")
    return value


def _versions(raw: Any) -> list[Version]:
    """Versions in number order; v1's date is when the paper was first published."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TypeError(f"versions is a {type(raw).__name__}, not a list")
    versions = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("version"), str):
            raise TypeError(f"versions holds {item!r:.60} instead of {{version, created}}")
        label = item["version"]
        if not (label[:1] == "v" and label[1:].isdigit()):
            raise ValueError(f"version {label!r} is not v1, v2, ...")
        created = item.get("created")
        versions.append(Version(int(label[1:]), parse_rfc2822(created) if created else None))
    versions.sort(key=lambda v: v.number)
    return versions


def parse_rfc2822(text: Any) -> datetime:
    """``Mon, 2 Apr 2007 19:18:42 GMT`` as an aware UTC datetime, fast for that one shape; ValueError if impossible."""
    if not isinstance(text, str):
        raise TypeError(f"version date {text!r} is not a string")
    parts = text.split()
    try:
        if len(parts) == 6 and parts[5] == "GMT" and parts[2] in MONTHS:
            hour, minute, second = parts[4].split(":")
            return datetime(
                int(parts[3]), MONTHS[parts[2]], int(parts[1]), int(hour), int(minute), int(second), tzinfo=UTC
            )
        value = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        raise ValueError(f"impossible date {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- author names -----------------------------------------------------------------------------------------------


def _authors(data: dict[str, Any]) -> list[str]:
    """Names as "Forenames Keyname Suffix" from ``authors_parsed``, else split from the ``authors`` string."""
    parsed = data.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(_is_parsed_name(p) for p in parsed):
        names = []
        for parts in parsed:
            keyname, forenames = parts[0], parts[1]
            suffix = parts[2] if len(parts) > 2 else ""
            # arXiv's parser splits hyphenated initials ("C.-P." -> "C. -P."); put them back together.
            name = clean_text(" ".join(p for p in (forenames.replace(" -", "-"), keyname, suffix) if p))
            if name:
                names.append(tex_to_unicode(name))
        return names
    return author_names(_str(data, "authors"))


def _is_parsed_name(parts: Any) -> bool:
    return isinstance(parts, list) and len(parts) >= 2 and all(isinstance(p, str) for p in parts[:3])
