"""Writers in separate processes queue for the lock instead of failing (BEGIN IMMEDIATE + busy timeout)."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

from paperboy.domain import Paper, Record
from paperboy.store import Store


def _writer(url: str, worker: int, rounds: int) -> None:
    store = Store(url)
    for n in range(rounds):
        # Read-then-write transactions: every batch re-reads the shared paper before merging into it.
        shared = Paper(
            id="shared", title=f"from {worker}/{n}", upvotes=n, counts_as_of=datetime(2024, 1, 1, tzinfo=UTC)
        )
        own = Paper(id=f"w{worker}-{n}", title="own")
        store.apply_batch([Record(shared, "test"), Record(own, "test")])
    store.close()


def test_concurrent_writer_processes_all_succeed(database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(database_url, w, 15)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    store = Store(database_url)
    assert store.stats()["papers"] == 4 * 15 + 1
    store.close()
