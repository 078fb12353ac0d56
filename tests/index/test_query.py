"""The search box syntax: what each form means, forgiving parses, clear errors, and never anything else."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.index.query import MAX_CLAUSES, MAX_QUERY_CHARS, Filters, ParsedQuery, QueryError, parse_query


def test_free_words_phrases_and_exclusions() -> None:
    parsed = parse_query('diffusion "exact phrase" -gan -"style transfer" GPT-4o')
    assert parsed.terms == ("diffusion", "GPT-4o")
    assert parsed.phrases == ("exact phrase",)
    assert parsed.excluded_terms == ("gan",)
    assert parsed.excluded_phrases == ("style transfer",)
    assert parsed.plain_text == "exact phrase diffusion GPT-4o"
    assert parsed.has_text and not parsed.is_empty


def test_fields() -> None:
    parsed = parse_query('author:Hinton author:"Geoffrey  Hinton" cat:cs.CL cat:hep-th since:2025-01-02 until:2025-03')
    assert parsed.filters == Filters(
        authors=("Hinton", "Geoffrey Hinton"),
        categories=("cs.cl", "hep-th"),
        since=date(2025, 1, 2),
        until=date(2025, 3, 31),
    )
    assert not parsed.has_text and not parsed.is_empty


def test_year_and_month_dates_cover_the_whole_period() -> None:
    assert parse_query("since:2024").filters.since == date(2024, 1, 1)
    assert parse_query("until:2024").filters.until == date(2024, 12, 31)
    assert parse_query("until:2024-02").filters.until == date(2024, 2, 29)
    assert parse_query("since:2024-02").filters.since == date(2024, 2, 1)


def test_field_names_ignore_case_and_a_space_after_the_colon() -> None:
    assert parse_query("Author: Hinton").filters.authors == ("Hinton",)
    assert parse_query("CAT:cs.LG").filters.categories == ("cs.lg",)


def test_unknown_prefixes_are_text() -> None:
    assert parse_query("title:foo https://arxiv.org").terms == ("title:foo", "https://arxiv.org")


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\t", "- - -", '""', '" "', "!!! ???", "-"])
def test_nothing_to_search_is_an_empty_query(text: str) -> None:
    assert parse_query(text) == ParsedQuery()
    assert parse_query(text).is_empty


def test_unbalanced_quote_runs_to_the_end() -> None:
    parsed = parse_query('agents "multi agent systems')
    assert parsed.terms == ("agents",)
    assert parsed.phrases == ("multi agent systems",)


def test_control_characters_are_dropped() -> None:
    assert parse_query("graph\x00neural\u200bnets\x1b").terms == ("graph", "neural", "nets")


def test_only_stop_words_still_parse() -> None:
    assert parse_query("the of and").terms == ("the", "of", "and")


def test_overlong_input_is_cut_at_a_word_boundary() -> None:
    parsed = parse_query("word " * 5000)  # 25,000 characters
    assert parsed.terms == ("word",)
    long_words = " ".join(f"w{i}" for i in range(3000))
    parsed = parse_query(long_words)
    assert len(parsed.terms) == MAX_CLAUSES
    assert all(len(t) < 6 for t in parsed.terms)
    assert len(" ".join(parsed.terms)) < MAX_QUERY_CHARS
    assert parse_query("x" * 10_000).terms == ("x" * MAX_QUERY_CHARS,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("author:", "author: needs a value"),
        ("transformers author:   ", "author: needs a value"),
        ('author:""', "author: needs a value"),
        ("cat:", "cat: needs a value"),
        ("cat:cs.CL;drop", "not an arXiv category"),
        ("since:yesterday", "since:yesterday is not a date"),
        ("until:2025-13-01", "not a real date"),
        ("since:2025-02-30", "not a real date"),
        ("since:0000", "not a real date"),
        ("since:2025-03-01 until:2025-01-01", "is after"),
    ],
)
def test_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)


def test_filters_merge_narrows() -> None:
    a = Filters(authors=("A",), categories=("cs.cl",), since=date(2024, 1, 1), until=date(2025, 1, 1))
    b = Filters(authors=("B",), since=date(2024, 6, 1), until=date(2026, 1, 1))
    merged = a.merged(b)
    assert merged.authors == ("A", "B") and merged.categories == ("cs.cl",)
    assert (merged.since, merged.until) == (date(2024, 6, 1), date(2025, 1, 1))
    assert a.merged(None) is a and not Filters()


_syntax = st.sampled_from(['"', "-", ":", "author:", "cat:", "since:", "until:", " ", "\x00", "\u202e", "2025-01-01"])
_queries = st.lists(st.one_of(st.text(max_size=12), _syntax), max_size=30).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_queries)
def test_fuzz_parse_returns_a_query_or_raises_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError as exc:
        assert str(exc)
        return
    assert isinstance(parsed, ParsedQuery)
    for value in (*parsed.terms, *parsed.phrases, *parsed.excluded_terms, *parsed.excluded_phrases):
        assert value.strip() and "\x00" not in value
