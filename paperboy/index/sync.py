"""Keep a lexical index in step with the store by following its change log; rebuild it from scratch on demand.

Run :func:`sync` after every ingest or edit (and periodically on each web node); run :func:`rebuild` for
``paperboy index --rebuild`` or when the index is new or was wiped. Both are safe to repeat.

The log's seqs come from a sequence. On PostgreSQL a transaction takes its seqs when it writes but they become
visible when it commits, so a reader may see 8 while 7 is still in flight. Reading "seq > last applied" alone
would skip 7 forever. So each sync remembers the seqs it found missing below its high-water mark (the *gaps*),
re-reads them next time, and gives a gap up after :data:`GAP_TIMEOUT_SECONDS` (a rolled-back transaction burns
seqs that never appear). A change is applied by re-reading the paper's current state, so re-reading is harmless.
The state (last applied seq and the open gaps) is a small JSON file inside the index folder, written after the
index commits: a crash in between only means the same changes are applied again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from paperboy.domain import Paper
from paperboy.index.lexical import LexicalIndex
from paperboy.store import Store
from paperboy.store.changes import iter_visible, latest_seq, load_for_index, read_changes, seqs_between

STATE_FILE = "sync.json"
GAP_TIMEOUT_SECONDS = 600.0  # longer than any ingest transaction; after that a missing seq was rolled back
MAX_GAPS = 100_000  # bound on remembered gaps, should a huge transaction roll back
REBUILD_OVERLAP = 10_000  # seqs below the high-water mark checked for in-flight transactions after a rebuild
BATCH = 2000

Clock = Callable[[], float]
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(slots=True)
class SyncState:
    """What the index already reflects: every seq <= applied_seq except the open gaps (seq -> first missed)."""

    applied_seq: int = 0
    gaps: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SyncReport:
    changes: int  # change-log rows read
    indexed: int  # papers (re)indexed
    removed: int  # papers removed (hidden or gone)
    rebuilt: bool
    applied_seq: int
    open_gaps: int


def state_path(index: LexicalIndex) -> Path:
    return index.path / STATE_FILE


def load_state(index: LexicalIndex) -> SyncState | None:
    """The saved state, or None when the index has never been built (or the file is unreadable)."""
    try:
        raw = json.loads(state_path(index).read_text())
        return SyncState(int(raw["applied_seq"]), {int(k): float(v) for k, v in raw.get("gaps", {}).items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_state(index: LexicalIndex, state: SyncState) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a state file."""
    path = state_path(index)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"applied_seq": state.applied_seq, "gaps": {str(k): v for k, v in state.gaps.items()}}))
    os.replace(tmp, path)


def advance(
    state: SyncState, after: int, found: Iterable[int], now: float, timeout: float = GAP_TIMEOUT_SECONDS
) -> SyncState:
    """The state after reading the seqs ``found`` (those > ``after`` and any re-read gaps).

    Seqs above ``after`` that were not found, up to the highest found, become gaps; found gaps close; gaps
    older than ``timeout`` are given up.
    """
    found = set(found)
    new_high = max([after, *(s for s in found if s > after)])
    gaps = {seq: since for seq, since in state.gaps.items() if seq not in found and now - since < timeout}
    for seq in range(after + 1, new_high + 1):
        if seq not in found:
            gaps.setdefault(seq, now)
    if len(gaps) > MAX_GAPS:
        gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
    return SyncState(max(state.applied_seq, new_high), gaps)


def _lock(index: LexicalIndex) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(index.path.resolve(), threading.Lock())


def sync(store: Store, index: LexicalIndex, clock: Clock = time.time, batch_size: int = BATCH) -> SyncReport:
    """Apply every change since the last sync; a never-built index is rebuilt instead."""
    with _lock(index):
        state = load_state(index)
        if state is None:
            return _rebuild(store, index, clock)
        changes = indexed = removed = 0
        while True:
            after = state.applied_seq
            read = read_changes(store, after, also=state.gaps.keys(), limit=batch_size)
            new_rows = sum(1 for c in read if c.seq > after)
            if read:
                batch = load_for_index(store, [c.paper_id for c in read])
                if batch.visible:
                    indexed += index.add_or_replace(batch.visible)
                if batch.removed:
                    index.delete(batch.removed)
                    removed += len(batch.removed)
            changes += len(read)
            new_state = advance(state, after, (c.seq for c in read), clock())
            if new_state != state:
                save_state(index, new_state)
            state = new_state
            if new_rows < batch_size:
                break
        return SyncReport(changes, indexed, removed, False, state.applied_seq, len(state.gaps))


def rebuild(store: Store, index: LexicalIndex, clock: Clock = time.time) -> SyncReport:
    """Replace the index's content with every visible paper in the store, then follow the log from there."""
    with _lock(index):
        return _rebuild(store, index, clock)


def _rebuild(store: Store, index: LexicalIndex, clock: Clock) -> SyncReport:
    high = latest_seq(store)  # read first: anything committed later is read again by the next sync
    low = max(0, high - REBUILD_OVERLAP)
    in_flight = set(range(low + 1, high + 1)) - seqs_between(store, low, high)
    now = clock()
    count = index.replace_all(_papers(store))
    state = SyncState(high, dict.fromkeys(sorted(in_flight), now))
    save_state(index, state)
    return SyncReport(0, count, 0, True, high, len(state.gaps))


def _papers(store: Store) -> Iterator[Paper]:
    for batch in iter_visible(store):
        yield from batch
