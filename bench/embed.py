"""Embedding speed vs retrieval quality: paperboy's embedding paths against plain sentence-transformers.

Run: ``.venv/bin/python bench/embed.py`` (all 5,183 SciFact abstracts, ~15 min on two cores) or ``--limit 300`` for
a quick look. For each backend it embeds the corpus (title + ". " + abstract) and the claims in the same run,
reports abstracts/s (wall clock, and per CPU-second, which other load on the machine disturbs less), the median
latency of one query, and dense-only nDCG@10 on SciFact's training judgments (exact cosine top 10). A second table
gives the recall@10 of usearch HNSW graphs (f32, f16, i8) against exact search on the same real vectors, which
decides the ANN index's scalar type. The embeddings are written to ``bench/out/embed/`` for other benchmarks:
``scifact-<backend>[-limitN].npz`` with ``ids`` and ``vectors`` (corpus) and ``query_ids``/``query_vectors``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from usearch.index import Index  # noqa: E402

from paperboy.index.embed import Embedder, model_dir, paper_text  # noqa: E402

SCIFACT = REPO.parent / "shared" / "data" / "scifact"
OUT = REPO / "bench" / "out" / "embed"
THREADS = os.cpu_count() or 1


def load_scifact(limit: int | None) -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    """Corpus ids and texts, claims by id, and training judgments (queries with a judged document in the corpus)."""
    ids, texts = [], []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            ids.append(doc["_id"])
            texts.append(paper_text(doc["title"], doc["text"]))
            if limit and len(ids) == limit:
                break
    claims = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            query = json.loads(line)
            claims[query["_id"]] = query["text"]
    corpus = set(ids)
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (SCIFACT / "qrels" / "train.tsv").open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            if doc_id in corpus and int(score) > 0:
                qrels[query_id][doc_id] = int(score)
    return ids, texts, {q: claims[q] for q in qrels}, dict(qrels)


class PlainST:
    """sentence-transformers as a user would call it: ``encode`` with its defaults (batch 32), normalised."""

    def __init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(THREADS)
        self.model = SentenceTransformer(str(model_dir()), device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, normalize_embeddings=True), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def timed(fn, *args):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def ndcg_at_10(corpus: np.ndarray, ids: list[str], queries: np.ndarray, qids: list[str], qrels: dict) -> float:
    scores = queries @ corpus.T
    top = np.argsort(-scores, axis=1)[:, :10]
    total = 0.0
    for row, qid in enumerate(qids):
        judged = qrels[qid]
        dcg = sum(judged.get(ids[j], 0) / math.log2(rank + 2) for rank, j in enumerate(top[row]))
        ideal = sum(rel / math.log2(rank + 2) for rank, rel in enumerate(sorted(judged.values(), reverse=True)[:10]))
        total += dcg / ideal
    return total / len(qids)


def ann_recall(corpus: np.ndarray, queries: np.ndarray, dtype: str, ef: int) -> tuple[float, float, float]:
    """recall@10 of an HNSW graph vs exact cosine, build seconds, median query ms."""
    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    index = Index(ndim=corpus.shape[1], metric="cos", dtype=dtype, connectivity=16, expansion_add=128)
    index.expansion_search = ef
    start = time.perf_counter()
    index.add(np.arange(len(corpus), dtype=np.uint64), corpus)
    build = time.perf_counter() - start
    hits, latencies = 0, []
    for row, query in enumerate(queries):
        start = time.perf_counter()
        found = index.search(query, 10)
        latencies.append((time.perf_counter() - start) * 1000)
        hits += len(set(int(k) for k in found.keys) & set(exact[row].tolist()))
    return hits / (10 * len(queries)), build, statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="embed only the first N corpus abstracts")
    parser.add_argument("--backends", default="sentence-transformers,onnx,onnx-int8")
    args = parser.parse_args()
    if not SCIFACT.is_dir():
        sys.exit(f"SciFact data not found at {SCIFACT}")
    ids, texts, claims, qrels = load_scifact(args.limit)
    qids = sorted(claims)
    query_texts = [claims[q] for q in qids]
    OUT.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.gettempdir()) / "paperboy-bench-models"
    suffix = f"-limit{args.limit}" if args.limit else ""
    print(f"SciFact: {len(ids)} abstracts, {len(qids)} training queries with judgments; {THREADS} threads", flush=True)

    rows, vectors = [], {}
    for name in args.backends.split(","):
        embedder = PlainST() if name == "sentence-transformers" else Embedder(cache, name, batch_size=16)
        embedder.embed(texts[:4])  # load (and export) outside the timing
        corpus, wall, cpu = timed(embedder.embed, texts)
        queries = embedder.embed(query_texts)
        latencies = []
        for text in query_texts[:100]:
            start = time.perf_counter()
            embedder.embed_query(text)
            latencies.append((time.perf_counter() - start) * 1000)
        ndcg = ndcg_at_10(corpus, ids, queries, qids, qrels)
        vectors[name] = corpus
        np.savez(OUT / f"scifact-{name}{suffix}.npz", ids=ids, vectors=corpus, query_ids=qids, query_vectors=queries)
        rows.append((name, len(ids) / wall, len(ids) / cpu, statistics.median(latencies), ndcg))
        print(f"  {name}: {len(ids) / wall:.1f} abstracts/s, nDCG@10 {ndcg:.4f}", flush=True)

    base = rows[0]
    print("\nEmbedding (same run, same texts; speed-up and nDCG change vs the first row)")
    header = ("abstracts/s", 12), ("per CPU-s", 11), ("speed-up", 10), ("query ms", 10), ("nDCG@10", 9), ("change", 9)
    print(f"{'backend':<22}" + "".join(f"{title:>{width}}" for title, width in header))
    for name, per_s, per_cpu, query_ms, ndcg in rows:
        print(
            f"{name:<22}{per_s:>12.1f}{per_cpu:>11.1f}{per_s / base[1]:>9.2f}x{query_ms:>10.1f}"
            f"{ndcg:>9.4f}{ndcg - base[4]:>+9.4f}"
        )
    if "sentence-transformers" in vectors:
        reference = vectors["sentence-transformers"]
        for name, corpus in vectors.items():
            if name != "sentence-transformers":
                cosines = (corpus * reference).sum(axis=1)
                print(f"cosine to sentence-transformers, {name}: mean {cosines.mean():.4f}, min {cosines.min():.4f}")

    name = "onnx-int8" if "onnx-int8" in vectors else next(iter(vectors))
    data = np.load(OUT / f"scifact-{name}{suffix}.npz")
    print(f"\nANN recall@10 vs exact ({name} vectors: {len(ids)} abstracts, {len(qids)} claims as queries)")
    print(f"{'dtype':<7}{'ef':>5}{'recall@10':>11}{'build s':>9}{'query ms':>10}")
    for dtype in ("f32", "f16", "i8"):
        for ef in (32, 64):
            recall, build, query_ms = ann_recall(data["vectors"], data["query_vectors"], dtype, ef)
            print(f"{dtype:<7}{ef:>5}{recall:>11.4f}{build:>9.2f}{query_ms:>10.3f}")


if __name__ == "__main__":
    main()
