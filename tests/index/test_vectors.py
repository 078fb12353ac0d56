"""Stored vectors, the embedding job and the ANN index, on the real model and real SciFact abstracts."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from paperboy.domain import Paper, Record
from paperboy.index import vectors as vectors_module
from paperboy.index.embed import DIM, Embedder
from paperboy.index.embedding_job import embed_pending, embedding_status
from paperboy.index.vectors import VectorIndex
from paperboy.store import Store
from paperboy.store.vectors import StoredVector, count_pending, load_vectors, save_vectors
from tests.index.test_embed import cached_embedder, scifact_abstracts


class CountingEmbedder(Embedder):
    """The real int8 embedder, counting the texts it embeds, to prove each paper is embedded exactly once."""

    def __init__(self, base: Embedder) -> None:
        super().__init__(base.cache_dir, base.backend, base.batch_size, base.threads)
        self.embedded: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:  # type: ignore[override]
        self.embedded.extend(texts)
        return super().embed(texts)


class Stop(Exception):
    pass


@pytest.fixture(scope="session")
def docs(shared_data: Path) -> list[tuple[str, str]]:
    return scifact_abstracts(shared_data, 40)


@pytest.fixture(scope="session")
def doc_vectors(tmp_path_factory: pytest.TempPathFactory, docs: list[tuple[str, str]]) -> np.ndarray:
    return cached_embedder(tmp_path_factory, "onnx-int8").embed([text for _, text in docs])


@pytest.fixture
def embedder(tmp_path_factory: pytest.TempPathFactory) -> CountingEmbedder:
    return CountingEmbedder(cached_embedder(tmp_path_factory, "onnx-int8"))


def papers_from(docs: list[tuple[str, str]]) -> list[Record]:
    """SciFact documents as papers: the title is the first sentence of the embedded text."""
    records = []
    for doc_id, text in docs:
        title, _, abstract = text.partition(". ")
        records.append(Record(Paper(id=f"scifact-{doc_id}", title=title, abstract=abstract), where=doc_id))
    return records


def test_vectors_round_trip_through_the_store(
    store: Store, docs: list[tuple[str, str]], doc_vectors: np.ndarray
) -> None:
    store.apply_batch(papers_from(docs[:5]))
    ids = [f"scifact-{doc_id}" for doc_id, _ in docs[:5]]
    modified = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    items = [StoredVector(pid, "m", doc_vectors[i], f"hash{i}", modified) for i, pid in enumerate(ids)]
    with store.write() as conn:
        save_vectors(conn, [*items, StoredVector("no-such-paper", "m", doc_vectors[0], "h", modified)], modified)
    with store.read() as conn:
        loaded = load_vectors(conn, "m", [*ids, "no-such-paper"])
        assert load_vectors(conn, "another-model", ids) == {}
    assert sorted(loaded) == sorted(ids)  # the missing paper was skipped, not an error
    for i, pid in enumerate(ids):
        assert loaded[pid].dtype == np.float32 and loaded[pid].tobytes() == doc_vectors[i].tobytes()
    with store.write() as conn:  # replacing keeps one row per paper
        save_vectors(conn, [StoredVector(ids[0], "m", doc_vectors[4], "h", modified)], modified)
    with store.read() as conn:
        assert load_vectors(conn, "m", [ids[0]])[ids[0]].tobytes() == doc_vectors[4].tobytes()
        assert count_pending(conn, "m") == 5  # papers.modified_at is not the version these vectors name


def test_embed_pending_resumes_after_a_crash_and_embeds_each_paper_once(
    store: Store, docs: list[tuple[str, str]], embedder: CountingEmbedder
) -> None:
    store.apply_batch(papers_from(docs[:10]))
    assert embedding_status(store, embedder.model_id) == (0, 10)
    progress: list[tuple[int, int]] = []

    def crash_after_two_batches(done: int, total: int) -> None:
        progress.append((done, total))
        if len(progress) == 2:
            raise Stop

    with pytest.raises(Stop):
        embed_pending(store, embedder, batch_size=3, on_progress=crash_after_two_batches)
    assert progress == [(3, 10), (6, 10)]
    assert embedding_status(store, embedder.model_id) == (6, 10)
    assert embed_pending(store, embedder, batch_size=3) == 4
    assert embedding_status(store, embedder.model_id) == (10, 10)
    assert sorted(embedder.embedded) == sorted(text for _, text in docs[:10])  # each exactly once
    assert embed_pending(store, embedder, batch_size=3) == 0


def test_changed_text_is_re_embedded_and_a_count_change_is_not(
    store: Store, docs: list[tuple[str, str]], embedder: CountingEmbedder
) -> None:
    records = papers_from(docs[:4])
    store.apply_batch(records)
    embed_pending(store, embedder)
    first = records[0].paper
    with store.read() as conn:
        before = load_vectors(conn, embedder.model_id, [first.id])[first.id]
    embedder.embedded.clear()
    store.apply_batch([Record(Paper(id=first.id, title=first.title, upvotes=7), where="votes")])
    assert embedding_status(store, embedder.model_id) == (3, 4)
    assert embed_pending(store, embedder) == 1
    assert embedder.embedded == []  # same text: the vector was confirmed, the model not run
    store.apply_batch([Record(Paper(id=first.id, title="An entirely new title"), where="edit")])
    assert embed_pending(store, embedder) == 1
    assert embedder.embedded == [f"An entirely new title. {first.abstract}"]
    with store.read() as conn:
        after = load_vectors(conn, embedder.model_id, [first.id])[first.id]
    assert float(before @ after) < 0.999
    assert embedding_status(store, embedder.model_id) == (4, 4)


def test_another_model_needs_its_own_vectors(
    store: Store, docs: list[tuple[str, str]], embedder: CountingEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store.apply_batch(papers_from(docs[:2]))
    embed_pending(store, embedder)
    fp32 = cached_embedder(tmp_path_factory, "onnx")
    assert embedding_status(store, fp32.model_id) == (0, 2)
    assert embed_pending(store, fp32) == 2
    assert embedding_status(store, fp32.model_id) == (2, 2)


def test_ann_finds_each_papers_own_vector_first_and_reloads(
    tmp_path: Path, docs: list[tuple[str, str]], doc_vectors: np.ndarray
) -> None:
    ids = [doc_id for doc_id, _ in docs]
    index = VectorIndex(tmp_path / "index" / "vectors", "m")
    index.upsert(ids, doc_vectors)
    assert len(index) == len(ids)
    for i, pid in enumerate(ids):
        (top, score), *_ = index.search(doc_vectors[i], k=5)
        assert top == pid and score > 0.99
    index.save()
    reloaded = VectorIndex(tmp_path / "index" / "vectors", "m")
    assert len(reloaded) == len(ids)
    for i in (0, 17, 39):
        assert reloaded.search(doc_vectors[i], k=10) == index.search(doc_vectors[i], k=10)
    assert reloaded.similar(ids[3], k=5)[0][0] != ids[3]
    assert len(reloaded.similar(ids[3], k=5)) == 5
    assert reloaded.similar("unknown", k=5) == []


def test_ann_filters_replaces_and_removes(tmp_path: Path, docs: list[tuple[str, str]], doc_vectors: np.ndarray) -> None:
    ids = [doc_id for doc_id, _ in docs]
    index = VectorIndex(tmp_path / "vectors", "m")
    index.upsert(ids[:30], doc_vectors[:30])
    index.upsert(ids[30:], doc_vectors[30:])  # incremental add
    assert index.search(doc_vectors[35], k=1)[0][0] == ids[35]
    allowed = set(ids[10:20])
    found = index.search(doc_vectors[0], k=5, allowed_ids=allowed | {"not-indexed"})
    assert len(found) == 5 and {pid for pid, _ in found} <= allowed
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    index.upsert([ids[0]], doc_vectors[5:6])  # a paper's text changed: its vector is replaced, its key kept
    assert len(index) == len(ids)
    assert {pid for pid, _ in index.search(doc_vectors[5], k=2)} == {ids[0], ids[5]}
    index.remove([ids[5]])
    assert ids[5] not in index and len(index) == len(ids) - 1
    assert index.search(doc_vectors[5], k=1)[0][0] == ids[0]


def test_ann_syncs_incrementally_from_the_store(
    tmp_path: Path, store: Store, docs: list[tuple[str, str]], embedder: CountingEmbedder
) -> None:
    folder = tmp_path / "index" / "vectors"
    store.apply_batch(papers_from(docs[:6]))
    embed_pending(store, embedder)
    index = VectorIndex(folder, embedder.model_id)
    assert index.sync(store) == 6 and len(index) == 6
    embedder.embedded.clear()
    store.apply_batch(papers_from(docs[6:9]))
    embed_pending(store, embedder)
    node = VectorIndex(folder, embedder.model_id)  # another process opening the saved index
    assert len(node) == 6 and node.watermark == index.watermark
    node.sync(store)
    assert len(node) == 9
    new_id = papers_from(docs[7:8])[0].paper.id
    with store.read() as conn:
        vector = load_vectors(conn, embedder.model_id, [new_id])[new_id]
    assert node.search(vector, k=1)[0][0] == new_id
    assert len(embedder.embedded) == 3  # the index was built from stored vectors, not by re-embedding


def test_a_big_ann_index_is_saved_only_when_enough_changed_or_time_passed(
    tmp_path: Path,
    store: Store,
    docs: list[tuple[str, str]],
    embedder: CountingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Saving rewrites the whole graph: a big index (here: any size) defers it, a reopening process catches up."""
    monkeypatch.setattr(vectors_module, "SAVE_ALWAYS_BELOW", 0)
    monkeypatch.setattr(vectors_module, "SAVE_AFTER_SHARE", 0.5)
    folder = tmp_path / "vectors"
    store.apply_batch(papers_from(docs[:8]))
    embed_pending(store, embedder)
    index = VectorIndex(folder, embedder.model_id)
    index.sync(store)  # never saved: saves
    assert len(VectorIndex(folder, embedder.model_id)) == 8
    store.apply_batch(papers_from(docs[8:10]))
    embed_pending(store, embedder)
    index.sync(store)  # 2 of 10 changed (the 8 re-read in the overlap window are unchanged): not saved
    assert len(index) == 10 and len(VectorIndex(folder, embedder.model_id)) == 8
    node = VectorIndex(folder, embedder.model_id)
    node.sync(store)  # another process opening the older file catches up from the store
    assert len(node) == 10
    monkeypatch.setattr(vectors_module, "SAVE_AFTER_SECONDS", 0.0)
    index.sync(store)  # the pending change is old enough now
    assert len(VectorIndex(folder, embedder.model_id)) == 10
    store.apply_batch(papers_from(docs[10:11]))
    embed_pending(store, embedder)
    monkeypatch.setattr(vectors_module, "SAVE_AFTER_SECONDS", 3600.0)
    index.sync(store, always_save=True)  # what `paperboy index` does
    assert len(VectorIndex(folder, embedder.model_id)) == 11


