"""Merging one source's view of a paper into what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paperboy.domain import Paper, Version, merge_papers, parse_arxiv_id

T1 = datetime(2024, 1, 1, tzinfo=UTC)
T2 = datetime(2024, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2405.15738", ("2405.15738", None)),
        ("2405.15738v3", ("2405.15738", 3)),
        ("https://arxiv.org/abs/2405.15738v2", ("2405.15738", 2)),
        ("https://arxiv.org/pdf/2405.15738.pdf", ("2405.15738", None)),
        ("arXiv:0704.0001", ("0704.0001", None)),
        ("hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("abc", None),
        ("", None),
        ("2405.1573", None),
    ],
)
def test_parse_arxiv_id(text: str, expected: tuple[str, int | None] | None) -> None:
    assert parse_arxiv_id(text) == expected


def test_fields_a_source_does_not_know_are_kept() -> None:
    from_arxiv = Paper(id="1", title="A", abstract="abs", categories=["cs.CL"], versions=[Version(1, T1)])
    from_hf = Paper(id="1", title="A", upvotes=5, counts_as_of=T1, links={"code": "https://github.com/x/y"})
    merged = merge_papers(from_arxiv, from_hf)
    assert merged.categories == ["cs.CL"] and merged.abstract == "abs"
    assert merged.upvotes == 5 and merged.links == {"code": "https://github.com/x/y"}
    assert merge_papers(merged, from_arxiv) == merged


def test_an_older_version_never_overwrites_a_newer_one() -> None:
    v2 = Paper(id="1", title="New title", versions=[Version(1, T1), Version(2, T2)])
    v1 = Paper(id="1", title="Old title", versions=[Version(1, T1)])
    assert merge_papers(v2, v1).title == "New title"
    assert merge_papers(v1, v2).title == "New title"
    assert [v.number for v in merge_papers(v1, v2).versions] == [1, 2]


def test_an_older_snapshot_only_fills_gaps() -> None:
    newer = Paper(id="1", title="A", upvotes=10, github_stars=7, counts_as_of=T2)
    older = Paper(id="1", title="A", upvotes=3, github_stars=1, ai_summary="s", counts_as_of=T1)
    merged = merge_papers(newer, older)
    assert (merged.upvotes, merged.github_stars, merged.ai_summary, merged.counts_as_of) == (10, 7, "s", T2)
