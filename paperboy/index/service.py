"""Search as the CLI and the web use it: one :class:`SearchService` per :class:`~paperboy.app.Paperboy`.

It owns the derived indexes of a site (lexical under ``data_dir/index/lexical``, the ANN graph under
``data_dir/index/vectors``) and the embedder, all opened lazily, so a process that never searches never loads them.

Keeping current without a rebuild: every search first checks (one ``max(seq)`` query) whether the store's change
log moved past what the lexical index reflects and, if so, applies the changes; a search that finds another thread
already syncing goes ahead with the index as it is rather than wait. Embeddings come from a background thread
(:meth:`SearchService.start_background`, run by the web app) or from ``paperboy index``; they never block a request:
until the query model is loaded, and for papers not embedded yet, search is lexical.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property

import numpy as np

from paperboy.domain import DailyEntry, Paper
from paperboy.index import rerank
from paperboy.index import sync as lexical_sync
from paperboy.index.embed import Embedder
from paperboy.index.embedding_job import embed_pending, embedding_status
from paperboy.index.hybrid import Fusion, HybridSearcher, Scored
from paperboy.index.lexical import Highlighter, LexicalIndex, index_path
from paperboy.index.query import Filters, ParsedQuery, parse_query
from paperboy.index.vectors import VectorIndex
from paperboy.settings import Settings
from paperboy.store import ListedPaper, Store, community
from paperboy.store.changes import latest_seq
from paperboy.store.papers import load_papers
from paperboy.store.vectors import latest_embedded_at

log = logging.getLogger(__name__)
VECTOR_CHECK_SECONDS = 10.0  # a web node looks for vectors written elsewhere at most this often
STATUS_SECONDS = 30.0  # "semantic index: N of M" counts every paper: recount at most this often
SIMILAR_TITLE_WORDS = 24


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """How complete the semantic index is: papers with a current vector, of all papers."""

    embedded: int
    total: int

    @property
    def complete(self) -> bool:
        return self.embedded >= self.total

    def __str__(self) -> str:
        return f"semantic index: {self.embedded:,} of {self.total:,} papers"


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A found paper with its latest daily entry (a made-up one, dated by publication, if it was never listed)."""

    paper: Paper
    entry: DailyEntry
    score: float
    highlighted_title: str
    highlighted_summary: str
    listed_on_site: bool

    @property
    def listed(self) -> ListedPaper:
        return ListedPaper(self.paper, self.entry)


@dataclass(frozen=True, slots=True)
class SearchPage:
    query: ParsedQuery
    results: list[SearchResult]
    semantic: bool  # whether the dense half took part
    status: IndexStatus | None = None
    has_more: bool = False


@dataclass(frozen=True, slots=True)
class IndexReport:
    lexical_indexed: int
    lexical_removed: int
    rebuilt: bool
    embedded: int
    vectors_read: int
    status: IndexStatus