def test_ann_of_other_settings_or_half_written_starts_empty(
    tmp_path: Path, docs: list[tuple[str, str]], doc_vectors: np.ndarray
) -> None:
    index = VectorIndex(tmp_path, "m")
    index.upsert([d for d, _ in docs[:3]], doc_vectors[:3])
    index.save()
    assert len(VectorIndex(tmp_path, "m")) == 3
    assert len(VectorIndex(tmp_path, "another-model")) == 0
    assert len(VectorIndex(tmp_path, "m", dtype="f32")) == 0
    (tmp_path / "hnsw.usearch").write_bytes(b"truncated")
    assert len(VectorIndex(tmp_path, "m")) == 0
    assert VectorIndex(tmp_path / "missing", "m").search(np.ones(DIM, dtype=np.float32), k=3) == []


def test_usearch_and_onnxruntime_load_together_in_either_order() -> None:
    """usearch 2.26 makes a later `import onnxruntime` crash (and torch's tracer hang): keep a version that doesn't."""
    for first, second in (("usearch.index", "onnxruntime"), ("onnxruntime", "usearch.index")):
        done = subprocess.run(
            [sys.executable, "-c", f"import {first}; import {second}"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, (first, second, done.returncode, done.stderr[-500:])


def test_every_vector_of_a_small_batch_finds_itself(tmp_path: Path) -> None:
    """usearch's threaded add races on small batches and could leave a node unreachable (about 1 trial in 4 here);
    small batches are added on one thread."""
    rng = np.random.default_rng(0)
    topics = rng.normal(size=(8, DIM)).astype(np.float32)
    for trial in range(50):
        vectors = topics[rng.integers(0, 8, 40)] + rng.normal(scale=0.6, size=(40, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = [f"p{i}" for i in range(40)]
        index = VectorIndex(tmp_path / str(trial), "m")
        index.upsert(ids, vectors)
        assert [index.search(vectors[i], k=1)[0][0] for i in range(40)] == ids
