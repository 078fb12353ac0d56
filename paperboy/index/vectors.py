"""The dense half of search: an HNSW graph (usearch, cosine) over the stored paper vectors.

Derived data kept under ``data_dir/index/vectors/``: built from vectors already in the store (never by
re-embedding), then kept current with :meth:`VectorIndex.sync`, which reads vectors written since its last
watermark (less an overlap window, because on PostgreSQL transactions commit out of order) and applies them
idempotently. usearch keys are integers: each paper gets one for good, kept in ``meta.json`` beside the graph.

An HNSW search costs ~1-4 ms at a million vectors where exact search costs ~55-200 ms. The stored scalar type is
f16 by default: ``bench/embed.py`` measures recall@10 against exact search on real MiniLM embeddings for f32, f16
and i8 (usearch's i8 maps each component x to round(127x), and a 384-d unit vector's components are ~0.05, so i8
keeps only a few levels per component and loses recall).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import onnxruntime  # noqa: F401  (must load before usearch: the other order segfaults, seen with usearch 2.26)
from usearch.index import Index

from paperboy.store import Store
from paperboy.store.vectors import iter_vectors, latest_embedded_at, stored_ids

FORMAT = 1  # bump when the files' layout changes: an index of another format is rebuilt
SYNC_OVERLAP = timedelta(minutes=10)  # re-read this far behind the watermark (late commits, clock skew)
EXACT_FILTER_LIMIT = 20_000  # with fewer allowed papers than this, filtered search is exact over them
# usearch's multi-threaded add races on a small batch: 40 vectors added at once left a node unreachable in 80 of 300
# trials (its own vector did not find it); one thread: 0 of 300. Big batches lose little and add twice as fast.
THREADED_ADD_MIN = 1_000
# Saving rewrites the whole graph file (~1 GB at a million f16 vectors) and holds the lock searches need. The file
# is only a cache of vectors the store keeps, and a process that opens it catches up from its watermark, so a big
# index is saved after a sync only when enough changed or enough time passed (``paperboy index`` always saves).
SAVE_ALWAYS_BELOW = 50_000  # vectors: smaller graphs save in well under a second, after every sync
SAVE_AFTER_SHARE = 0.05  # of the vectors changed since the last save
SAVE_AFTER_SECONDS = 600.0
# HNSW search breadth for a top 10 (a deeper top k searches at least k wide anyway). At a million synthetic papers
# (bench/search_latency.py's corpus), recall@10 against exact search over its 300 queries: ef 256 0.898 (median
# 1.2 ms), 512 0.956 (~2.3 ms), 1024 0.972; a millisecond is cheap next to the query's embedding (hybrid p95 there
# is ~25 ms), a tenth of a dense top 10 missed is not. (A 30-query sample had put 256 at 0.92.)
EXPANSION_SEARCH = 512


class VectorIndex:
    """An ANN index of one model's paper vectors, persisted in ``folder``; thread-safe."""

    def __init__(
        self,
        folder: Path,
        model: str,
        dim: int = 384,
        dtype: str = "f16",
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = EXPANSION_SEARCH,
    ) -> None:
        self.folder = Path(folder)
        self.model = model
        self.dim = dim
        self.dtype = dtype
        self._params = {"connectivity": connectivity, "expansion_add": expansion_add}
        self.expansion_search = expansion_search
        self._lock = threading.RLock()
        self._ids: list[str | None] = []  # usearch key -> paper id (None: removed)
        self._keys: dict[str, int] = {}
        self.watermark: datetime | None = None
        self._unsaved = 0  # vectors added, replaced or removed since the last save
        self._saved_at: float | None = None  # time.monotonic() of the last save
        self._index = self._new_index()
        self._load()

    # -- files -----------------------------------------------------------------------------------------------------

    @property
    def _graph_path(self) -> Path:
        return self.folder / "hnsw.usearch"

    @property
    def _meta_path(self) -> Path:
        return self.folder / "meta.json"

    def _new_index(self) -> Index:
        return Index(
            ndim=self.dim,
            metric="cos",
            dtype=self.dtype,
            expansion_search=self.expansion_search,
            **self._params,
        )

    def _settings(self) -> dict[str, object]:
        return {"format": FORMAT, "model": self.model, "dim": self.dim, "dtype": self.dtype, **self._params}

    def _load(self) -> None:
        """Open the saved index if it is complete and made with these settings; otherwise start empty."""
        try:
            meta = json.loads(self._meta_path.read_text())
            if any(meta.get(name) != value for name, value in self._settings().items()):
                return
            if self._graph_path.stat().st_size != meta["graph_bytes"]:
                return  # a crash between writing the graph and its meta: rebuild rather than trust it
            index = self._new_index()
            index.load(str(self._graph_path))
        except (OSError, ValueError, KeyError, RuntimeError):
            return
        self._index = index
        self._ids = meta["ids"]
        self._keys = {pid: key for key, pid in enumerate(self._ids) if pid is not None}
        self.watermark = datetime.fromisoformat(meta["watermark"]) if meta.get("watermark") else None
        self._saved_at = time.monotonic()  # the file is as fresh as a save made now

    def save(self) -> None:
        """Write the graph, then its meta (each to a temporary file renamed into place)."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            graph_tmp = self._graph_path.with_name(f".hnsw.{os.getpid()}.tmp")
            self._index.save(str(graph_tmp))
            graph_bytes = graph_tmp.stat().st_size
            graph_tmp.replace(self._graph_path)
            meta = {
                **self._settings(),
                "graph_bytes": graph_bytes,
                "watermark": self.watermark.isoformat() if self.watermark else None,
                "ids": self._ids,
            }
            meta_tmp = self._meta_path.with_name(f".meta.{os.getpid()}.tmp")
            meta_tmp.write_text(json.dumps(meta))
            meta_tmp.replace(self._meta_path)
            self._unsaved, self._saved_at = 0, time.monotonic()

    def save_due(self) -> bool:
        """Whether a sync should save now (see SAVE_ALWAYS_BELOW and the lines after it)."""
        if not self._unsaved and self._graph_path.exists():
            return False
        return (
            len(self) < SAVE_ALWAYS_BELOW
            or self._saved_at is None
            or self._unsaved >= SAVE_AFTER_SHARE * len(self)
            or time.monotonic() - self._saved_at >= SAVE_AFTER_SECONDS
        )

    def clear(self) -> None:
        with self._lock:
            self._index = self._new_index()
            self._ids, self._keys, self.watermark = [], {}, None
            self._unsaved, self._saved_at = 0, None
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- updates ---------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._keys

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add papers, or replace the vectors of papers already in the index (a paper keeps its key). A paper whose
        vector is already in the index as given is left alone: syncs re-read an overlap window, and re-inserting
        a node costs as much as adding it."""
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
        if not len(ids):
            return
        with self._lock:
            latest = {pid: row for row, pid in enumerate(ids)}  # a paper twice in one call: the last vector wins
            new_ids = list(latest)
            rows = np.asarray(vectors, dtype=np.float32)[list(latest.values())]
            unchanged = self._unchanged(new_ids, rows)
            if unchanged:
                keep = [i for i in range(len(new_ids)) if i not in unchanged]
                new_ids, rows = [new_ids[i] for i in keep], rows[keep]
            if not new_ids:
                return
            known = [self._keys[pid] for pid in new_ids if pid in self._keys]
            if known:
                self._index.remove(np.array(known, dtype=np.uint64))
            keys = []
            for pid in new_ids:
                if pid not in self._keys:
                    self._keys[pid] = len(self._ids)
                    self._ids.append(pid)
                keys.append(self._keys[pid])
            threads = 0 if len(keys) >= THREADED_ADD_MIN else 1  # 0: all cores
            self._index.add(np.array(keys, dtype=np.uint64), rows, threads=threads)
            self._unsaved += len(keys)

    def _unchanged(self, ids: list[str], rows: np.ndarray) -> set[int]:
        """Positions of ``ids`` already indexed with exactly ``rows`` (as stored: i8 is rescaled, so not compared)."""
        if self.dtype not in ("f16", "f32", "f64"):
            return set()
        positions = [i for i, pid in enumerate(ids) if pid in self._keys]
        if not positions:
            return set()
        stored = self._index.get(np.array([self._keys[ids[i]] for i in positions], dtype=np.uint64))
        return {
            i
            for i, old in zip(positions, stored, strict=True)
            if old is not None and np.array_equal(old, rows[i].astype(old.dtype))
        }

    def remove(self, ids: Collection[str]) -> None:
        with self._lock:
            keys = [self._keys.pop(pid) for pid in ids if pid in self._keys]
            if keys:
                self._index.remove(np.array(keys, dtype=np.uint64))
                for key in keys:
                    self._ids[key] = None
                self._unsaved += len(keys)

    def sync(self, store: Store, always_save: bool = False) -> int:
        """Apply vectors written since the last sync (all of them the first time), drop papers whose vectors are
        gone, and save when :meth:`save_due` (or ``always_save``). Returns how many vectors were read."""
        with store.read() as conn:
            newest = latest_embedded_at(conn, self.model)
        since = self.watermark - SYNC_OVERLAP if self.watermark else None
        read = 0
        for ids, vectors in iter_vectors(store, self.model, since=since):
            self.upsert(ids, vectors)
            read += len(ids)
        with store.read() as conn:
            present = stored_ids(conn, self.model)
        with self._lock:
            self.remove([pid for pid in self._keys if pid not in present])
            if newest is not None and (self.watermark is None or newest > self.watermark):
                self.watermark = newest
        if always_save or self.save_due():
            self.save()
        return read

    def rebuild(self, store: Store) -> int:
        """Start over from the stored vectors (`paperboy index --rebuild`)."""
        self.clear()
        return self.sync(store, always_save=True)

    # -- queries ---------------------------------------------------------------------------------------------------

    def search(
        self, vector: np.ndarray, k: int = 10, allowed_ids: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` papers nearest to ``vector`` as (paper id, cosine similarity), best first; only papers in
        ``allowed_ids`` when given (exact over them when they are few, else a widened graph search)."""
        query = _unit(vector)
        if k <= 0 or not self._keys:
            return []
        if allowed_ids is None:
            return self._graph_search(query, k, None)
        allowed = {pid for pid in allowed_ids if pid in self._keys}
        if not allowed:
            return []
        if len(allowed) <= EXACT_FILTER_LIMIT:
            return self._exact(query, k, allowed)
        return self._graph_search(query, k, allowed)

    def similar(self, paper_id: str, k: int = 10) -> list[tuple[str, float]]:
        """Papers nearest to ``paper_id``'s own vector, without the paper itself; empty if it is not indexed."""
        with self._lock:
            key = self._keys.get(paper_id)
            if key is None:
                return []
            vector = _unit(self._index.get(key))  # i8 comes back scaled by 127: rescale before the query is cast
        found = self._graph_search(vector, k + 1, None)
        return [(pid, score) for pid, score in found if pid != paper_id][:k]

    def _graph_search(self, query: np.ndarray, k: int, allowed: set[str] | None) -> list[tuple[str, float]]:
        """HNSW search; with a filter, fetch more candidates until k allowed ones are found or all were seen."""
        want = k if allowed is None else max(k * 4, int(k * len(self._keys) / len(allowed) * 2))
        while True:
            with self._lock:
                total = len(self._index)
                want = min(want, total)
                matches = self._index.search(query, want)
                hits = [
                    (self._ids[int(key)], 1.0 - float(dist))
                    for key, dist in zip(matches.keys, matches.distances, strict=True)
                ]
            results = [(pid, score) for pid, score in hits if pid is not None and (allowed is None or pid in allowed)]
            if len(results) >= k or want >= total:
                return results[:k]
            want *= 4

    def _exact(self, query: np.ndarray, k: int, allowed: set[str]) -> list[tuple[str, float]]:
        ids = sorted(allowed)
        with self._lock:
            keys = np.array([self._keys[pid] for pid in ids], dtype=np.uint64)
            matrix = np.asarray(self._index.get(keys), dtype=np.float32).reshape(len(ids), self.dim)
        norms = np.linalg.norm(matrix, axis=1)
        scores = matrix @ query / np.maximum(norms * np.linalg.norm(query), 1e-12)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(ids[i], float(scores[i])) for i in top]


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
