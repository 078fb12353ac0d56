"""Hybrid search on a real SciFact subset (300 documents, their training queries) with the real packaged model.

Document vectors are embedded once per session and written to each test's store through ``embed_pending`` (a cached
embedder), so each test costs an ingest, not a model run; query vectors come from the service's own embedder.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paperboy.app import Paperboy
from paperboy.domain import Paper
from paperboy.index.embed import DIM, Embedder, paper_text
from paperboy.index.embedding_job import embed_pending
from paperboy.index.hybrid import Fusion, HybridSearcher, Scored, fuse, fuse_with_coverage, normalise, recency_boost
from paperboy.index.lexical import Hit, LexicalIndex
from paperboy.index.query import parse_query
from paperboy.index.service import SearchService
from paperboy.index.vectors import VectorIndex
from paperboy.sources import jsonl
from paperboy.sources.base import ingest

SUBSET_DOCS = 300
SUBSET_QUERIES = 90


# -- fusion arithmetic ---------------------------------------------------------------------------------------------


def test_normalise_minmax_and_zscore() -> None:
    assert normalise({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert normalise({"a": 5.0, "b": 5.0}) == {"a": 1.0, "b": 1.0}
    z = normalise({"a": 1.0, "b": 3.0}, "zscore")
    assert z == {"a": -1.0, "b": 1.0}
    assert normalise({}) == {}


def test_fuse_combines_both_halves_and_keeps_unembedded_papers() -> None:
    lexical = {"both": 10.0, "lex-only": 8.0, "unembedded": 9.0, "low": 2.0}
    dense = {"both": 0.9, "dense-only": 0.8, "lex-only": 0.1, "low": 0.5}
    half = Fusion(lexical_weight=0.5, coverage_weight=0.0)
    fused = fuse(lexical, dense, half, embedded=lambda pid: pid != "unembedded")
    order = [s.paper_id for s in fused]
    assert order[0] == "both"  # best in both halves
    by_id = {s.paper_id: s for s in fused}
    # not embedded yet: ranked on its lexical score alone (0.875 after min-max), not punished for a missing vector
    assert by_id["unembedded"].score == pytest.approx(0.875)
    assert by_id["unembedded"].dense is None and by_id["dense-only"].lexical is None
    # found only by the dense half: the lowest lexical score seen (0 after min-max) for the other half
    assert by_id["dense-only"].score == pytest.approx(0.5 * 0.0 + 0.5 * (0.8 - 0.1) / 0.8)
    assert set(order) == {"both", "lex-only", "unembedded", "low", "dense-only"}


def test_weight_one_is_lexical_order_and_zero_is_dense_order() -> None:
    lexical = {"a": 3.0, "b": 2.0, "c": 1.0}
    dense = {"a": 0.1, "b": 0.5, "c": 0.9}
    lexical_only = Fusion(lexical_weight=1.0, coverage_weight=0.0)
    dense_only = Fusion(lexical_weight=0.0, coverage_weight=0.0)
    assert [s.paper_id for s in fuse(lexical, dense, lexical_only)] == ["a", "b", "c"]
    assert [s.paper_id for s in fuse(lexical, dense, dense_only)] == ["c", "b", "a"]


def test_coverage_adds_its_weight_and_lifts_papers_that_hold_the_whole_query() -> None:
    """BM25 prefers "repeats" (one query word many times) and the dense half is undecided; the paper that holds
    every query word ("covers") must win once coverage counts, and every score is the documented weighted sum."""
    lexical = {"repeats": 9.0, "covers": 8.0, "neither": 1.0}
    dense = {"repeats": 0.50, "covers": 0.50, "neither": 0.40, "dense-only": 0.45}
    coverage = {"repeats": 0.3, "covers": 1.0, "dense-only": 0.5}
    without = fuse(lexical, dense, Fusion(lexical_weight=0.3, coverage_weight=0.0), coverage=coverage)
    assert [s.paper_id for s in without][:2] == ["repeats", "covers"]
    fusion = Fusion(lexical_weight=0.2, coverage_weight=0.35)
    assert fusion.dense_weight == pytest.approx(0.45)
    fused = {s.paper_id: s.score for s in fuse(lexical, dense, fusion, coverage=coverage)}
    assert max(fused, key=fused.__getitem__) == "covers"
    assert fused["covers"] == pytest.approx(0.2 * 7 / 8 + 0.45 * 1.0 + 0.35 * 1.0)
    assert fused["dense-only"] == pytest.approx(0.2 * 0.0 + 0.45 * 0.5 + 0.35 * 0.5)
    assert fused["neither"] == pytest.approx(0.0)  # lowest in both halves, no coverage given: 0.0


def test_coverage_is_asked_only_for_the_fused_head_and_reorders_only_it() -> None:
    """Coverage is read for the best ``max(coverage_depth, limit)`` fused candidates, no more: the papers below
    keep their order and stay below the head, however much of the query they hold."""
    lexical = {f"p{i}": float(100 - i) for i in range(20)}
    dense = {f"p{i}": 0.5 for i in range(20)}
    holds_every_word = {"p3", "p15"}  # p15 is not in the head
    asked: list[list[str]] = []

    def coverage_of(head: Sequence[str]) -> dict[str, float]:
        asked.append(list(head))
        return {pid: 1.0 for pid in head if pid in holds_every_word}

    fusion = Fusion(lexical_weight=0.2, coverage_weight=0.2, coverage_depth=5)
    ranked = [s.paper_id for s in fuse_with_coverage(lexical, dense, fusion, coverage_of, limit=3)]
    assert asked == [["p0", "p1", "p2", "p3", "p4"]]
    assert ranked[:5] == ["p3", "p0", "p1", "p2", "p4"]
    assert ranked[5:] == [f"p{i}" for i in range(5, 20)]  # p15 not lifted: its coverage was never asked for
    asked.clear()
    fuse_with_coverage(lexical, dense, fusion, coverage_of, limit=8)
    assert len(asked[0]) == 8  # a longer page widens the head to what is shown
    asked.clear()
    without = fuse_with_coverage(lexical, dense, Fusion(coverage_weight=0.0), coverage_of, limit=3)
    assert asked == [] and [s.paper_id for s in without] == [f"p{i}" for i in range(20)]


def test_recency_boost_moves_newer_papers_up_and_is_off_by_default() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    results = [Scored("old", 0.80, None, None), Scored("new", 0.75, None, None), Scored("undated", 0.7, None, None)]
    published = {"old": now - timedelta(days=2000), "new": now - timedelta(days=3), "undated": None}
    assert recency_boost(results, published, Fusion(), now) == results
    boosted = recency_boost(results, published, Fusion(recency_weight=0.5, recency_half_life_days=90), now)
    assert [s.paper_id for s in boosted] == ["new", "old", "undated"]
    # z-scored results are negative below the mean: a boost must still move a newer paper up, never down
    below_mean = [Scored("old", -1.4, None, None), Scored("new", -1.5, None, None), Scored("undated", -1.6, None, None)]
    boosted = recency_boost(below_mean, published, Fusion(recency_weight=0.5, recency_half_life_days=90), now)
    assert [s.paper_id for s in boosted] == ["new", "old", "undated"]


def test_the_query_is_embedded_while_its_lexical_half_runs(tmp_path: Path) -> None:
    """The query embedding must not wait for BM25, nor BM25 for it: on two cores they run side by side. Each half
    here waits until the other has started; run one after the other, in either order, they would time out."""
    lexical_started, embedding_started = threading.Event(), threading.Event()

    class WatchedLexical(LexicalIndex):
        def search(self, *args: Any, **kwargs: Any) -> list[Hit]:
            lexical_started.set()
            assert embedding_started.wait(timeout=10), "the lexical search ran before the query was embedded"
            return super().search(*args, **kwargs)

    papers = [Paper(id=f"p{i}", title=f"agent paper {i}", abstract="agents plan and act") for i in range(5)]
    lexical = WatchedLexical(tmp_path / "lexical")
    lexical.add_or_replace(papers)
    vectors = VectorIndex(tmp_path / "vectors", model="test")
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(5, DIM)).astype(np.float32)
    vectors.upsert([p.id for p in papers], matrix / np.linalg.norm(matrix, axis=1, keepdims=True))

    def embed_query(text: str) -> np.ndarray:
        embedding_started.set()
        assert lexical_started.wait(timeout=10), "the query was embedded before the lexical search started"
        return matrix[3] / np.linalg.norm(matrix[3])

    found = HybridSearcher(lexical, vectors, embed_query).search(parse_query("agent"), 3)
    assert found[0].paper_id == "p3" and len(found) == 3  # same lexical score for all: the vector decides


def test_hybrid_search_counts_coverage_so_the_paper_with_all_query_words_wins(tmp_path: Path) -> None:
    """Same vector for every paper (the dense half cannot decide); BM25 prefers the paper that repeats one query
    word, hybrid search the paper that holds both words, through the coverage read from the papers' texts; without
    a text lookup coverage is not counted."""
    papers = [
        Paper(id="repeats", title="Cell study", abstract="Protein protein protein."),
        Paper(id="covers", title="Cell study", abstract="Protein, and chaperonin."),
        *(Paper(id=f"filler{i}", title=f"Cell study {i}", abstract="Chaperonin in cells.") for i in range(3)),
    ]
    lexical = LexicalIndex(tmp_path / "lexical")
    lexical.add_or_replace(papers)
    vectors = VectorIndex(tmp_path / "vectors", model="test")
    same = np.ones((len(papers), DIM), dtype=np.float32) / math.sqrt(DIM)
    vectors.upsert([p.id for p in papers], same)
    query = parse_query("protein chaperonin")
    by_id = {p.id: f"{p.title}\n{p.abstract}" for p in papers}
    asked: list[str] = []

    def texts(ids: Collection[str]) -> dict[str, str]:
        asked.extend(ids)
        return {pid: by_id[pid] for pid in ids}

    searcher = HybridSearcher(lexical, vectors, lambda _text: same[0], texts=texts)
    assert [s.paper_id for s in searcher.search(query, 2)] == ["covers", "repeats"]
    assert sorted(asked) == sorted(by_id)  # all five are in the head of 50
    without = HybridSearcher(lexical, vectors, lambda _text: same[0], Fusion(lexical_weight=0.4, coverage_weight=0.0))
    assert [s.paper_id for s in without.search(query, 2)] == ["repeats", "covers"]
    no_texts = HybridSearcher(lexical, vectors, lambda _text: same[0])
    assert [s.paper_id for s in no_texts.search(query, 2)] == ["repeats", "covers"]


def test_bad_fusion_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Fusion(lexical_weight=1.5)
    with pytest.raises(ValueError, match=r"coverage weight 0\.5 must be between 0 and 1 - lexical weight"):
        Fusion(lexical_weight=0.8, coverage_weight=0.5)
    with pytest.raises(ValueError, match="normalisation"):
        Fusion(normalisation="softmax")


# -- a real subset of SciFact --------------------------------------------------------------------------------------


class Subset:
    def __init__(self, docs: list[dict[str, object]], queries: dict[str, str], qrels: dict[str, set[str]]) -> None:
        self.docs, self.queries, self.qrels = docs, queries, qrels


@pytest.fixture(scope="session")
def subset(shared_data: Path) -> Subset:
    """The first training queries whose judged documents all fit, their documents, and distractors up to 300.
    Each document gets made-up metadata (authors, category, date) so the filters have something to act on."""
    root = shared_data / "scifact"
    qrels: dict[str, set[str]] = {}
    for line in (root / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(did)
    with gzip.open(root / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh]
    queries = {}
    for line in (root / "queries.jsonl").read_text().splitlines():
        raw = json.loads(line)
        queries[raw["_id"]] = raw["text"]
    chosen_queries = sorted(qrels, key=int)[:SUBSET_QUERIES]
    wanted = {did for q in chosen_queries for did in qrels[q]}
    picked = [d for d in corpus if d["_id"] in wanted]
    picked += [d for d in corpus if d["_id"] not in wanted][: SUBSET_DOCS - len(picked)]
    docs = []
    for i, d in enumerate(picked):
        docs.append(
            {
                "id": d["_id"],
                "title": d["title"],
                "abstract": d["text"],
                "authors": [f"Author{i % 7} Smith", "Shared Coauthor"],
                "categories": ["q-bio.GN" if i % 2 else "q-bio.NC"],
                "published_at": (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=5 * i)).isoformat(),
            }
        )
    return Subset(docs, {q: queries[q] for q in chosen_queries}, {q: qrels[q] for q in chosen_queries})


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of exported ONNX files for the session (the same one tests/index/test_embed.py uses)."""
    return tmp_path_factory.getbasetemp() / "models"