class SearchService:
    """The site's search: hybrid ranking over indexes derived from ``store``; thread-safe."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._sync_lock = threading.Lock()
        self._vector_lock = threading.Lock()
        self._model_ready = threading.Event()
        self._warming = threading.Lock()
        self._status: tuple[float, IndexStatus] | None = None
        self._checked_seq = -1
        self._background: threading.Event | None = None
        self._vectors_checked = 0.0

    # -- components ------------------------------------------------------------------------------------------

    @cached_property
    def lexical(self) -> LexicalIndex:
        return LexicalIndex(index_path(self.settings.data_dir))

    @cached_property
    def query_embedder(self) -> Embedder:
        return self._embedder(threads=None, batch_size=1)

    def _embedder(self, threads: int | None, batch_size: int = 16) -> Embedder:
        return Embedder(
            self.settings.data_dir / "models",
            backend=self.settings.embedding_backend,
            batch_size=batch_size,
            threads=threads,
        )

    @property
    def model_id(self) -> str:
        return self.query_embedder.model_id

    @cached_property
    def vectors(self) -> VectorIndex:
        index = VectorIndex(self.settings.data_dir / "index" / "vectors", model=self.model_id)
        return index

    @cached_property
    def fusion(self) -> Fusion:
        return Fusion(
            lexical_weight=self.settings.search_lexical_weight,
            coverage_weight=self.settings.search_coverage_weight,
            title_boost=self.settings.search_title_boost,
            candidates=self.settings.search_candidates,
            recency_weight=self.settings.search_recency_weight,
            recency_half_life_days=self.settings.search_recency_half_life_days,
            rerank_depth=self.settings.search_rerank_depth,
        )

    @cached_property
    def searcher(self) -> HybridSearcher:
        fusion = self.fusion
        return HybridSearcher(
            self.lexical,
            self.vectors,
            self._embed_query,
            fusion,
            published=self._published,
            texts=self._texts,
            reranker=rerank.shipped() if fusion.rerank_depth > 0 else None,
        )

    def _embed_query(self, text: str) -> np.ndarray:
        vector = self.query_embedder.embed_query(text)
        self._model_ready.set()
        return vector

    def _published(self, ids: Collection[str]) -> dict[str, datetime | None]:
        return {pid: paper.published_at for pid, paper in self.store.get_papers(list(ids)).items()}

    def _texts(self, ids: Collection[str]) -> dict[str, str]:
        return stored_texts(self.store, ids)

    # -- keeping current -------------------------------------------------------------------------------------

    def refresh(self, wait: bool = False) -> bool:
        """Apply the store's changes to the lexical index if its change log moved (one cheap query otherwise).
        With ``wait=False`` a search does not queue behind a sync another thread is running. True if synced."""
        seq = latest_seq(self.store)
        never_built = lexical_sync.load_state(self.lexical) is None
        if seq == self._checked_seq and not never_built:
            return False
        # An index never built has nothing to search: then wait for the sync (ours or another thread's).
        if not self._sync_lock.acquire(blocking=wait or never_built):
            return False
        try:
            state = lexical_sync.load_state(self.lexical)
            if state is not None and state.applied_seq >= seq and not state.gaps:
                self._checked_seq = seq
                return False
            try:
                report = lexical_sync.sync(self.store, self.lexical)
            except (OSError, ValueError, RuntimeError):
                # e.g. another process holds the index's writer lock: search what is indexed, sync next time
                log.warning("lexical index sync failed; searching the index as it is", exc_info=True)
                return False
            self._checked_seq = report.applied_seq if not report.open_gaps else -1
            self._status = None  # papers came or went: recount "semantic index: N of M"
            return True
        finally:
            self._sync_lock.release()

    def refresh_vectors(self, force: bool = False) -> int:
        """Load vectors written since the ANN index last looked (cheap check on the newest ``embedded_at``)."""
        with self._vector_lock:
            with self.store.read() as conn:
                newest = latest_embedded_at(conn, self.model_id)
            watermark = self.vectors.watermark
            if not force and newest is not None and watermark is not None and newest <= watermark:
                return 0
            if newest is None and not len(self.vectors):
                return 0
            return self.vectors.sync(self.store)

    def _refresh_vectors_soon(self) -> None:
        """From a request: load vectors that another process embedded, in a thread, at most every few seconds
        (a node without its own background embedder still picks up what workers wrote)."""
        now = time.monotonic()
        if now - self._vectors_checked < VECTOR_CHECK_SECONDS or self._vector_lock.locked():
            return
        self._vectors_checked = now

        def load() -> None:
            try:
                self.refresh_vectors()
            except Exception:
                log.exception("loading new vectors failed; trying again on a later search")

        threading.Thread(target=load, name="paperboy-vector-sync", daemon=True).start()

    def status(self, fresh: bool = False) -> IndexStatus:
        """Papers with a current vector, of all papers (cached for :data:`STATUS_SECONDS`)."""
        now = time.monotonic()
        if fresh or self._status is None or now - self._status[0] > STATUS_SECONDS:
            embedded, total = embedding_status(self.store, self.model_id)
            self._status = (now, IndexStatus(embedded, total))
        return self._status[1]

    def update_index(
        self, rebuild: bool = False, embed: bool = True, on_progress: Callable[[int, int], None] | None = None
    ) -> IndexReport:
        """What ``paperboy index`` does: sync (or rebuild) the lexical index, embed pending papers, load the
        vectors into the ANN index. Interrupting it loses at most one batch of embeddings."""
        with self._sync_lock:
            report = (lexical_sync.rebuild if rebuild else lexical_sync.sync)(self.store, self.lexical)
        embedded = 0
        if embed:
            embedder = self._embedder(threads=self.settings.embedding_threads or None)
            embedded = embed_pending(
                self.store, embedder, batch_size=self.settings.embedding_batch_size, on_progress=on_progress
            )
        with self._vector_lock:
            read = self.vectors.rebuild(self.store) if rebuild else self.vectors.sync(self.store, always_save=True)
        return IndexReport(report.indexed, report.removed, report.rebuilt, embedded, read, self.status(fresh=True))

    def warm_up(self, wait: bool = False) -> None:
        """Load the query model (exporting it on first use) off the request path."""
        if self._model_ready.is_set():
            return
        if wait:
            self._embed_query("warm up")
            return
        if self._warming.acquire(blocking=False):

            def load() -> None:
                try:
                    self._embed_query("warm up")
                except Exception:
                    log.exception("the embedding model could not be loaded; search stays lexical")
                finally:
                    self._warming.release()

            threading.Thread(target=load, name="paperboy-query-model", daemon=True).start()

    def background_step(self) -> int:
        """One round of background work: sync lexical, embed pending papers, load new vectors. Returns embedded."""
        self.refresh(wait=True)
        embedder = self._background_embedder
        done = embed_pending(self.store, embedder, batch_size=self.settings.embedding_batch_size)
        self.refresh_vectors()
        if done:
            self.status(fresh=True)
        return done

    @cached_property
    def _background_embedder(self) -> Embedder:
        return self._embedder(threads=self.settings.embedding_threads or 1)

    def stop_background(self) -> None:
        """Stop the background embedder (the web app's shutdown), so no thread outlives its database."""
        with self._vector_lock:
            if self._background is not None:
                self._background.set()
                self._background = None

    def ensure_background(self) -> None:
        """Start the background embedder once per process (the web app calls this on first use)."""
        with self._vector_lock:
            if self._background is None:
                self._background = self.start_background()

    def start_background(self, stop: threading.Event | None = None, interval: float = 30.0) -> threading.Event:
        """Embed new papers in a daemon thread of the web process (``embed_in_background``); set the event to
        stop. Errors are logged and retried next round; requests never wait for this thread."""
        stop = stop or threading.Event()

        def loop() -> None:
            self.warm_up()
            while not stop.is_set():
                try:
                    self.background_step()
                except Exception:
                    log.exception("background indexing failed; trying again in %.0f s", interval)
                stop.wait(interval)

        threading.Thread(target=loop, name="paperboy-embedder", daemon=True).start()
        return stop

    # -- queries ---------------------------------------------------------------------------------------------

    def search(
        self,
        text: str | ParsedQuery,
        limit: int = 10,
        offset: int = 0,
        filters: Filters | None = None,
        semantic: bool | None = True,
        with_status: bool = False,
    ) -> SearchPage:
        """Parse (raising QueryError on nonsense), search and load the page of results with highlights.

        ``semantic``: True waits for the query model when needed (CLI); None uses the dense half only once the
        model is loaded, starting the load in the background (web); False is lexical only.
        """
        query = parse_query(text) if isinstance(text, str) else text
        self.refresh()
        if semantic is None:
            self._refresh_vectors_soon()
        dense = semantic is not False and len(self.vectors) > 0
        if dense and semantic is None and not self._model_ready.is_set():
            self.warm_up()
            dense = False
        limit, offset = max(0, int(limit)), max(0, int(offset))
        scored = self.searcher.search(query, limit + offset + 1, filters=filters, dense=dense)
        page = scored[offset : offset + limit]
        results = self._load(query, page)
        status = self.status() if with_status else None
        return SearchPage(query, results, dense and query.has_text, status, has_more=len(scored) > offset + limit)

    def _load(self, query: ParsedQuery, scored: Sequence[Scored]) -> list[SearchResult]:
        ids = [s.paper_id for s in scored]
        if not ids:
            return []
        with self.store.read() as conn:
            papers = load_papers(conn, ids)
            community.add_local_counts(conn, papers.values())
        entries = self.store.entries_for(ids)
        results = []
        highlighter = Highlighter(query)  # the query's stems and sub-words, analysed once for the whole page
        for s in scored:
            paper = papers.get(s.paper_id)
            if paper is None:
                continue
            listed = entries.get(s.paper_id) or []
            entry = max(listed, key=lambda e: e.day) if listed else DailyEntry(paper.id, _fallback_day(paper))
            title, summary = highlighter.title(paper.title or ""), highlighter.abstract(paper.abstract or "")
            results.append(SearchResult(paper, entry, s.score, title, summary, bool(listed)))
        return results

    def similar(self, paper_id: str, k: int = 10) -> list[SearchResult]:
        """The ``k`` nearest papers by embedding; for a paper without a vector, a lexical search on its title."""
        self.refresh()
        self.refresh_vectors()
        found = self.vectors.similar(paper_id, k * 2 + 5) if paper_id in self.vectors else []
        ids = [pid for pid, _ in found]
        visible = self.lexical.filter_ids(ids, ParsedQuery()) if ids else set()
        scored = [Scored(pid, score, None, score) for pid, score in found if pid in visible][:k]
        query = ParsedQuery()
        if not scored:
            paper = self.store.get_paper(paper_id)
            if paper is None:
                return []
            words = tuple(dict.fromkeys(w for w in _words(paper.title)))[:SIMILAR_TITLE_WORDS]
            query = ParsedQuery(terms=words)
            hits = self.lexical.search(query, k + 1) if words else []
            scored = [Scored(h.paper_id, h.score, h.score, None) for h in hits if h.paper_id != paper_id][:k]
        return self._load(query, scored)


def _words(title: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:-[^\W_]+)*", title or "")


def _fallback_day(paper: Paper) -> date:
    when = paper.published_at or paper.updated_at
    return when.astimezone(UTC).date() if when else datetime.now(UTC).date()


def stored_texts(store: Store, ids: Collection[str]) -> dict[str, str]:
    """The title and abstract of each paper the store has, the text hybrid search reads coverage from."""
    return {pid: f"{title}\n{abstract or ''}" for pid, (title, abstract) in store.get_texts(list(ids)).items()}
