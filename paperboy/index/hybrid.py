"""Hybrid ranking: BM25 candidates and dense (embedding) candidates fused into one list.

How (measured on SciFact training judgments by ``bench/retrieval.py``, with 5-fold cross-validation):

- The lexical half weighs title matches less than BM25 alone does (``Fusion.title_boost``): the dense half
  already reads the title, and a lower title boost is what cross-validation picks; plain lexical search (no
  vectors yet) keeps the index's own title boost.
- Both halves contribute candidates (the top :attr:`Fusion.candidates` of each). Every candidate gets *both* scores
  where it can: the dense score of a lexical candidate outside the ANN top-k is its exact cosine, computed from the
  stored vectors (:meth:`VectorIndex.search` with ``allowed_ids`` is exact over a few ids); a dense candidate outside
  the lexical top-k gets the lowest lexical score seen, i.e. 0 after normalisation.
- Scores are normalised per query (min-max over the candidates), because BM25's scale changes with the query's
  length and rarity while cosine does not, and then combined convexly with coverage (below): ``w_lexical * lexical +
  w_dense * dense + w_coverage * coverage``, the weights summing to 1 (settings). (Without coverage, z-scores at
  0.35 scored 0.736 nDCG@10 on SciFact against min-max's 0.730, but a query with one lexical match gives it a
  z-score of 0, the mean, and the dense half's top papers outrank it: a new paper found only by its rare words would
  be buried. Min-max ranks that match 1.0, first.)
- A third signal, *coverage* (:meth:`LexicalIndex.coverage`): the idf-weighted share of the query's words a
  candidate holds in its title or abstract, for dense-only candidates too. BM25 rewards one word repeated almost
  as much as several rare words said once, and the dense half counts no words; SciFact's claims are usually
  answered by the abstract that names all of their rare words. Its weight, 0.2 (BM25 0.2, dense 0.6), is below
  the 0.35 that cross-validation on all of SciFact picks (0.739 vs 0.736 at 0.2 and 0.730 without coverage): on
  the test suite's 300-paper SciFact subset, where the dense half alone is strong, 0.35 drops hybrid search
  below dense alone, 0.2 keeps it above. It is read for the best 50 fused candidates only
  (:func:`fuse_with_coverage`; nDCG@10 is the same from 20 up), from their texts in the store: ~5 ms whatever
  the index's size. (Asked of tantivy for all ~400 candidates it took ~38 ms at a million papers, and hybrid p95
  rose from 18.7 to 72.4 ms there.)
- A paper with no vector yet (the background job has not reached it) takes its normalised lexical score for both
  halves, so it is ranked as if the halves agreed: found, not buried.
- The query syntax binds both halves: phrases must occur, exclusions remove, filters restrict. Dense candidates
  are checked with :meth:`LexicalIndex.filter_ids`; with a selective filter (an author, a narrow date range) the
  dense half is an exact search over the few papers the filter allows, so it does not come back empty.
- Then the learned re-ranker (:mod:`paperboy.index.rerank`) re-orders the best :attr:`Fusion.rerank_depth` (50)
  fused papers with a small LightGBM model over 21 features of each (the halves' scores and ranks, coverage in the
  paper, its title and its best sentence, how near the query's word pairs stand, likeness to the other top
  papers). The model is monotone in every feature: more evidence never ranks a paper lower, which is what keeps a
  model trained on SciFact's claims sound on a 300-paper corpus (unconstrained models scored higher on SciFact
  and fell below dense search alone there). The 100 papers of a page stay the same; only their order changes.
- An optional recency boost multiplies each fused score by ``1 + r * 0.5 ** (age_days / half_life)``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import numpy as np

from paperboy.index import rerank
from paperboy.index.lexical import LexicalIndex
from paperboy.index.query import Filters, ParsedQuery, with_filters
from paperboy.index.vectors import VectorIndex

NORMALISATIONS = ("minmax", "zscore")
FILTERED_EXACT_LIMIT = 5000  # with a filter allowing at most this many papers, the dense half is exact over them

EmbedQuery = Callable[[str], np.ndarray]
PublishedLookup = Callable[[Collection[str]], Mapping[str, datetime | None]]
TextLookup = Callable[[Collection[str]], Mapping[str, str]]  # paper id -> its title and abstract (the store's)


@dataclass(frozen=True, slots=True)
class Fusion:
    """How BM25, dense similarity and coverage are combined; defaults measured on SciFact (bench/retrieval.py)."""

    lexical_weight: float = 0.2
    coverage_weight: float = 0.2  # weight of the query's words a paper contains (LexicalIndex.coverage)
    normalisation: str = "minmax"
    title_boost: float = 0.3  # BM25 weight of a title match in the lexical half (the dense half reads titles too)
    candidates: int = 200
    coverage_depth: int = 50  # coverage re-ranks this many of the best fused candidates (at least the page asked for)
    recency_weight: float = 0.0
    recency_half_life_days: float = 180.0
    rerank_depth: int = rerank.DEPTH  # the learned re-ranker re-orders this many of the best (0: off)

    def __post_init__(self) -> None:
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError(f"lexical weight {self.lexical_weight} must be between 0 and 1")
        if not 0.0 <= self.coverage_weight <= 1.0 - self.lexical_weight + 1e-9:
            raise ValueError(
                f"coverage weight {self.coverage_weight} must be between 0 and 1 - lexical weight "
                f"({1.0 - self.lexical_weight:g}): the dense half takes what the two leave"
            )
        if self.rerank_depth < 0:
            raise ValueError(f"re-rank depth {self.rerank_depth} must be 0 (off) or more")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation {self.normalisation!r}: choose one of {', '.join(NORMALISATIONS)}")

    @property
    def dense_weight(self) -> float:
        """What the lexical and coverage weights leave to the dense half."""
        return max(0.0, 1.0 - self.lexical_weight - self.coverage_weight)


@dataclass(frozen=True, slots=True)
class Scored:
    """One result: the fused score and the two halves' raw scores (None where that half did not score it)."""

    paper_id: str
    score: float
    lexical: float | None
    dense: float | None