@pytest.fixture(scope="session")
def doc_vectors(subset: Subset, models_dir: Path) -> dict[str, np.ndarray]:
    embedder = Embedder(models_dir, backend="onnx-int8", batch_size=16, threads=2)
    texts = [paper_text(str(d["title"]), str(d["abstract"])) for d in subset.docs]
    return {" ".join(t.split()): v for t, v in zip(texts, embedder.embed(texts), strict=True)}


class CachedEmbedder:
    """Vectors for texts embedded earlier in the session; anything else is embedded for real."""

    def __init__(self, inner: Embedder, cache: dict[str, np.ndarray]) -> None:
        self.inner, self.cache, self.model_id = inner, cache, inner.model_id

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [" ".join(t.split()) for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in self.cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self.cache[" ".join(text.split())] = vector
        return np.stack([self.cache[k] for k in keys])


def write_jsonl(path: Path, docs: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def service_for(paperboy: Paperboy, models_dir: Path) -> SearchService:
    """The app's search service, sharing the session's exported model files."""
    folder = paperboy.settings.data_dir / "models"
    folder.parent.mkdir(parents=True, exist_ok=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    if not folder.exists():
        folder.symlink_to(models_dir, target_is_directory=True)
    return paperboy.search


@pytest.fixture
def built(paperboy: Paperboy, tmp_path: Path, subset: Subset, doc_vectors: dict[str, np.ndarray], models_dir: Path):
    """The subset ingested through the jsonl source, embedded (from the session's vectors) and indexed."""
    source = write_jsonl(tmp_path / "subset.jsonl", subset.docs)
    report = ingest(paperboy.store, jsonl.read_path(source), "jsonl", str(source))
    assert report.new == len(subset.docs) and not report.skipped
    service = service_for(paperboy, models_dir)
    cached = CachedEmbedder(service.query_embedder, dict(doc_vectors))
    assert embed_pending(paperboy.store, cached, batch_size=100) == len(subset.docs)  # type: ignore[arg-type]
    service.update_index(embed=False)
    assert service.status(fresh=True).complete and len(service.vectors) == len(subset.docs)
    return service


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranked[:10]) if pid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal


def test_hybrid_beats_each_half_on_real_scifact_subset(built: SearchService, subset: Subset) -> None:
    scores: dict[str, list[float]] = {"bm25": [], "dense": [], "hybrid": []}
    for qid, text in subset.queries.items():
        query = parse_query(text)
        runs = {
            "bm25": built.searcher.search(query, 10, dense=False),
            "dense": built.searcher.dense_only(query, 10),
            "hybrid": built.searcher.search(query, 10),
        }
        for name, found in runs.items():
            scores[name].append(ndcg10([s.paper_id for s in found], subset.qrels[qid]))
    mean = {name: float(np.mean(values)) for name, values in scores.items()}
    assert mean["hybrid"] > mean["bm25"] and mean["hybrid"] > mean["dense"], mean


def test_query_syntax_and_filters_bind_both_halves(built: SearchService, subset: Subset) -> None:
    docs = {str(d["id"]): d for d in subset.docs}
    text = "vitamin D deficiency and bone health"
    plain = built.search(text, limit=30)
    assert plain.semantic and len(plain.results) == 30

    def ids(query: str) -> list[str]:
        page = built.search(query, limit=30)
        assert page.semantic
        return [r.paper.id for r in page.results]

    in_cat = ids(f"{text} cat:q-bio.GN")
    assert in_cat and all(docs[pid]["categories"] == ["q-bio.GN"] for pid in in_cat)
    by_author = ids(f'{text} author:"Author3 Smith"')
    assert by_author and all("Author3 Smith" in docs[pid]["authors"] for pid in by_author)  # type: ignore[operator]
    dated = ids(f"{text} since:2021-01-01 until:2021-12-31")
    assert dated and all(str(docs[pid]["published_at"]).startswith("2021") for pid in dated)
    top = plain.results[0].paper
    excluded_word = max((w for w in top.title.split() if w.isalpha()), key=len).lower()
    without = ids(f"{text} -{excluded_word}")
    assert top.id not in without
    assert all(excluded_word not in f"{docs[p]['title']} {docs[p]['abstract']}".lower() for p in without)
    phrase = ids('tissue regeneration "stem cells"')  # the phrase must occur (stemmed: "stem cell" too)
    assert phrase and all("stem cell" in f"{docs[p]['title']} {docs[p]['abstract']}".lower() for p in phrase)


def test_results_carry_highlights_and_entries(built: SearchService) -> None:
    page = built.search("vitamin D", limit=5)
    first = page.results[0]
    assert "<mark>" in first.highlighted_title + first.highlighted_summary
    assert not first.listed_on_site and first.entry.paper_id == first.paper.id  # no daily list: a made-up entry


def test_the_service_reads_coverage_from_the_stores_texts(built: SearchService, subset: Subset) -> None:
    """The app's searcher is wired to the store for coverage: a paper's stored title and abstract come back (also
    past the first 900 ids asked, where the store's query is split), and a query made of its title's words is
    fully covered by it."""
    doc = subset.docs[0]
    assert built.searcher.texts is not None
    texts = built.searcher.texts([*(f"no-such-paper-{i}" for i in range(1000)), str(doc["id"])])
    assert texts == {str(doc["id"]): f"{doc['title']}\n{doc['abstract']}"}
    query = parse_query(str(doc["title"]))
    assert built.searcher.lexical.coverage(query, texts)[str(doc["id"])] == pytest.approx(1.0)


def test_new_papers_are_found_after_ingest_without_rebuild_and_before_embedding(
    built: SearchService, paperboy: Paperboy, tmp_path: Path
) -> None:
    new = {"id": "new-1", "title": "Zymoglobulin quasiparticles in tardigrade mitochondria", "abstract": "Made up."}
    source = write_jsonl(tmp_path / "new.jsonl", [new])
    ingest(paperboy.store, jsonl.read_path(source), "jsonl", str(source))
    page = built.search("zymoglobulin tardigrade", limit=5, with_status=True)
    assert [r.paper.id for r in page.results][:1] == ["new-1"]  # synced on search, lexical until embedded
    assert page.status is not None and page.status.total == SUBSET_DOCS + 1
    assert built.status(fresh=True).embedded == SUBSET_DOCS
    assert built.similar("new-1", 3)  # no vector yet: neighbours by title words
    built.background_step()  # what the web process's background thread does
    assert built.status(fresh=True).complete and "new-1" in built.vectors
    assert built.search("zymoglobulin tardigrade", limit=1).results[0].paper.id == "new-1"


def test_similar_papers_are_nearest_neighbours(built: SearchService, subset: Subset) -> None:
    target = str(subset.docs[0]["id"])
    similar = built.similar(target, 5)
    assert len(similar) == 5 and target not in [r.paper.id for r in similar]
    assert [r.score for r in similar] == sorted((r.score for r in similar), reverse=True)
    assert built.similar("no-such-paper", 5) == []


def test_a_crash_while_embedding_resumes_where_it_stopped(
    paperboy: Paperboy, tmp_path: Path, subset: Subset, models_dir: Path
) -> None:
    paperboy.settings = paperboy.settings.replace(embedding_batch_size=4)
    docs = subset.docs[:12]
    source = write_jsonl(tmp_path / "few.jsonl", docs)
    ingest(paperboy.store, jsonl.read_path(source), "jsonl", str(source))
    service = service_for(paperboy, models_dir)

    def crash(done: int, total: int) -> None:
        if done >= 8:
            raise KeyboardInterrupt  # as Ctrl-C or a kill would, after two committed batches

    with pytest.raises(KeyboardInterrupt):
        service.update_index(on_progress=crash)
    assert service.status(fresh=True).embedded == 8
    report = service.update_index()
    assert report.embedded == 4 and report.status.complete and len(service.vectors) == 12


def test_hidden_papers_leave_both_halves(built: SearchService, paperboy: Paperboy) -> None:
    from paperboy.store.community import set_paper_hidden

    query = "vitamin D deficiency and bone health"
    top = built.search(query, limit=1).results[0].paper.id
    assert top in built.vectors
    set_paper_hidden(paperboy.store, top, True)
    assert top not in [r.paper.id for r in built.search(query, limit=50).results]  # its vector remains, unused
    assert top not in [s.paper_id for s in built.searcher.dense_only(parse_query(query), 50)]


def test_the_reranker_reorders_only_the_fused_head(built: SearchService, subset: Subset) -> None:
    """The service's searcher re-ranks (the shipped model): the best 50 fused papers change order, the 100 shown
    stay the same papers, and scores still fall with rank (TREC runs rely on it)."""
    searcher = built.searcher
    assert searcher.reranker is not None and searcher.fusion.rerank_depth == 50
    fused_only = HybridSearcher(
        searcher.lexical,
        searcher.vectors,
        searcher.embed_query,
        replace(searcher.fusion, rerank_depth=0),
        texts=searcher.texts,
    )
    reordered = 0
    for text in list(subset.queries.values())[:15]:
        query = parse_query(text)
        ranked, fused = searcher.search(query, 100), fused_only.search(query, 100)
        assert {s.paper_id for s in ranked} == {s.paper_id for s in fused}
        assert [s.paper_id for s in ranked[50:]] == [s.paper_id for s in fused[50:]]
        assert all(a.score >= b.score for a, b in pairwise(ranked))
        reordered += [s.paper_id for s in ranked[:10]] != [s.paper_id for s in fused[:10]]
    assert reordered >= 3
