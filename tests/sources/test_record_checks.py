"""The per-record checks of every ingest: clean_text (its fast path must never change what it returns) and
problem_with."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from paperboy.domain import Paper
from paperboy.sources.base import clean_text, problem_with

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def slow_clean_text(value: str) -> str:
    """The definition: control characters become spaces, then every whitespace run collapses to one space."""
    return " ".join(CONTROL.sub(" ", value).split())


# text that mixes ordinary words with the characters that take clean_text off its fast path
awkward = st.text(
    alphabet=st.sampled_from(["a", "Z", "é", "∑", " ", "\t", "\n", "\r", "\x00", "\x7f", "\u00a0", "\u200b"]),
    max_size=40,
)


@given(st.one_of(st.text(), awkward))
def test_clean_text_matches_its_definition(value: str) -> None:
    assert clean_text(value) == slow_clean_text(value)


@given(awkward)
def test_clean_text_leaves_no_control_characters_or_double_spaces(value: str) -> None:
    cleaned = clean_text(value)
    assert not CONTROL.search(cleaned)
    assert "  " not in cleaned and cleaned == cleaned.strip()


def test_clean_text_of_none_and_numbers() -> None:
    assert clean_text(None) == ""
    assert clean_text(42) == "42"
    assert clean_text(" Attention\tIs  All\nYou Need ") == "Attention Is All You Need"


def test_problem_with_works_on_leap_day_and_bounds_future_dates() -> None:
    leap_day = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert problem_with(Paper(id="2802.00001", title="T", published_at=leap_day), now=leap_day) is None
    too_late = Paper(id="2802.00001", title="T", published_at=leap_day + timedelta(days=800))
    assert "impossible published_at" in (problem_with(too_late, now=leap_day) or "")
    soon = Paper(id="2802.00001", title="T", published_at=leap_day + timedelta(days=700))
    assert problem_with(soon, now=leap_day) is None
