"""The learned re-ranker: the best 50 fused candidates of a hybrid search, re-ordered by a small LightGBM model.

Why: the fused score is a weighted sum of three signals (BM25, embedding cosine, coverage) and on SciFact it stops
at ~0.74 nDCG@10 whatever the weights (bench/retrieval.py). Words tell more than those three numbers say: whether
one *sentence* names the query's rare words together, whether its words stand next to each other as in the query,
how the paper resembles the other top candidates. No one of these lifts a weighted sum beyond noise; a model that
sees them together does (5-fold cross-validated on SciFact's training claims, bench/retrieval.py).

Every feature is computed from what the search already has: the two halves' scores and ranks, and the candidates'
title and abstract from the store (read once for coverage too), analysed with the index's own analyzer and its
idf. All are shares, ranks, per-query min-max values, lengths or idfs (the log of the inverse *share* of papers
with a word), so a model trained on SciFact's 5,183 abstracts carries to a corpus of another size.

The model is monotone: more of any evidence never ranks a paper lower (unconstrained models learned SciFact's
quirks and lost on held-out claims and on other subsets). Two kinds of feature are left free. Where in the
abstract the best sentence stands, since either end can be the one that matters. And the query's own
features, the same for every paper of a pool: how many known words it has and how rare the rarest is. They rank
nothing by themselves; they let the model weigh the others differently for a short common-word query than for a
long claim full of rare terms. Length is monotone (longer abstracts win ties): BM25's length normalisation
over-penalises long documents (Singhal et al., pivoted normalisation) and the cosine of short texts is noisy. Left
free, length gains more on SciFact (+0.005 cross-validated) by learning that its judged abstracts are mostly
150-200 terms long, a quirk of how SciFact was built, not of relevance; the monotone form is kept.

The model (``reranker.txt``) is derived data: ``scripts/train_reranker.py`` trains it
from ``../shared/data/scifact`` with the fixed parameters below, through this module's :func:`pool_features`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from paperboy.index import analysis

MODEL_PATH = Path(__file__).with_name("reranker.txt")
DEPTH = 50  # candidates re-ranked: the fused ranking's best 50 (the rest keep their order below them)
RANK_OFFSET = 60  # rank features are 1 / (60 + rank), as in reciprocal rank fusion
FEEDBACK_DEPTHS = (3, 5, 10)
PAIR_WINDOWS = (1, 3, 8)
FEATURES = (
    "dense",  # cosine, min-max over the pool
    "cosine",  # cosine as it is
    "lexical",  # BM25, min-max over the pool's papers that BM25 found (0 for the others)
    "lexical_rank",  # 1 / (60 + rank) in the BM25 half, 0 outside it
    "dense_rank",  # 1 / (60 + rank) in the nearest-neighbour half, 0 outside it
    "fused",  # the fused score, min-max over the pool
    "coverage",  # idf-weighted share of the query's words in the paper
    "coverage_sq",  # the same with idf squared: the rarest words count most
    "rare_coverage",  # share of the query's rarer half of words (idf at least the mean)
    "all_words",  # 1 if the paper has every word of the query
    "title_coverage",  # share in the title alone
    "sentence_coverage",  # share in the paper's best single sentence (the title is one)
    "two_sentence_coverage",  # mean share of its best two sentences
    "sentence_coverage_sq",  # best sentence, idf squared
    *(f"pairs_within_{w}" for w in PAIR_WINDOWS),  # share of the query's adjacent word pairs found that close
    "best_sentence_position",  # where the best sentence stands: 0 the title, 1 the last sentence
    "length",  # log(1 + the paper's number of terms)
    "query_words",  # how many distinct known words the query has (the same for the whole pool)
    "query_max_idf",  # idf of its rarest word: log of the inverse share of papers that have it (the same)
    *(f"feedback_{k}" for k in FEEDBACK_DEPTHS),  # tf-idf likeness to the pool's best k (itself left out), min-max
    "tfidf_query",  # tf-idf cosine of query and paper, min-max over the pool
)
UNCONSTRAINED = frozenset({"best_sentence_position", "query_words", "query_max_idf"})
TRAINING = {  # LightGBM parameters, fixed (chosen by 5-fold cross-validation on SciFact, bench/retrieval.py)
    "objective": "lambdarank",
    "num_leaves": 7,
    "monotone_constraints": [0 if name in UNCONSTRAINED else 1 for name in FEATURES],
    "learning_rate": 0.05,
    "min_data_in_leaf": 50,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "seed": 1,
    "deterministic": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 400


@dataclass(frozen=True, slots=True)
class Candidate:
    """One paper of the pool, in fused order, with what the search knows of it."""

    paper_id: str
    fused: float
    lexical: float | None  # BM25 score, None if the BM25 half did not find it
    cosine: float | None  # None: no vector yet
    lexical_rank: int | None
    dense_rank: int | None


class _Doc:
    """A candidate's analysed text: its sentences' terms (title first), term counts, and where query terms stand."""

    __slots__ = ("counts", "positions", "sentences")

    def __init__(self, text: str, query_terms: Collection[str]) -> None:
        sentences = analysis.sentence_terms(text) or ((),)
        self.sentences = [set(terms) for terms in sentences]
        terms = [t for s in sentences for t in s]
        self.counts = Counter(terms)
        self.positions: dict[str, list[int]] = {t: [] for t in query_terms if t in self.counts}
        if self.positions:
            for i, term in enumerate(terms):
                if term in self.positions:
                    self.positions[term].append(i)

    def near(self, a: str, b: str, window: int) -> bool:
        pa, pb = self.positions.get(a), self.positions.get(b)
        return bool(pa and pb) and any(abs(x - y) <= window for x in pa for y in pb)  # type: ignore[union-attr]


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high - low > 1e-12 else np.ones_like(values)


def _share(weights: Mapping[str, float], held: set[str] | Counter[str]) -> float:
    total = sum(weights.values())
    return sum(w for term, w in weights.items() if term in held) / total if total > 0 else 0.0


def pool_features(
    query_text: str,
    pool: Sequence[Candidate],
    texts: Mapping[str, str],
    idf_of: Callable[[Iterable[str]], Mapping[str, float]],
) -> np.ndarray:
    """The feature matrix of a pool (one row per candidate, columns as :data:`FEATURES`).

    ``texts``: title (first line) and abstract of each candidate; ``idf_of``: the index's idf of terms (0 or
    missing: a term no paper has). A query's camel-case words count with their parts, and then so do the papers'
    (:func:`analysis.with_camel_parts`): "AgentFormer" is about agents and -former models. Only then: spelling
    out 50 abstracts' compounds costs ~2 ms, and a query without one gains little from it."""
    if not pool:
        return np.zeros((0, len(FEATURES)))
    spelled_out = analysis.with_camel_parts(query_text)
    query_terms = analysis.analyze(spelled_out)
    read = analysis.with_camel_parts if spelled_out != query_text else str
    docs = [_Doc(read(texts.get(c.paper_id, "")), query_terms) for c in pool]
    terms = dict.fromkeys(t for d in docs for t in d.counts) | dict.fromkeys(query_terms)  # ordered: same sums
    vocabulary = {t: i for i, t in enumerate(terms)}
    idf_map = idf_of(vocabulary)
    idf = np.array([idf_map.get(t, 0.0) for t in vocabulary])
    stems = [s for s in query_terms if s not in analysis.STOP_WORDS and idf_map.get(s, 0.0) > 0]
    weights = {s: idf_map[s] for s in dict.fromkeys(stems)}
    squared = {s: w * w for s, w in weights.items()}
    mean_idf = float(np.mean(list(weights.values()))) if weights else 0.0
    rare = {s: w for s, w in weights.items() if w >= mean_idf}
    pairs = [(a, b) for a, b in pairwise(stems) if a != b]
    pair_total = sum(weights[a] + weights[b] for a, b in pairs)

    rows = []
    for c, doc in zip(pool, docs, strict=True):
        held = doc.counts
        shares = [_share(weights, s) for s in doc.sentences]
        sentence_shares = sorted(shares, reverse=True)
        last = len(shares) - 1
        rows.append(
            [
                0.0,  # dense, filled below
                c.cosine if c.cosine is not None else 0.0,
                0.0,  # lexical, filled below
                1.0 / (RANK_OFFSET + c.lexical_rank) if c.lexical_rank is not None else 0.0,
                1.0 / (RANK_OFFSET + c.dense_rank) if c.dense_rank is not None else 0.0,
                0.0,  # fused, filled below
                _share(weights, held),
                _share(squared, held),
                _share(rare, held),
                float(bool(weights) and all(s in held for s in weights)),
                _share(weights, doc.sentences[0]),
                sentence_shares[0],
                sum(sentence_shares[:2]) / 2,
                max(_share(squared, s) for s in doc.sentences),
                *(
                    sum(weights[a] + weights[b] for a, b in pairs if doc.near(a, b, w)) / pair_total
                    if pair_total
                    else 0.0
                    for w in PAIR_WINDOWS
                ),
                int(np.argmax(shares)) / last if last else 0.0,
                np.log1p(doc.counts.total()),
                len(weights),
                max(weights.values(), default=0.0),
            ]
        )
    matrix = np.zeros((len(pool), len(FEATURES)))
    matrix[:, : len(rows[0])] = rows
    tfidf = _tfidf_rows(docs, vocabulary, idf)
    column = len(rows[0])
    for k in FEEDBACK_DEPTHS:
        likeness = tfidf @ tfidf[:k].sum(axis=0)
        likeness[:k] -= (tfidf[:k] ** 2).sum(axis=1)  # itself left out
        matrix[:, column] = _minmax(likeness)  # relative: tf-idf values move with the corpus's size
        column += 1
    query_vector = np.zeros(len(vocabulary))
    for stem, weight in weights.items():
        query_vector[vocabulary[stem]] = weight
    matrix[:, column] = _minmax(tfidf @ query_vector)

    cosines = np.array([c.cosine if c.cosine is not None else np.nan for c in pool])
    if np.isfinite(cosines).any():
        matrix[:, 0] = _minmax(np.where(np.isfinite(cosines), cosines, np.nanmin(cosines)))
    lexical = np.array([c.lexical if c.lexical is not None else np.nan for c in pool])
    found = np.isfinite(lexical)
    if found.any():
        matrix[found, 2] = _minmax(lexical[found])
    matrix[:, 5] = _minmax(np.array([c.fused for c in pool]))
    return matrix


