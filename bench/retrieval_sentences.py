"""Would sentence vectors lift hybrid search? An experiment on SciFact, kept so its figures can be re-measured.

Run: ``.venv/bin/python bench/retrieval_sentences.py`` (embeds ~45k abstract sentences once, ~10 min on two cores,
cached in bench/out; re-runs take seconds).

SciFact's claims are each supported by one or two sentences of an abstract, and all-MiniLM-L6-v2 reads only the
first 256 tokens of a paper. So besides the paper vector (title + abstract) this scores every candidate by its best
sentence (the maximum cosine between the claim and each abstract sentence, embedded alone) and by its title alone.
Candidates are the union of the top 200 of bm25s and of the paper vectors; each signal is min-max normalised per
query (coverage, the idf-weighted share of the query's words a paper holds, as paperboy's hybrid search computes
it, is already in [0, 1]) and the signals are summed with weights chosen by 5-fold cross-validation on a 0.05 grid
(held-out nDCG@10 reported).

Measured (stop 11, 0.05 grid): bm25s + paper vector 0.732 held-out; + title 0.736; + coverage (what paperboy
ships) 0.737; + best sentence + title 0.737 (stop 8 measured 0.746 on a coarser 0.1 grid: that gain depends on the
grid); all five signals 0.747 held-out, 0.752 in-sample. So even with sentence vectors the 0.75 target is not
reached held-out, and they would cost ~1.5x each paper's own embedding (short sequences use the cores less well),
i.e. 2.5x the embedding time, and ~3.5 KB of vectors per paper (int8, ~3.5 GB at a million papers). A LightGBM
lambdarank over the same five signals (5-fold, one-off script) gave 0.746-0.754 depending on rounds, i.e. the
same within noise; on the three shipped signals 0.739, like the linear sum. The mean of a paper's sentence vectors
is a worse paper vector than embedding title + abstract at once (0.618 vs 0.661 alone). Sentence BM25, pooled
sentence vectors, top-2 sentence means, the last or first sentence alone (+0.002-0.004), dense pseudo-relevance
feedback, z-scores and RRF were measured too and added nothing beyond noise. Sentence vectors pooled from the
paper's own forward pass (its token vectors averaged over each sentence's span: free at embedding time, but only
within the first 256 tokens) score 0.671 alone, better than the paper vector, yet lift the fusion only to 0.738
held-out (see the closing note of stop 8).
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
COVERAGE_STEPS = (0.0, 0.1, 0.2, 0.3, 0.35, 0.4)


class Coverage:
    """paperboy's coverage signal rebuilt on bm25s's tokens: the idf-weighted share of a query's (stemmed, stop
    words removed) words that a paper contains; words no paper contains are left out."""

    def __init__(self, papers: list[list[str]]) -> None:
        self.words = [set(tokens) for tokens in papers]
        counts: dict[str, int] = {}
        for words in self.words:
            for word in words:
                counts[word] = counts.get(word, 0) + 1
        n = len(self.words)
        self.idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w, df in counts.items()}

    def of(self, query: list[str], candidates: np.ndarray) -> np.ndarray:
        known = [w for w in set(query) if w in self.idf]
        total = sum(self.idf[w] for w in known) or 1.0
        return np.array([sum(self.idf[w] for w in known if w in self.words[int(c)]) / total for c in candidates])


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
    coverage = Coverage(
        bm25s.tokenize(
            [f"{d['title']} {d['abstract']}" for d in data.docs],
            "en",
            stemmer=stemmer,
            return_ids=False,
            show_progress=False,
        )
    )
    query_words = bm25s.tokenize([data.queries[q] for q in qids], "en", stemmer=stemmer, return_ids=False)

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
        normalised = [minmax(lex), *(minmax(m[qi, cands]) for m in (dense, best_sentence, title))]
        signals.append((cands, np.stack([*normalised, coverage.of(query_words[qi], cands)])))

    def per_query(weights: tuple[float, ...]) -> np.ndarray:
        w = np.array(weights)[:, None]
        return np.array(
            [
                ndcg_at_10([ids[j] for j in cands[np.argsort(-(w * s).sum(axis=0), kind="stable")][:10]], data.qrels[q])
                for (cands, s), q in zip(signals, qids, strict=True)
            ]
        )

    steps = [round(0.05 * i, 2) for i in range(17)]
    grids = {
        "bm25s + paper vector": [(a, round(1 - a, 2), 0.0, 0.0, 0.0) for a in steps],
        "bm25s + paper vector + title": [
            (a, b, 0.0, t, 0.0)
            for a, b, t in itertools.product(steps, steps, (0.0, 0.1, 0.2, 0.3))
            if abs(a + b + t - 1) < 1e-9
        ],
        "bm25s + paper vector + coverage": [
            (a, round(1 - a - c, 2), 0.0, 0.0, c) for a in steps for c in COVERAGE_STEPS if a + c <= 1 + 1e-9
        ],
        "bm25s + paper vector + best sentence + title": [
            (a, b, c, t, 0.0)
            for a, b, c, t in itertools.product(steps, steps, steps, (0.0, 0.1, 0.2))
            if abs(a + b + c + t - 1) < 1e-9
        ],
        "all five (+ coverage)": [
            (a, b, c, t, v)
            for a, b, c, t, v in itertools.product(steps, steps, steps, (0.0, 0.1), COVERAGE_STEPS)
            if abs(a + b + c + t + v - 1) < 1e-9
        ],
    }
    shuffled = list(range(len(qids)))
    random.Random(13).shuffle(shuffled)
    print(f"\nSciFact training judgments, {len(qids)} queries; {len(sent):,} sentences of {len(ids):,} abstracts")
    print(f"{'signals (min-max, weighted sum)':<48} {'alone/best':>10} {'CV nDCG@10':>11}  weights per fold")
    singles = (("bm25s", (1, 0, 0, 0, 0)), ("paper vector", (0, 1, 0, 0, 0)), ("best sentence", (0, 0, 1, 0, 0)))
    for label, single in singles:
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
