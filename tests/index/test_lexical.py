"""The tantivy-backed lexical index: fields, syntax, filters, highlighting, compounds, persistence."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import tantivy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.domain import Paper
from paperboy.index import lexical
from paperboy.index.lexical import Highlighter, Hit, LexicalIndex, index_path
from paperboy.index.query import Filters, QueryError, parse_query


def paper(pid: str, title: str, abstract: str = "", **fields: object) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, **fields)  # type: ignore[arg-type]


PAPERS = [
    paper(
        "2101.00001",
        "AgentFormer: Agent-Aware Transformers for Socio-Temporal Multi-Agent Forecasting",
        "We forecast the trajectories of many agents jointly.",
        authors=["Ye Yuan", "Kris Kitani"],
        categories=["cs.CV", "cs.LG"],
        published_at=datetime(2021, 3, 1, tzinfo=UTC),
    ),
    paper(
        "2312.00002",
        "AgentCoder: Multi-Agent Code Generation with Iterative Testing",
        "Code generation with a programmer agent and a test designer.",
        authors=["Dong Huang"],
        categories=["cs.CL"],
        published_at=datetime(2023, 12, 1, tzinfo=UTC),
    ),
    paper(
        "2410.00003",
        "TokenFormer: Rethinking Transformer Scaling with Tokenized Model Parameters",
        "Scaling models by treating parameters as tokens.",
        authors=["Haiyang Wang", "Yue Fan"],
        categories=["cs.LG"],
        published_at=datetime(2024, 10, 30, tzinfo=UTC),
    ),
    paper(
        "2311.00004",
        "Hiformer: Heterogeneous Feature Interactions Learning with Transformers for Recommender Systems",
        "Feature interactions for recommendation at Google scale.",
        authors=["Huan Gui"],
        categories=["cs.IR"],
        published_at=datetime(2023, 11, 1, tzinfo=UTC),
    ),
    paper(
        "2406.00005",
        "Cooking with large language models",
        "The state of the art in recipe generation, and a note on the former state of the art.",
        authors=["Yang Wang", "Xin Li"],
        categories=["cs.CL"],
        published_at=datetime(2024, 6, 5, tzinfo=UTC),
    ),
]


@pytest.fixture
def index(tmp_path: Path) -> LexicalIndex:
    built = LexicalIndex(index_path(tmp_path / "data"))
    built.add_or_replace(PAPERS)
    return built


def ids(hits: list[Hit]) -> list[str]:
    return [h.paper_id for h in hits]


def search(index: LexicalIndex, text: str, **kwargs: object) -> list[str]:
    return ids(index.search(parse_query(text), **kwargs))  # type: ignore[arg-type]


def test_persisted_under_the_data_dir_and_reopened(tmp_path: Path, index: LexicalIndex) -> None:
    assert index.path == tmp_path / "data" / "index" / "lexical"
    assert len(index) == len(PAPERS)
    reopened = LexicalIndex(index.path)
    assert len(reopened) == len(PAPERS)
    assert search(reopened, "recommender") == ["2311.00004"]


def test_an_index_of_another_schema_version_is_wiped(tmp_path: Path, index: LexicalIndex) -> None:
    (index.path / lexical.META_FILE).write_text(json.dumps({"schema_version": -1}))
    assert len(LexicalIndex(index.path)) == 0


def test_title_outranks_abstract_and_stemming_matches(index: LexicalIndex) -> None:
    # "generation" is in AgentCoder's title and abstract, in the cooking paper's abstract only
    assert search(index, "generating")[:2] == ["2312.00002", "2406.00005"]


def test_agentformer_finds_compounds_literal_first_both_parts_before_one(index: LexicalIndex) -> None:
    found = search(index, "AgentFormer")
    assert found[0] == "2101.00001"
    assert set(found) >= {"2312.00002", "2410.00003", "2311.00004"}
    assert "2406.00005" not in found[:4]  # "former" only as a word in the abstract: last, if at all
    # "LongWriter" style: a camel-case query also finds the parts in titles
    assert search(index, "TokenCoder")[:2] in (["2410.00003", "2312.00002"], ["2312.00002", "2410.00003"])


def test_phrases_must_occur_in_order(index: LexicalIndex) -> None:
    assert search(index, '"state of the art"') == ["2406.00005"]
    assert search(index, '"art of the state"') == []
    assert search(index, '"code generation"') == ["2312.00002"]
    assert search(index, 'agents "large language"') == ["2406.00005"]  # words rank, phrases decide


def test_exclusions(index: LexicalIndex) -> None:
    assert "2312.00002" in search(index, "agent")
    assert "2312.00002" not in search(index, "agent -code")
    assert search(index, 'scaling -"model parameters"') == ["2311.00004"]  # "Google scale", not TokenFormer
    assert search(index, "-transformers") == ["2406.00005", "2312.00002"]  # only exclusions: newest first


def test_author_filter_and_author_words(index: LexicalIndex) -> None:
    assert search(index, 'author:"Yang Wang"') == ["2406.00005"]
    assert search(index, "author:wang") == ["2410.00003", "2406.00005"]
    assert search(index, 'author:"Wang Yang"') == []
    assert search(index, 'author:"Kris Kitani" transformers') == ["2101.00001"]
    assert search(index, "kitani") == ["2101.00001"]  # free words search authors too


def test_category_filter(index: LexicalIndex) -> None:
    assert search(index, "cat:cs.cl") == ["2406.00005", "2312.00002"]
    assert set(search(index, "cat:cs")) == {p.id for p in PAPERS}
    assert set(search(index, "transformers cat:cs.IR cat:cs.CV")) == {"2311.00004", "2101.00001"}
    assert search(index, "transformers", filters=Filters(categories=("cs.CL",))) == []


def test_date_range_is_inclusive(index: LexicalIndex) -> None:
    assert search(index, "since:2024-10-30") == ["2410.00003"]
    assert search(index, "until:2021-03-01") == ["2101.00001"]
    assert search(index, "since:2023 until:2023") == ["2312.00002", "2311.00004"]
    assert search(index, "transformers", filters=Filters(since=date(2024, 1, 1))) == ["2410.00003"]


def test_replace_and_delete(index: LexicalIndex) -> None:
    index.add_or_replace([paper("2311.00004", "Gradient boosting for tables")])
    assert search(index, "recommender") == []
    assert search(index, "boosting") == ["2311.00004"]
    assert len(index) == len(PAPERS)
    index.delete(["2311.00004", "unknown"])
    assert search(index, "boosting") == [] and len(index) == len(PAPERS) - 1


def test_highlighting_marks_matches_and_escapes_everything_else() -> None:
    raw_title, raw_abstract = "<script>alert('x')</script> Agents & KwaiAgents", 'A "quoted" <b>agent</b> study.'
    marks = Highlighter(parse_query("agent"))
    title, abstract = marks.title(raw_title), marks.abstract(raw_abstract)
    assert (
        title == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; <mark>Agents</mark> &amp; Kwai<mark>Agent</mark>s"
    )
    assert abstract == "A &quot;quoted&quot; &lt;b&gt;<mark>agent</mark>&lt;/b&gt; study."
    title = Highlighter(parse_query("script")).title(raw_title)
    assert "<script" not in title and "&lt;<mark>script</mark>&gt;" in title


def test_highlighting_phrases_and_compounds() -> None:
    marks = Highlighter(parse_query('AgentFormer "state of the art"'))
    title = marks.title("AgentCoder and Hiformer: Multi-Agent state")
    abstract = marks.abstract("The state of the art, not the art of the state.")
    assert title == "<mark>Agent</mark>Coder and Hi<mark>former</mark>: Multi-<mark>Agent</mark> state"
    assert abstract == "The <mark>state of the art</mark>, not the art of the state."


def test_filter_ids_applies_filters_and_exclusions_only(index: LexicalIndex) -> None:
    query = parse_query("anything -code since:2023")
    allowed = index.filter_ids([p.id for p in PAPERS] + ["missing"], query)
    assert allowed == {"2410.00003", "2311.00004", "2406.00005"}
    assert index.filter_ids([], query) == set()


def test_queries_that_analyse_to_nothing_find_nothing(index: LexicalIndex) -> None:
    assert search(index, "") == []
    assert search(index, "___ ^^^") == []
    assert search(index, "the")[0] == "2406.00005"  # only stop words: searched anyway
    assert search(index, "the cooking") == ["2406.00005"]
    assert index.search(parse_query("agent"), limit=0) == []
    assert len(index.search(parse_query("agent"), limit=1)) == 1


def test_hits_are_ids_and_scores_and_the_index_stores_only_ids(index: LexicalIndex) -> None:
    hits = index.search(parse_query("tokens"))
    assert [h.paper_id for h in hits] == ["2410.00003"] and hits[0].score > 0
    searcher = index.index.searcher()
    stored = searcher.doc(searcher.search(tantivy.Query.all_query(), 1).hits[0][1])
    assert set(stored.to_dict()) == {"id"}  # texts come from the store: small stored documents, fast id reads


_query_text = st.lists(
    st.one_of(
        st.text(max_size=10),
        st.sampled_from(['"', "-", "author:", "cat:cs", "since:2024", "until:2025-01", "GPT-4o", "AgentFormer", "the"]),
    ),
    max_size=12,
).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_query_text)
def test_fuzz_search_never_raises_anything_but_query_error(index: LexicalIndex, text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError:
        return
    for hit in index.search(query, limit=5):
        assert hit.paper_id in {p.id for p in PAPERS}
    index.filter_ids([p.id for p in PAPERS], query)


def test_plain_and_separated_words_make_one_flat_union_of_terms(index: LexicalIndex) -> None:
    """Only a flat OR of (boosted) term queries lets tantivy skip papers that cannot reach the top k (block-max
    WAND, 2-4x faster at a million papers): plain words and words written with separators must build one;
    camel-case compounds keep their constant-score sub-word clauses."""
    for text in ("agents plan tools", "stem-cell growth", "Vision-Language-Action models"):
        shape = repr(index._query(parse_query(text), Filters(), 0.3))
        assert shape.count("BooleanQuery") == 1, shape
        assert "Phrase" not in shape and "Const(" not in shape and "Disjunction" not in shape, shape
    assert "Const(" in repr(index._query(parse_query("AgentFormer"), Filters(), 0.3))


def test_coverage_is_the_idf_weighted_share_of_query_words_a_paper_holds(tmp_path: Path) -> None:
    """Rare words weigh more than common ones, repeating a word adds nothing, and only the given texts count,
    analysed the way the index analyses them (stems: "cells" holds "cell", "pluripotency" does not hold
    "pluripotent"), weighted by the index's idf."""
    texts = {
        "all": ("Pluripotent stem cells", "Stem cells from mice."),
        "repeats": ("Stem cells", "Stem cells, stem cells and more stem cells."),
        "rare": ("Pluripotency", "Pluripotent states."),
        "filler1": ("Stem cells", "Cells."),
        "filler2": ("Stem cells", "Cells."),
        "none": ("Cooking", "Recipes."),
    }
    index = LexicalIndex(index_path(tmp_path / "data"))
    index.add_or_replace([paper(pid, title, abstract) for pid, (title, abstract) in texts.items()])

    def idf(df: int) -> float:
        return math.log(1 + (len(texts) - df + 0.5) / (df + 0.5))

    total = idf(2) + 2 * idf(4) + idf(1)  # pluripotent in 2 papers, stem and cell in 4 each, mice in 1
    query = parse_query("pluripotent stem cells mice qqxzzy")  # qqxzzy: in no paper, left out of the share
    given = {pid: f"{title}\n{abstract}" for pid, (title, abstract) in texts.items()}
    coverage = index.coverage(query, given)
    assert coverage["all"] == pytest.approx(1.0)
    assert coverage["repeats"] == pytest.approx(2 * idf(4) / total)
    assert coverage["rare"] == pytest.approx(idf(2) / total)
    assert coverage["rare"] > coverage["repeats"] / 2  # one rare word outweighs a common one
    assert "none" not in coverage
    assert set(index.coverage(query, {"repeats": given["repeats"]})) == {"repeats"}  # only the papers asked about
    assert index.coverage(query, {}) == {} and index.coverage(parse_query("qqxzzy"), given) == {}
    # the text decides, not what the index holds of the paper: a fresher text in the store counts as it is
    assert index.coverage(query, {"all": "Mice only."}) == {"all": pytest.approx(idf(1) / total)}