def _tfidf_rows(docs: Sequence[_Doc], vocabulary: Mapping[str, int], idf: np.ndarray) -> np.ndarray:
    """Each doc's (1 + log tf) * idf vector over the pool's vocabulary, unit length (zero if it has no terms)."""
    matrix = np.zeros((len(docs), len(vocabulary)))
    for row, doc in enumerate(docs):
        columns = [vocabulary[t] for t in doc.counts]
        matrix[row, columns] = 1.0 + np.log(np.fromiter(doc.counts.values(), dtype=np.float64, count=len(columns)))
    matrix *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


class Reranker:
    """A trained model: scores pools (higher is better)."""

    def __init__(self, model_text: str) -> None:
        import lightgbm  # imported here: only searches that re-rank need it loaded

        self.booster = lightgbm.Booster(model_str=model_text)
        names = tuple(self.booster.feature_name())
        if names != FEATURES:
            raise ValueError(f"re-ranker model has features {names}, this paperboy computes {FEATURES}: retrain it")

    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)


@cache
def shipped() -> Reranker:
    """The model trained on SciFact that ships with paperboy (loaded once)."""
    return Reranker(MODEL_PATH.read_text(encoding="utf-8"))


def train(pools: Sequence[tuple[np.ndarray, np.ndarray]], rounds: int = ROUNDS) -> str:
    """A model (LightGBM text format) from pools: (features, relevance of each row) per query."""
    import lightgbm

    used = [(x, y) for x, y in pools if len(x)]
    data = lightgbm.Dataset(
        np.vstack([x for x, _ in used]),
        np.concatenate([y for _, y in used]),
        group=[len(y) for _, y in used],
        feature_name=list(FEATURES),
    )
    return lightgbm.train(TRAINING, data, num_boost_round=rounds).model_to_string()
