"""Train the learned re-ranker of hybrid search (paperboy/index/reranker.txt) on SciFact's training claims.

Run: ``.venv/bin/python scripts/train_reranker.py`` (~3 min; needs ../shared/data/scifact). It ingests SciFact
through the jsonl source, indexes and embeds it the way the site does (bench/retrieval.py's ``build``), asks the
hybrid searcher for each claim's re-ranking pool and features (:meth:`HybridSearcher.pool`, exactly what a search
computes), and trains :func:`paperboy.index.rerank.train` on the judgments. The model is deterministic for the
same inputs. How well it generalises is measured by 5-fold cross-validation in ``bench/retrieval.py``.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import corpus
import retrieval

from paperboy.index import hybrid, rerank
from paperboy.index.query import ParsedQuery, QueryError, parse_query
from paperboy.index.service import stored_texts

Pools = dict[str, tuple[list[str], np.ndarray]]  # query id -> (pool in fused order, its features)


def claims(data: corpus.SciFact, qvecs: dict[str, np.ndarray]) -> Iterator[tuple[str, ParsedQuery, np.ndarray]]:
    """Each training claim as (id, parsed query, its cached vector); a claim the parser refuses is left out."""
    for qid, text in data.queries.items():
        try:
            query = parse_query(text)
        except QueryError:
            continue
        yield qid, query, qvecs[qid]


def collect_pools(searcher: hybrid.HybridSearcher, data: corpus.SciFact, qvecs: dict[str, np.ndarray]) -> Pools:
    """Every training claim's re-ranking pool, as :meth:`HybridSearcher.pool` computes it."""
    pools: Pools = {}
    for qid, query, vector in claims(data, qvecs):
        searcher.embed_query = lambda _text, v=vector: v  # the cached query vector: same model, same text
        pools[qid] = searcher.pool(query)
    return pools


def labelled(pools: Pools, qrels: dict[str, dict[str, int]], qids: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(pools[q][1], np.array([qrels[q].get(pid, 0) for pid in pools[q][0]])) for q in qids if q in pools]


def main() -> None:
    data = corpus.scifact()
    with tempfile.TemporaryDirectory(prefix="paperboy-rerank-") as tmp:
        store, lexical, ann, embedder = retrieval.build(Path(tmp), data, "onnx-int8")
        qvecs = retrieval.query_vectors(data, embedder, "onnx-int8")
        searcher = hybrid.HybridSearcher(lexical, ann, embedder.embed_query, texts=partial(stored_texts, store))
        pools = collect_pools(searcher, data, qvecs)
        store.close()
    model = rerank.train(labelled(pools, data.qrels, sorted(data.qrels)))
    rerank.MODEL_PATH.write_text(model, encoding="utf-8")
    print(f"trained on {len(pools)} claims; wrote {rerank.MODEL_PATH} ({len(model) // 1024} KiB)")


if __name__ == "__main__":
    main()
