"""The ingest loop reads its source ahead in a thread: order, FLUSH barriers, errors and early stops must hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from paperboy.domain import Skip
from paperboy.sources.base import FLUSH, READ_AHEAD_CHUNK, Item, read_ahead


def skips(n: int, prefix: str = "") -> list[Item]:
    return [Skip(f"{prefix}{i}", "test") for i in range(n)]


def test_items_arrive_in_order_across_chunks() -> None:
    items = skips(3 * READ_AHEAD_CHUNK + 7)
    assert list(read_ahead(items)) == items
    assert list(read_ahead([])) == []


def test_the_source_waits_at_a_flush_until_the_consumer_has_gone_past_it() -> None:
    """A source that saves a checkpoint after FLUSH must not run while the records before it are being written."""
    events: list[str] = []
    committed = threading.Event()

    def source() -> Iterator[Item]:
        yield from skips(5)
        yield FLUSH
        events.append(f"source resumed, committed={committed.is_set()}")
        yield from skips(2, "after")

    stream = read_ahead(source())
    for item in stream:
        if item is FLUSH:
            threading.Event().wait(0.3)  # the "commit" takes a while; the source must not move meanwhile
            assert events == []
            committed.set()
    assert events == ["source resumed, committed=True"]


def test_an_error_in_the_source_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[Item]:
        yield from skips(READ_AHEAD_CHUNK + 3)
        raise ValueError("broken upstream")

    seen = []
    with pytest.raises(ValueError, match="broken upstream"):
        for item in read_ahead(source()):
            seen.append(item)
    assert len(seen) == READ_AHEAD_CHUNK + 3


def test_stopping_early_stops_and_closes_the_source() -> None:
    closed = threading.Event()
    produced = 0

    def endless() -> Iterator[Item]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield Skip(str(produced), "test")
        finally:
            closed.set()

    stream = read_ahead(endless())
    assert [next(stream) for _ in range(10)][-1] == Skip("10", "test")
    stream.close()
    assert closed.wait(5)
    assert not any(t.name == "paperboy-read-ahead" for t in threading.enumerate())
