"""The search box's small query syntax, parsed into a plain value the lexical and dense searches both read.

Syntax: free words; ``"exact phrase"``; ``-word`` and ``-"a phrase"`` to exclude; ``author:Name`` or
``author:"First Last"``; ``cat:cs.CL`` (``cat:cs`` means any cs.* category); ``since:2025-01-01`` and
``until:2025-03`` (a year or month means its first day for since, its last day for until).

Anything a user can type parses or raises :class:`QueryError` with a message fit to show them (the API turns it
into a 400). Forgiving where intent is clear: an unbalanced quote runs to the end, ``author: Name`` with a space
works, unknown ``word:thing`` is just text, control characters are dropped, and overlong input is cut at a word
boundary.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date

MAX_QUERY_CHARS = 1000  # a query longer than this is cut (at a space), not refused
MAX_CLAUSES = 64  # words, phrases and exclusions beyond this are ignored
MAX_PHRASE_WORDS = 32
FIELDS = ("author", "cat", "since", "until")
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)?$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_FIELD = re.compile(r"(author|cat|since|until):", re.IGNORECASE)


class QueryError(ValueError):
    """The query cannot be understood; the message says why, in terms the user typed."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions that do not score: every author must match, any category may, dates are inclusive days."""

    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    def __bool__(self) -> bool:
        return bool(self.authors or self.categories or self.since or self.until)

    def merged(self, other: Filters | None) -> Filters:
        """Both sets of restrictions at once (e.g. the query's own and a page's category menu)."""
        if not other:
            return self
        since = max((d for d in (self.since, other.since) if d), default=None)
        until = min((d for d in (self.until, other.until) if d), default=None)
        return Filters(
            authors=tuple(dict.fromkeys(self.authors + other.authors)),
            categories=tuple(dict.fromkeys(self.categories + other.categories)),
            since=since,
            until=until,
        )


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed search: words and phrases that score, exclusions, and filters."""

    terms: tuple[str, ...] = ()  # free words as typed (analysis happens in the index)
    phrases: tuple[str, ...] = ()  # each must occur, words in order
    excluded_terms: tuple[str, ...] = ()
    excluded_phrases: tuple[str, ...] = ()
    filters: Filters = field(default_factory=Filters)

    @property
    def has_text(self) -> bool:
        """Whether anything scores; a query of only filters/exclusions lists matching papers, newest first."""
        return bool(self.terms or self.phrases)

    @property
    def is_empty(self) -> bool:
        return not (self.has_text or self.excluded_terms or self.excluded_phrases or self.filters)

    @property
    def plain_text(self) -> str:
        """The words and phrases without syntax: what a dense (embedding) search should embed."""
        return " ".join((*self.phrases, *self.terms))


def parse_query(text: str) -> ParsedQuery:
    """Parse the search box text; raises QueryError (and nothing else) on input it cannot make sense of."""
    if not isinstance(text, str):
        raise QueryError("the query must be text")
    text = _clean(text)
    terms: list[str] = []
    phrases: list[str] = []
    excluded_terms: list[str] = []
    excluded_phrases: list[str] = []
    authors: list[str] = []
    categories: list[str] = []
    since: date | None = None
    until: date | None = None
    pos, end = 0, len(text)
    clauses = 0
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        negate = text[pos] == "-" and pos + 1 < end and not text[pos + 1].isspace()
        if negate:
            pos += 1
        field_match = _FIELD.match(text, pos) if not negate else None
        if field_match:
            name = field_match.group(1).lower()
            pos = field_match.end()
            while pos < end and text[pos].isspace():  # "author: Hinton" means author:Hinton
                pos += 1
            value, pos = _read_value(text, pos)
            if not value:
                raise QueryError(_empty_field_message(name))
            if name == "author":
                authors.append(value)
            elif name == "cat":
                categories.append(_category(value))
            elif name == "since":
                since = _day(value, name, last=False)
            else:
                until = _day(value, name, last=True)
            continue
        if text[pos] == '"':
            value, pos = _read_quoted(text, pos)
            words = value.split()[:MAX_PHRASE_WORDS]
            if not _has_word(" ".join(words)):
                continue
            clauses += 1
            if clauses <= MAX_CLAUSES:
                (excluded_phrases if negate else phrases).append(" ".join(words))
            continue
        value, pos = _read_bare(text, pos)
        if not _has_word(value):
            continue
        clauses += 1
        if clauses <= MAX_CLAUSES:
            (excluded_terms if negate else terms).append(value)
    if since and until and since > until:
        raise QueryError(f"since:{since.isoformat()} is after until:{until.isoformat()}: no paper can match")
    return ParsedQuery(
        terms=tuple(dict.fromkeys(terms)),
        phrases=tuple(dict.fromkeys(phrases)),
        excluded_terms=tuple(dict.fromkeys(excluded_terms)),
        excluded_phrases=tuple(dict.fromkeys(excluded_phrases)),
        filters=Filters(tuple(dict.fromkeys(authors)), tuple(dict.fromkeys(categories)), since, until),
    )


def with_filters(query: ParsedQuery, filters: Filters | None) -> ParsedQuery:
    """The query with extra filters (from the page rather than the text) added to its own."""
    return replace(query, filters=query.filters.merged(filters))


def _clean(text: str) -> str:
    """Control and format characters become spaces; overlong text is cut at the last space before the limit."""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)
    if len(cleaned) > MAX_QUERY_CHARS:
        cut = cleaned[:MAX_QUERY_CHARS]
        space = cut.rfind(" ")
        cleaned = cut[:space] if space > MAX_QUERY_CHARS // 2 else cut
    return cleaned


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """The text between a quote at ``pos`` and the next quote (or the end: an unbalanced quote runs out)."""
    close = text.find('"', pos + 1)
    if close == -1:
        return text[pos + 1 :], len(text)
    return text[pos + 1 : close], close + 1


def _read_bare(text: str, pos: int) -> tuple[str, int]:
    """A word up to the next space or quote."""
    start = pos
    while pos < len(text) and not text[pos].isspace() and text[pos] != '"':
        pos += 1
    return text[start:pos], pos


def _read_value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == '"':
        value, pos = _read_quoted(text, pos)
        return " ".join(value.split()), pos
    return _read_bare(text, pos)


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _empty_field_message(name: str) -> str:
    examples = {
        "author": 'author:Hinton or author:"Geoffrey Hinton"',
        "cat": "cat:cs.CL or cat:cs",
        "since": "since:2025-01-31 (or since:2025-01, since:2025)",
        "until": "until:2025-01-31 (or until:2025-01, until:2025)",
    }
    return f"{name}: needs a value, e.g. {examples[name]}"


def _category(value: str) -> str:
    if not _CATEGORY.match(value):
        raise QueryError(f"cat:{value} is not an arXiv category; write e.g. cat:cs.CL, cat:hep-th or cat:cs")
    return value.lower()


def _day(value: str, name: str, last: bool) -> date:
    """A day from YYYY-MM-DD, YYYY-MM or YYYY; for until, a month or year means its last day."""
    match = _DATE.match(value)
    if not match:
        raise QueryError(f"{name}:{value} is not a date; write e.g. {name}:2025-01-31, {name}:2025-01 or {name}:2025")
    year = int(match.group(1))
    month, day = (int(g) if g else None for g in match.groups()[1:])
    try:
        if month is None:
            return date(year, 12, 31) if last else date(year, 1, 1)
        if day is None:
            return date(year, month, calendar.monthrange(year, month)[1] if last else 1)
        return date(year, month, day)
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise QueryError(f"{name}:{value} is not a real date ({exc})") from None
