"""Plain records that flow from sources through the store to the surfaces.

A source fills only the fields it knows; ``None`` means "this source does not say", so merging a record from one
source into a paper known from another never erases what the other said (see :func:`merge_papers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

ARXIV_NEW_ID = re.compile(r"^(?P<id>\d{4}\.\d{4,5})(?:v(?P<version>\d+))?$")
ARXIV_OLD_ID = re.compile(r"^(?P<id>[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?$")
LINK_KINDS = ("doi", "code", "project")


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Split an arXiv identifier (bare, versioned, or inside an abs/pdf URL) into (id, version).

    Returns None when ``text`` is not an arXiv identifier, so callers can report why a record was skipped.
    """
    candidate = text.strip()
    for prefix in ("https://", "http://"):
        if candidate.startswith(prefix):
            candidate = candidate[len(prefix) :]
    for host in ("arxiv.org/abs/", "arxiv.org/pdf/", "export.arxiv.org/abs/", "www.arxiv.org/abs/"):
        if candidate.startswith(host):
            candidate = candidate[len(host) :]
    candidate = candidate.removeprefix("arXiv:").removeprefix("arxiv:").removesuffix(".pdf")
    for pattern in (ARXIV_NEW_ID, ARXIV_OLD_ID):
        match = pattern.match(candidate)
        if match and _plausible(match.group("id")):
            version = match.group("version")
            return match.group("id"), int(version) if version else None
    return None


def _plausible(paper_id: str) -> bool:
    """New-style ids have 4 digits after the dot until 2014 (YYMM 0704-1412) and 5 from 1501 on."""
    if "/" in paper_id:
        return True
    yymm, number = paper_id.split(".")
    month = int(yymm[2:])
    return 1 <= month <= 12 and (len(number) == 5) == (yymm >= "1501")


def is_arxiv_id(paper_id: str) -> bool:
    parsed = parse_arxiv_id(paper_id)
    return parsed is not None and parsed[0] == paper_id


@dataclass(slots=True, frozen=True)
class Version:
    number: int
    created_at: datetime | None = None


@dataclass(slots=True)
class Paper:
    """A paper as one source describes it. Identity is the arXiv id without version, or any stable id."""

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary category first
    published_at: datetime | None = None
    updated_at: datetime | None = None
    versions: list[Version] = field(default_factory=list)
    doi: str | None = None
    journal_ref: str | None = None
    comments: str | None = None
    license: str | None = None
    links: dict[str, str] = field(default_factory=dict)  # kinds: doi, code, project
    github_stars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    upvotes: int | None = None  # imported base count; local votes add to it
    num_comments: int | None = None  # imported base count
    counts_as_of: datetime | None = None  # when the imported counts were observed

    @property
    def is_arxiv(self) -> bool:
        return is_arxiv_id(self.id)

    @property
    def latest_version(self) -> int | None:
        return max((v.number for v in self.versions), default=None)

    @property
    def abs_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.id}" if self.is_arxiv else None

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.id}" if self.is_arxiv else None


@dataclass(slots=True, frozen=True)
class DailyEntry:
    """A paper on one day's list: submitted to the site (or announced) that day."""

    paper_id: str
    day: date
    submitted_by: str | None = None
    submitted_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class Record:
    """What a source yields for one good input record: the paper, perhaps its daily entry, and where it was."""

    paper: Paper
    where: str
    entry: DailyEntry | None = None


@dataclass(slots=True, frozen=True)
class Skip:
    """A record that could not be used, with where it was and why, so the user can find and fix it."""

    where: str
    reason: str


def merge_papers(old: Paper, new: Paper) -> Paper:
    """The paper after ``new`` (one source's view) is applied to ``old`` (what the store holds).

    Fields ``new`` does not know are kept. Metadata of an older arXiv version never overwrites a newer one.
    A snapshot (imported counts, code links, AI summary) older than the stored one only fills gaps.
    """
    merged = replace(old, links=dict(old.links), versions=list(old.versions))
    old_version, new_version = old.latest_version, new.latest_version
    content_is_current = old_version is None or new_version is None or new_version >= old_version
    if content_is_current:
        if new.title:
            merged.title = new.title
        if new.abstract:
            merged.abstract = new.abstract
        if new.authors:
            merged.authors = list(new.authors)
        for name in ("updated_at", "journal_ref", "comments", "license", "doi"):
            value = getattr(new, name)
            if value is not None:
                setattr(merged, name, value)
    if new.categories:
        merged.categories = list(new.categories)
    if new.published_at is not None and (old.published_at is None or new.published_at < old.published_at):
        merged.published_at = new.published_at
    if new.versions:
        by_number = {v.number: v for v in old.versions}
        for v in new.versions:
            if v.number not in by_number or (by_number[v.number].created_at is None and v.created_at):
                by_number[v.number] = v
        merged.versions = [by_number[n] for n in sorted(by_number)]
    # A snapshot older than the one stored (an earlier day's HF response) only fills gaps.
    stale = new.counts_as_of is not None and old.counts_as_of is not None and new.counts_as_of < old.counts_as_of
    for kind, url in new.links.items():
        if not stale or kind not in merged.links:
            merged.links[kind] = url
    for name in ("github_stars", "ai_summary", "ai_keywords"):
        value = getattr(new, name)
        if value is not None and (not stale or getattr(merged, name) is None):
            setattr(merged, name, value)
    if (new.upvotes is not None or new.num_comments is not None) and not stale:
        if new.upvotes is not None:
            merged.upvotes = new.upvotes
        if new.num_comments is not None:
            merged.num_comments = new.num_comments
        merged.counts_as_of = new.counts_as_of
    return merged