def normalise(scores: Mapping[str, float], method: str = "minmax") -> dict[str, float]:
    """Per-query rescaling: min-max to [0, 1] (all equal: 1.0), or z-scores."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    if method == "zscore":
        std = float(values.std())
        mean = float(values.mean())
        return {k: (v - mean) / std if std > 1e-12 else 0.0 for k, v in scores.items()}
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {k: (v - low) / (high - low) for k, v in scores.items()}


def fuse(
    lexical: Mapping[str, float],
    dense: Mapping[str, float],
    fusion: Fusion,
    embedded: Callable[[str], bool] | None = None,
    coverage: Mapping[str, float] | None = None,
) -> list[Scored]:
    """The union of both candidate sets, best first (ties: lexical order, then id).

    ``coverage`` is the share of the query's words each candidate contains (:meth:`LexicalIndex.coverage`; 0.0
    where missing), added with its own weight. ``embedded(paper_id)`` says whether a paper has a vector at all; a
    paper without one takes its lexical score for the dense half too. By default a paper is taken as embedded
    exactly when it has a dense score.
    """
    lex_norm = normalise(lexical, fusion.normalisation)
    dense_norm = normalise(dense, fusion.normalisation)
    lex_floor = min(lex_norm.values(), default=0.0)
    dense_floor = min(dense_norm.values(), default=0.0)
    w_lex, w_dense, w_cover = fusion.lexical_weight, fusion.dense_weight, fusion.coverage_weight
    coverage = coverage or {}
    has_vector = embedded or (lambda pid: pid in dense)
    results = []
    for pid in dict.fromkeys([*lexical, *dense]):
        lex = lex_norm.get(pid, lex_floor)
        if pid in dense_norm:
            semantic = dense_norm[pid]
        elif has_vector(pid) or not lexical:
            semantic = dense_floor
        else:
            semantic = lex  # not embedded yet: the lexical half speaks for both
        score = w_lex * lex + w_dense * semantic + w_cover * coverage.get(pid, 0.0)
        results.append(Scored(pid, score, lexical.get(pid), dense.get(pid)))
    order = {pid: i for i, pid in enumerate(lexical)}
    results.sort(key=lambda s: (-s.score, order.get(s.paper_id, len(order)), s.paper_id))
    return results


def fuse_with_coverage(
    lexical: Mapping[str, float],
    dense: Mapping[str, float],
    fusion: Fusion,
    coverage_of: Callable[[Sequence[str]], Mapping[str, float]],
    limit: int = 10,
    embedded: Callable[[str], bool] | None = None,
) -> list[Scored]:
    """:func:`fuse`, then coverage asked of the best ``max(fusion.coverage_depth, limit)`` candidates only, and
    those re-ranked with it.

    Why only the head: coverage costs a look at every candidate's words, and at a million papers that look, done
    for all ~400 candidates, was most of a hybrid search (p95 20.8 -> 72.4 ms). Coverage only adds to scores, so the
    head stays above the rest, and on SciFact it changes nDCG@10 only where it re-orders the first few dozen
    (bench/retrieval.py measures the depth)."""
    fused = fuse(lexical, dense, fusion, embedded=embedded)
    if fusion.coverage_weight <= 0 or not fused:
        return fused
    head = [s.paper_id for s in fused[: max(fusion.coverage_depth, limit)]]
    return fuse(lexical, dense, fusion, embedded=embedded, coverage=coverage_of(head))


def recency_boost(
    results: Sequence[Scored], published: Mapping[str, datetime | None], fusion: Fusion, now: datetime
) -> list[Scored]:
    """Newer papers move up: score * (1 + r * 0.5 ** (age / half-life)); papers without a date get no boost."""
    if fusion.recency_weight <= 0:
        return list(results)
    boosted = []
    lowest = min((s.score for s in results), default=0.0)
    for s in results:
        when = published.get(s.paper_id)
        factor = 1.0
        if when is not None:
            age_days = max(0.0, (now - when.astimezone(UTC)).total_seconds() / 86400)
            factor += fusion.recency_weight * math.pow(0.5, age_days / max(fusion.recency_half_life_days, 1e-6))
        # scores can be 0 or negative (z-scores): shift them to start at one, so a boost always moves a paper up
        boosted.append(Scored(s.paper_id, (s.score - lowest + 1.0) * factor, s.lexical, s.dense))
    boosted.sort(key=lambda s: -s.score)
    return boosted


@dataclass(frozen=True, slots=True)
class _Fused:
    """A fused ranking and what the re-ranker reads besides it: the BM25 scores (in BM25's order), the nearest
    neighbours' order, every candidate's cosine, and the texts coverage read from the store."""

    ranking: list[Scored]
    lexical: dict[str, float]
    ann_order: list[str]
    dense: dict[str, float]
    texts: dict[str, str]


@cache
def _query_embedding_pool() -> ThreadPoolExecutor:
    """Threads that embed queries beside their lexical halves: one per core, shared by every searcher."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="paperboy-query-embedding")


class HybridSearcher:
    """Runs a parsed query through both halves and fuses them. The dense half is optional: without a vector
    index, an embedder, or any vectors, the search is lexical only (that is what "not embedded yet" means).
    ``published`` and ``texts`` read papers' dates (recency boost) and texts (coverage) from the store."""

    def __init__(
        self,
        lexical: LexicalIndex,
        vectors: VectorIndex | None = None,
        embed_query: EmbedQuery | None = None,
        fusion: Fusion | None = None,
        published: PublishedLookup | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        texts: TextLookup | None = None,
        reranker: rerank.Reranker | None = None,
    ) -> None:
        self.lexical = lexical
        self.vectors = vectors
        self.embed_query = embed_query
        self.fusion = fusion or Fusion()
        self.published = published
        self.clock = clock
        self.texts = texts
        self.reranker = reranker

    @property
    def dense_ready(self) -> bool:
        return self.vectors is not None and self.embed_query is not None and len(self.vectors) > 0

    def search(
        self, query: ParsedQuery, limit: int = 10, filters: Filters | None = None, dense: bool = True
    ) -> list[Scored]:
        """The best ``limit`` papers; ``dense=False`` (or no dense half) ranks by BM25 alone."""
        query = with_filters(query, filters)
        limit = max(0, int(limit))
        if limit == 0:
            return []
        depth = max(self.fusion.candidates, limit)
        if not query.has_text:  # filters or exclusions only: the newest matching papers
            return [Scored(h.paper_id, h.score, None, None) for h in self.lexical.search(query, limit)]
        if not dense or not self.dense_ready:
            hits = self.lexical.search(query, limit)
            return [Scored(h.paper_id, h.score, h.score, None) for h in hits]
        found = self._fused(query, limit, depth)
        fused = found.ranking
        if self.reranker is not None and self.texts is not None and self.fusion.rerank_depth > 0:
            fused = self._rerank(query, found)
        if self.fusion.recency_weight > 0 and self.published is not None:
            head = fused[: max(depth, limit)]
            fused = recency_boost(head, self.published([s.paper_id for s in head]), self.fusion, self.clock())
        return self._searchable(fused, limit)

    def _fused(self, query: ParsedQuery, limit: int, depth: int) -> _Fused:
        """Both halves fused, with what the re-ranker reads besides the ranking."""
        assert self.vectors is not None and self.embed_query is not None
        # The query's embedding (ONNX, which releases the GIL) runs on another core while BM25 runs here.
        embedding = _query_embedding_pool().submit(self.embed_query, query.plain_text)
        found = self.lexical.search(query, depth, title_boost=self.fusion.title_boost)
        lexical = {h.paper_id: h.score for h in found}
        vector = embedding.result()
        dense_scores = self._dense(query, vector, depth)
        ann_order = list(dense_scores)
        missing = [pid for pid in lexical if pid not in dense_scores]
        if missing:  # exact cosine for lexical candidates the ANN did not return
            dense_scores.update(self.vectors.search(vector, len(missing), allowed_ids=missing))
        vectors = self.vectors
        texts: dict[str, str] = {}
        fused = fuse_with_coverage(
            lexical,
            dense_scores,
            self.fusion,
            self._coverage_of(query, texts),
            limit,
            embedded=lambda pid: pid in vectors,
        )
        return _Fused(fused, lexical, ann_order, dense_scores, texts)

    def pool(self, query: ParsedQuery) -> tuple[list[str], np.ndarray]:
        """The papers the re-ranker would re-order for ``query``, fused order, and their features (for training
        and benchmarks: :func:`rerank.train` learns from exactly what :meth:`search` computes)."""
        if not query.has_text or not self.dense_ready or self.texts is None:
            return [], np.zeros((0, len(rerank.FEATURES)))
        found = self._fused(query, 10, max(self.fusion.candidates, 10))
        candidates = self._candidates(found)
        return [c.paper_id for c in candidates], self._features(query, candidates, found.texts)

    def _candidates(self, found: _Fused) -> list[rerank.Candidate]:
        lexical_rank = {pid: i for i, pid in enumerate(found.lexical)}
        dense_rank = {pid: i for i, pid in enumerate(found.ann_order)}
        return [
            rerank.Candidate(
                s.paper_id,
                s.score,
                s.lexical,
                found.dense.get(s.paper_id),
                lexical_rank.get(s.paper_id),
                dense_rank.get(s.paper_id),
            )
            for s in found.ranking[: self.fusion.rerank_depth]
        ]

    def _features(
        self, query: ParsedQuery, candidates: Sequence[rerank.Candidate], texts: Mapping[str, str]
    ) -> np.ndarray:
        """The candidates' features; ``texts``: those coverage read already (the rest are read here)."""
        assert self.texts is not None
        missing = [c.paper_id for c in candidates if c.paper_id not in texts]
        if missing:
            texts = {**texts, **self.texts(missing)}
        return rerank.pool_features(query.plain_text, candidates, texts, self.lexical.text_idfs)

    def _rerank(self, query: ParsedQuery, found: _Fused) -> list[Scored]:
        """The best :attr:`Fusion.rerank_depth` fused papers re-ordered by the model, above the rest. Their scores
        become the model's, lifted over the rest's best, so scores still fall with rank (TREC runs need that)."""
        assert self.reranker is not None
        fused = found.ranking
        candidates = self._candidates(found)
        if len(candidates) < 2:
            return fused
        predicted = self.reranker.score(self._features(query, candidates, found.texts))
        rest = fused[len(candidates) :]
        lift = (rest[0].score if rest else 0.0) + 1.0 - float(predicted.min())
        head = [Scored(s.paper_id, float(p) + lift, s.lexical, s.dense) for s, p in zip(fused, predicted, strict=False)]
        head.sort(key=lambda s: -s.score)
        return head + rest

    def _coverage_of(self, query: ParsedQuery, read: dict[str, str]) -> Callable[[Sequence[str]], Mapping[str, float]]:
        """How the fusion reads coverage: from the papers' texts (kept in ``read`` for the re-ranker); without a
        text lookup it is not counted."""
        texts = self.texts
        if texts is None:
            return lambda _head: {}

        def coverage(head: Sequence[str]) -> Mapping[str, float]:
            found = texts(head)
            read.update(found)
            return self.lexical.coverage(query, found)

        return coverage

    def _searchable(self, ranked: Sequence[Scored], limit: int) -> list[Scored]:
        """The first ``limit`` results the lexical index holds: a vector can outlive its paper's visibility (a
        hidden paper keeps its vector), so dense-only results are checked before they are shown."""
        kept: list[Scored] = []
        start = 0
        while len(kept) < limit and start < len(ranked):
            chunk = ranked[start : start + 2 * limit]
            start += len(chunk)
            unchecked = [s.paper_id for s in chunk if s.lexical is None]
            present = self.lexical.filter_ids(unchecked, ParsedQuery()) if unchecked else set()
            kept += [s for s in chunk if s.lexical is not None or s.paper_id in present]
        return kept[:limit]

    def dense_only(self, query: ParsedQuery, limit: int = 10, filters: Filters | None = None) -> list[Scored]:
        """The dense half alone, under the same syntax (for benchmarks and comparisons)."""
        query = with_filters(query, filters)
        if not query.has_text or not self.dense_ready:
            return []
        assert self.embed_query is not None
        found = self._dense(query, self.embed_query(query.plain_text), max(0, int(limit)) * 2)
        return self._searchable([Scored(pid, score, None, score) for pid, score in found.items()], limit)

    def _dense(self, query: ParsedQuery, vector: np.ndarray, k: int) -> dict[str, float]:
        """Top-k dense candidates allowed by the query's filters, exclusions and phrases, best first.

        First a widened graph search checked against the lexical index (cheap when the restriction is broad);
        if that leaves fewer than k and a filter is set, the filter is selective: list every paper it allows (at
        most :data:`FILTERED_EXACT_LIMIT`) and search exactly among them."""
        assert self.vectors is not None
        restricted = bool(query.filters or query.excluded_terms or query.excluded_phrases or query.phrases)
        if not restricted:
            return dict(self.vectors.search(vector, k))
        want = k * 4
        while True:
            found = self.vectors.search(vector, want)
            allowed_set = self.lexical.filter_ids([pid for pid, _ in found], query, phrases=True)
            kept = [(pid, score) for pid, score in found if pid in allowed_set]
            if len(kept) >= k or len(found) < want or want >= k * 16:
                break
            want *= 4
        if len(kept) < k and len(found) >= want and query.filters:
            listing = ParsedQuery(filters=query.filters)  # every paper the filters allow (up to the limit)
            allowed = [h.paper_id for h in self.lexical.search(listing, FILTERED_EXACT_LIMIT + 1)]
            if len(allowed) <= FILTERED_EXACT_LIMIT:
                allowed_set = self.lexical.filter_ids(allowed, query, phrases=True)
                return dict(self.vectors.search(vector, k, allowed_ids=allowed_set)) if allowed_set else {}
        return dict(kept[:k])
