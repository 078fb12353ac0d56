"""The background job that embeds papers: run it after ingest (the scheduler does), or `paperboy index` by hand.

Ingest never loads the model; it only changes papers, which makes their vectors stale. This job finds papers
without a current vector, embeds them in batches and commits each batch, so a crash or a stop loses at most the
batch in flight and the next run resumes there. Papers whose text did not change (an upvote count moved) keep
their vector without running the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from paperboy.index.embed import Embedder, paper_text
from paperboy.store import Store
from paperboy.store.store import utcnow
from paperboy.store.vectors import (
    StoredVector,
    confirm_vectors,
    count_pending,
    embedding_counts,
    pending_papers,
    save_vectors,
)

Progress = Callable[[int, int], None]  # (papers done in this run, papers pending when the run started)


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def embed_pending(store: Store, embedder: Embedder, batch_size: int = 64, on_progress: Progress | None = None) -> int:
    """Embed every paper whose vector is missing or stale, one committed batch at a time; returns how many papers
    were brought up to date (embedded or confirmed unchanged). Raising from ``on_progress`` stops the run after a
    committed batch; the next run picks up the rest."""
    model = embedder.model_id
    with store.read() as conn:
        pending_at_start = count_pending(conn, model)
    done = 0
    after = ""
    while True:
        with store.read() as conn:
            batch = pending_papers(conn, model, after=after, limit=batch_size)
        if not batch:
            return done
        after = batch[-1].paper_id
        texts = {p.paper_id: paper_text(p.title, p.abstract) for p in batch}
        hashes = {pid: text_hash(text) for pid, text in texts.items()}
        unchanged = [p for p in batch if p.stored_model == model and p.stored_hash == hashes[p.paper_id]]
        unchanged_ids = {p.paper_id for p in unchanged}
        to_embed = [p for p in batch if p.paper_id not in unchanged_ids]
        vectors = embedder.embed([texts[p.paper_id] for p in to_embed]) if to_embed else None
        items = [
            StoredVector(p.paper_id, model, vectors[row], hashes[p.paper_id], p.modified_at)
            for row, p in enumerate(to_embed)
            if vectors is not None
        ]
        with store.write() as conn:
            save_vectors(conn, items, utcnow())
            confirm_vectors(conn, [(p.paper_id, p.modified_at) for p in unchanged])
        done += len(batch)
        if on_progress is not None:
            on_progress(done, pending_at_start)


def embedding_status(store: Store, model: str) -> tuple[int, int]:
    """(papers with a current vector, all papers): "semantic index: N of M papers"."""
    with store.read() as conn:
        return embedding_counts(conn, model)
