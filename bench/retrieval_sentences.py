"""Would sentence vectors lift hybrid search? An experiment on SciFact, kept so its figures can be re-measured.

Run: ``.venv/bin/python bench/retrieval_sentences.py`` (embeds ~45k abstract sentences once, ~10 min on two cores,
cached in bench/out; re-runs take seconds).

SciFact's claims are each supported by one or two sentences of an abstract, and all-MiniLM-L6-v2 reads only the
first 256 tokens of a paper. So besides the paper vector (title + abstract) this scores every candidate by its best
sentence (the maximum cosine between the claim and each abstract sentence, embedded alone) and by its title alone.
Candidates are the union of the top 200 of bm25s and of the paper vectors; each signal is min-max normalised per
query and the signals are summed with weights chosen by 5-fold cross-validation (held-out nDCG@10 reported).

Measured (stop 8): bm25s + paper vector 0.734 (the issue's baseline); + best sentence + title 0.746 held-out, the
same weights (0.3 / 0.2 / 0.4 / 0.1) in every fold. Not shipped: embedding each sentence costs ~1.5x the paper's
own embedding (short sequences use the cores less well), i.e. 2.5x the embedding time of every paper and ~3.5 KB
of vectors per paper (int8), for +0.012 nDCG@10 that still misses the 0.75 target. Sentence BM25, pooled sentence
vectors, top-2 sentence means, dense pseudo-relevance feedback, z-scores and RRF were measured too and added
nothing. Sentence vectors pooled from the paper's own forward pass (its token vectors averaged over each sentence's
span: free at embedding time, but only within the first 256 tokens) score 0.671 alone, better than the paper
vector, yet lift the fusion only to 0.738 held-out (see the closing note of stop 8).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

FOLDS = 5
DEPTH = 200


def sentences(abstract: str) -> list[str]:
    """Sentence split at ., ! or ? followed by a capital, digit or bracket (enough for abstracts)."""
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(])", abstract.strip()) if s.strip()] or [abstract]


def sentence_vectors(data: corpus.SciFact) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors of every abstract sentence, the paper each belongs to, and title vectors; cached in bench/out."""
    path = corpus.OUT / f"scifact-sentences-{len(data.docs)}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["vectors"], saved["owner"], saved["titles"]
    texts, owner = [], []
    for i, doc in enumerate(data.docs):
        for sentence in sentences(doc["abstract"]):
            texts.append(sentence)
            owner.append(i)
    model = corpus.embedder()
    print(f"embedding {len(texts):,} sentences and {len(data.docs):,} titles", file=sys.stderr, flush=True)
    vectors = np.concatenate([model.embed(texts[k : k + 2000]) for k in range(0, len(texts), 2000)])
    titles = model.embed([doc["title"] for doc in data.docs])
    np.savez(path, vectors=vectors, owner=np.array(owner), titles=titles)
    return vectors, np.array(owner), titles


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(pid, 0) / math.log2(i + 2) for i, pid in enumerate(ranked[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


def minmax(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / max(float(x.max() - x.min()), 1e-12)


def main() -> None:
    import bm25s
    import Stemmer

    data = corpus.scifact()
    ids = [d["id"] for d in data.docs]
    qids = list(data.queries)
    papers = corpus.scifact_embeddings(data)
    queries = corpus.embedder().embed([data.queries[q] for q in qids])
    sent, owner, titles = sentence_vectors(data)

    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(
            [f"{d['title']} {d['abstract']}" for d in data.docs], "en", stemmer=stemmer, show_progress=False
        ),
        show_progress=False,
    )
    tokens = bm25s.tokenize([data.queries[q] for q in qids], "en", stemmer=stemmer, show_progress=False)
    lexical_ids, lexical_scores = retriever.retrieve(tokens, k=DEPTH, show_progress=False, n_threads=1)

    dense = queries @ papers.T
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(len(ids)))
    best_sentence = np.maximum.reduceat((queries @ sent.T)[:, order], starts, axis=1)
    title = queries @ titles.T

    signals = []  # per query: candidates and their four normalised signals
    for qi in range(len(qids)):
        found = {int(d): float(s) for d, s in zip(lexical_ids[qi], lexical_scores[qi], strict=True)}
        cands = np.array(sorted(set(found) | set(np.argsort(-dense[qi])[:DEPTH].tolist())))
        floor = min(found.values())
        lex = np.array([found.get(int(c), floor) for c in cands])
        signals.append((cands, np.stack([minmax(lex), *(minmax(m[qi, cands]) for m in (dense, best_sentence, title))])))

    def per_query(weights: tuple[float, ...]) -> np.ndarray:
        w = np.array(weights)[:, None]
        return np.array(
            [
                ndcg_at_10([ids[j] for j in cands[np.argsort(-(w * s).sum(axis=0), kind="stable")][:10]], data.qrels[q])
                for (cands, s), q in zip(signals, qids, strict=True)
            ]
        )

    steps = [round(0.1 * i, 1) for i in range(9)]
    grids = {
        "bm25s + paper vector": [(a, round(1 - a, 1), 0.0, 0.0) for a in steps],
        "bm25s + paper vector + title": [
            (a, b, 0.0, t)
            for a, b, t in itertools.product(steps, steps, (0.0, 0.1, 0.2, 0.3))
            if abs(a + b + t - 1) < 1e-9
        ],
        "bm25s + paper vector + best sentence + title": [
            (a, b, c, t)
            for a, b, c, t in itertools.product(steps, steps, steps, (0.0, 0.1, 0.2))
            if abs(a + b + c + t - 1) < 1e-9
        ],
    }
    shuffled = list(range(len(qids)))
    random.Random(13).shuffle(shuffled)
    print(f"\nSciFact training judgments, {len(qids)} queries; {len(sent):,} sentences of {len(ids):,} abstracts")
    print(f"{'signals (min-max, weighted sum)':<48} {'alone/best':>10} {'CV nDCG@10':>11}  weights per fold")
    for label, single in (("bm25s", (1, 0, 0, 0)), ("paper vector", (0, 1, 0, 0)), ("best sentence", (0, 0, 1, 0))):
        print(f"{label:<48} {per_query(single).mean():>10.4f}")
    for label, grid in grids.items():
        scores = {w: per_query(w) for w in grid}
        held = np.zeros(len(qids))
        chosen = []
        for k in range(FOLDS):
            test = shuffled[k::FOLDS]
            train = sorted(set(shuffled) - set(test))
            best = max(grid, key=lambda w: scores[w][train].mean())
            held[test] = scores[best][test]
            chosen.append("/".join(f"{x:g}" for x in best))
        in_sample = max(s.mean() for s in scores.values())
        print(f"{label:<48} {in_sample:>10.4f} {held.mean():>11.4f}  {', '.join(chosen)}")


if __name__ == "__main__":
    main()
