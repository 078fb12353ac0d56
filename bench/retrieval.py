"""Search quality on SciFact: paperboy's BM25, dense and hybrid search next to simple baselines, in one run.

Run: `.venv/bin/python bench/retrieval.py` (add `--folds 5`, `--backend onnx` to compare embedding paths).

What it does, in order:
1. converts the BEIR corpus (`_id/title/text`) to the jsonl source's `id/title/abstract` and ingests it through
   that source into a temporary SQLite store, exactly as `paperboy ingest jsonl` would;
2. builds the lexical index from the store (`paperboy.index.sync.rebuild`) and embeds every paper with
   `embed_pending` (vectors of unchanged texts come from a cache in bench/out, so a re-run takes seconds), then
   builds the ANN index from the stored vectors;
3. runs the 809 training queries (`qrels/train.tsv`) through paperboy's `HybridSearcher`: BM25 alone, dense alone,
   and hybrid with the shipped fusion settings;
4. computes the baselines in the same run: bm25s (Snowball stemming, English stop words), reciprocal rank fusion of
   bm25s and dense (k=60), and a min-max-normalised weighted sum 0.4 bm25s + 0.6 dense (top 100 of each);
5. tunes the fusion (BM25 and coverage weights, normalisation, title boost) by k-fold cross-validation: for each
   fold the best setting on the other folds is scored on this fold; the table reports the pooled held-out
   nDCG@10, the figure to trust;
6. the learned re-ranker (paperboy/index/rerank.py): the shipped model re-orders the hybrid's best 50 (it was
   trained on these same claims by scripts/train_reranker.py, so that row is in-sample), and k-fold
   cross-validation trains a model per fold with the shipped parameters on the other folds' pools and scores
   this fold's, over three shuffles of the claims: the held-out figure to trust.

nDCG@10 with binary judgments (all SciFact judgments are 1), recall@100 as the share of relevant documents found.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import train_reranker

from paperboy.index import hybrid, rerank, sync
from paperboy.index.embed import paper_text
from paperboy.index.embedding_job import embed_pending
from paperboy.index.lexical import TITLE_BOOST, LexicalIndex
from paperboy.index.service import stored_texts
from paperboy.index.vectors import VectorIndex
from paperboy.sources import jsonl
from paperboy.sources.base import ingest
from paperboy.store import Store

DEPTH = 200  # candidates per half, as the shipped Fusion
WEIGHTS = [round(0.05 * i, 2) for i in range(0, 21)]
TITLE_BOOSTS = (0.3, 1.0, 2.5)
COVERAGE_WEIGHTS = (0.0, 0.2, 0.35, 0.5)
COVERAGE_DEPTHS = (10, 20, 50, 100, 2 * DEPTH)  # 2 * DEPTH: every candidate of both halves


# -- metrics -------------------------------------------------------------------------------------------------------


def ndcg_at_10(ranked: Sequence[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(pid, 0) / math.log2(i + 2) for i, pid in enumerate(ranked[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


def recall_at_100(ranked: Sequence[str], relevant: dict[str, int]) -> float:
    wanted = {pid for pid, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:100])) / len(wanted) if wanted else 0.0


def evaluate(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    ids = list(qrels)
    ndcg = float(np.mean([ndcg_at_10(runs.get(q, []), qrels[q]) for q in ids]))
    recall = float(np.mean([recall_at_100(runs.get(q, []), qrels[q]) for q in ids]))
    return ndcg, recall


# -- building ------------------------------------------------------------------------------------------------------


class CachedEmbedder:
    """paperboy's Embedder with a memory of texts already embedded (same backend), so re-runs are quick."""

    def __init__(self, inner, cache: dict[str, np.ndarray]) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.cache = cache
        self.computed = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [" ".join(t.split()) for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in self.cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self.cache[" ".join(text.split())] = vector
            self.computed += len(missing)
        return np.stack([self.cache[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def build(folder: Path, data: corpus.SciFact, backend: str) -> tuple[Store, LexicalIndex, VectorIndex, CachedEmbedder]:
    started = time.perf_counter()
    source = folder / "scifact.jsonl"
    with source.open("w", encoding="utf-8") as fh:
        for doc in data.docs:
            fh.write(json.dumps(doc) + "\n")
    store = Store(f"sqlite:///{folder / 'bench.db'}")
    store.migrate()
    report = ingest(store, jsonl.read_path(source), "jsonl", str(source))
    print(f"ingested {report.new} papers ({len(report.skipped)} skipped) in {time.perf_counter() - started:.1f} s")
    lexical = LexicalIndex(folder / "lexical")
    sync.rebuild(store, lexical)
    vectors = corpus.scifact_embeddings(data, backend)
    cache = {" ".join(paper_text(d["title"], d["abstract"]).split()): vectors[i] for i, d in enumerate(data.docs)}
    embedder = CachedEmbedder(corpus.embedder(backend), cache)
    embed_pending(store, embedder, batch_size=256)  # type: ignore[arg-type]
    print(f"embedded through embed_pending ({embedder.computed} not cached)")
    ann = VectorIndex(folder / "vectors", model=embedder.model_id)
    ann.sync(store)
    print(f"indexes built in {time.perf_counter() - started:.1f} s")
    return store, lexical, ann, embedder


def query_vectors(data: corpus.SciFact, embedder: CachedEmbedder, backend: str) -> dict[str, np.ndarray]:
    ids = list(data.queries)
    path = corpus.OUT / f"scifact-train-queries-{backend}-{len(ids)}.npy"
    if path.exists():
        matrix = np.load(path)
    else:
        matrix = embedder.inner.embed([data.queries[q] for q in ids])
        np.save(path, matrix)
    return dict(zip(ids, matrix, strict=True))


# -- baselines -----------------------------------------------------------------------------------------------------


def bm25s_runs(data: corpus.SciFact, depth: int) -> dict[str, dict[str, float]]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = [d["id"] for d in data.docs]
    tokens = bm25s.tokenize([f"{d['title']} {d['abstract']}" for d in data.docs], stopwords="en", stemmer=stemmer)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    qids = list(data.queries)
    q_tokens = bm25s.tokenize([data.queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False)
    docs, scores = retriever.retrieve(q_tokens, k=depth, show_progress=False, n_threads=1)
    return {q: {ids[int(d)]: float(s) for d, s in zip(docs[i], scores[i], strict=True)} for i, q in enumerate(qids)}


def rrf(a: dict[str, float], b: dict[str, float], k: int = 60) -> list[str]:
    fused: dict[str, float] = {}
    for run in (a, b):
        for rank, pid in enumerate(sorted(run, key=lambda p: -run[p])):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(fused, key=lambda p: -fused[p])


def weighted_minmax(a: dict[str, float], b: dict[str, float], wa: float) -> list[str]:
    na, nb = hybrid.normalise(a), hybrid.normalise(b)
    fused = {pid: wa * na.get(pid, 0.0) + (1 - wa) * nb.get(pid, 0.0) for pid in {*a, *b}}
    return sorted(fused, key=lambda p: -fused[p])


def top(scores: dict[str, float], n: int = 100) -> dict[str, float]:
    return dict(sorted(scores.items(), key=lambda kv: -kv[1])[:n])


# -- cross-validation ----------------------------------------------------------------------------------------------


Candidates = dict[float, dict[str, tuple[dict[str, float], dict[str, float], dict[str, float]]]]
# title boost -> query -> (lexical, dense, coverage)


def fused_ranking(cands: Candidates, qid: str, fusion: hybrid.Fusion, limit: int = 100) -> list[str]:
    """The hybrid's ranking from cached candidates, coverage read for the same head as the searcher reads it."""
    lexical, dense, coverage = cands[fusion.title_boost][qid]

    def coverage_of(head: Sequence[str]) -> dict[str, float]:
        return {pid: coverage[pid] for pid in head if pid in coverage}

    return [s.paper_id for s in hybrid.fuse_with_coverage(lexical, dense, fusion, coverage_of, limit)]


def cross_validate(
    cands: Candidates, qrels: dict[str, dict[str, int]], folds: int
) -> tuple[float, float, list[hybrid.Fusion], hybrid.Fusion, float]:
    grid = [
        hybrid.Fusion(lexical_weight=w, coverage_weight=c, normalisation=n, title_boost=t)
        for t in TITLE_BOOSTS
        for n in hybrid.NORMALISATIONS
        for c in COVERAGE_WEIGHTS
        for w in WEIGHTS
        if w + c <= 1.0 + 1e-9
    ]
    qids = sorted(qrels)
    per_query: dict[hybrid.Fusion, dict[str, float]] = {}  # nDCG@10 of every setting on every query
    recall: dict[hybrid.Fusion, dict[str, float]] = {}
    for f in grid:
        ranked = {q: fused_ranking(cands, q, f) for q in qids}
        per_query[f] = {q: ndcg_at_10(ranked[q], qrels[q]) for q in qids}
        recall[f] = {q: recall_at_100(ranked[q], qrels[q]) for q in qids}
    shuffled = qids[:]
    random.Random(13).shuffle(shuffled)
    held_out_ndcg: list[float] = []
    held_out_recall: list[float] = []
    chosen = []
    for k in range(folds):
        test = shuffled[k::folds]
        train = [q for q in shuffled if q not in set(test)]
        best = max(grid, key=lambda f: (np.mean([per_query[f][q] for q in train]), -abs(f.lexical_weight - 0.5)))
        chosen.append(best)
        held_out_ndcg += [per_query[best][q] for q in test]
        held_out_recall += [recall[best][q] for q in test]
    overall = max(grid, key=lambda f: np.mean(list(per_query[f].values())))
    in_sample = float(np.mean(list(per_query[overall].values())))
    return float(np.mean(held_out_ndcg)), float(np.mean(held_out_recall)), chosen, overall, in_sample


RERANK_SEEDS = (13, 7, 21)


def rerank_cross_validate(
    pools: train_reranker.Pools, qrels: dict[str, dict[str, int]], folds: int, seed: int
) -> float:
    """Held-out nDCG@10 of the re-ranker: for each fold a model trained (with the shipped parameters) on the other
    folds' claims re-orders this fold's pools."""
    qids = sorted(q for q in qrels if q in pools)
    random.Random(seed).shuffle(qids)
    held_out = []
    for k in range(folds):
        test = qids[k::folds]
        model = rerank.Reranker(rerank.train(train_reranker.labelled(pools, qrels, [q for q in qids if q not in test])))
        for q in test:
            ids, features = pools[q]
            order = np.argsort(-model.score(features), kind="stable")
            held_out.append(ndcg_at_10([ids[i] for i in order], qrels[q]))
    return float(np.mean(held_out))


def describe(f: hybrid.Fusion) -> str:
    return f"{f.lexical_weight}/{f.coverage_weight}/{f.normalisation}/{f.title_boost}"


# -- main ----------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--backend", default="onnx-int8", help="embedding backend (onnx-int8, onnx, ...)")
    args = parser.parse_args()
    data = corpus.scifact()
    print(f"SciFact: {len(data.docs)} documents, {len(data.queries)} training queries")
    with tempfile.TemporaryDirectory(prefix="paperboy-retrieval-") as tmp:
        store, lexical, ann, embedder = build(Path(tmp), data, args.backend)
        qvecs = query_vectors(data, embedder, args.backend)
        shipped = hybrid.Fusion()
        no_coverage = replace(shipped, coverage_weight=0.0, lexical_weight=0.3)
        searcher = hybrid.HybridSearcher(
            lexical, ann, lambda text: embedder.embed_query(text), shipped, texts=partial(stored_texts, store)
        )
        reranking = hybrid.HybridSearcher(
            lexical, ann, embedder.embed_query, shipped, texts=partial(stored_texts, store), reranker=rerank.shipped()
        )
        names = ("bm25", "bm25-hybrid-boost", "dense", "hybrid", "hybrid-no-coverage", "reranked")
        runs: dict[str, dict[str, list[str]]] = {name: {} for name in names}
        cands: Candidates = {t: {} for t in TITLE_BOOSTS}
        timings: list[float] = []
        rerank_timings: list[float] = []
        for qid, query, vector in train_reranker.claims(data, qvecs):
            searcher.embed_query = lambda _text, v=vector: v  # the cached query vector: same model, same text
            started = time.perf_counter()
            runs["hybrid"][qid] = [s.paper_id for s in searcher.search(query, 100)]
            timings.append(time.perf_counter() - started)
            reranking.embed_query = searcher.embed_query
            started = time.perf_counter()
            runs["reranked"][qid] = [s.paper_id for s in reranking.search(query, 100)]
            rerank_timings.append(time.perf_counter() - started)
            top_dense = dict(ann.search(vector, DEPTH))
            halves = {}
            for boost in TITLE_BOOSTS:
                lex = {h.paper_id: h.score for h in lexical.search(query, DEPTH, title_boost=boost)}
                dense = dict(top_dense)
                missing = [pid for pid in lex if pid not in dense]
                dense.update(ann.search(vector, len(missing), allowed_ids=missing) if missing else [])
                halves[boost] = (lex, dense)
            every = {pid for lex, dense in halves.values() for pid in [*lex, *dense]}
            coverage = lexical.coverage(query, stored_texts(store, every))  # fused_ranking reads its head's
            for boost, (lex, dense) in halves.items():
                cands[boost][qid] = (lex, dense, coverage)
            runs["bm25"][qid] = [h.paper_id for h in lexical.search(query, 100)]
            runs["bm25-hybrid-boost"][qid] = list(cands[shipped.title_boost][qid][0])[:100]
            runs["hybrid-no-coverage"][qid] = fused_ranking(cands, qid, no_coverage)[:100]
            runs["dense"][qid] = [pid for pid, _ in ann.search(vector, 100)]
        base = bm25s_runs(data, DEPTH)
        dense100 = {q: dict(ann.search(qvecs[q], 100)) for q in data.queries}
        runs["bm25s"] = {q: list(top(base[q]))[:100] for q in data.queries}
        runs["rrf"] = {q: rrf(top(base[q]), dense100[q])[:100] for q in data.queries}
        runs["minmax"] = {q: weighted_minmax(top(base[q]), dense100[q], 0.4)[:100] for q in data.queries}
        cv_ndcg, cv_recall, chosen, overall, in_sample = cross_validate(cands, data.qrels, args.folds)
        pools = train_reranker.collect_pools(searcher, data, qvecs)
        rerank_cv = [rerank_cross_validate(pools, data.qrels, args.folds, seed) for seed in RERANK_SEEDS]
        qids = list(cands[shipped.title_boost])
        depths = {
            depth: {q: fused_ranking(cands, q, replace(shipped, coverage_depth=depth), 10) for q in qids}
            for depth in COVERAGE_DEPTHS
        }
        store.close()

    rows = [
        ("bm25s, stemmed + stop words (baseline)", "bm25s"),
        ("all-MiniLM-L6-v2 alone (paperboy dense)", "dense"),
        ("RRF k=60 of bm25s + dense (baseline)", "rrf"),
        ("min-max 0.4 bm25s + 0.6 dense (baseline)", "minmax"),
        (f"paperboy BM25 alone (tantivy, title boost {TITLE_BOOST}, sub-words)", "bm25"),
        (f"paperboy BM25, hybrid's lexical half (title boost {shipped.title_boost})", "bm25-hybrid-boost"),
        (
            f"paperboy hybrid without coverage ({no_coverage.lexical_weight} BM25"
            f" + {no_coverage.dense_weight:.1f} dense)",
            "hybrid-no-coverage",
        ),
        (
            f"paperboy hybrid fused ({shipped.lexical_weight} BM25 + {shipped.dense_weight:.2f} dense"
            f" + {shipped.coverage_weight} coverage), no re-ranker",
            "hybrid",
        ),
        ("paperboy hybrid + re-ranker, shipped model (trained on these: in-sample)", "reranked"),
    ]
    print()
    print(f"SciFact training judgments, {len(data.qrels)} queries, embeddings: {args.backend}")
    print(f"{'method':<74} {'nDCG@10':>8} {'R@100':>7}")
    print("-" * 91)
    for label, key in rows:
        ndcg, recall = evaluate(runs[key], data.qrels)
        print(f"{label:<74} {ndcg:>8.3f} {recall:>7.3f}")
    label = f"paperboy hybrid fused, {args.folds}-fold CV held-out (tuned per fold)"
    print(f"{label:<74} {cv_ndcg:>8.3f} {cv_recall:>7.3f}")
    label = f"paperboy hybrid + re-ranker, {args.folds}-fold CV held-out (trained per fold)"
    print(f"{label:<74} {float(np.mean(rerank_cv)):>8.3f} {evaluate(runs['hybrid'], data.qrels)[1]:>7.3f}")
    print(
        f"  (re-ranker CV over {len(RERANK_SEEDS)} shuffles: {', '.join(f'{v:.4f}' for v in rerank_cv)};"
        " R@100 is the fused ranking's: re-ranking its best 50 keeps the same 100)"
    )
    print()
    print("chosen per fold (BM25/coverage weight, normalisation, title boost): " + ", ".join(map(describe, chosen)))
    print(f"best on all training queries (in-sample): {describe(overall)}, nDCG@10 {in_sample:.3f}")
    print()
    print("coverage read for the best N fused candidates only (shipped weights, 10 results asked for):")
    print("  " + ", ".join(f"N={n}: nDCG@10 {evaluate(runs, data.qrels)[0]:.3f}" for n, runs in depths.items()))
    timings.sort()
    print(f"hybrid query time here (query vector cached): p50 {1000 * timings[len(timings) // 2]:.1f} ms")
    rerank_timings.sort()
    print(f"with the re-ranker: p50 {1000 * rerank_timings[len(rerank_timings) // 2]:.1f} ms")


if __name__ == "__main__":
    main()
