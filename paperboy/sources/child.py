"""Parse a big input file in a child process while this process writes to the store.

Parsing a line of the Kaggle snapshot costs about as much CPU as storing it, and one Python process does one at a
time. With the parser in a child process the two overlap on two cores (bench/ingest.py measures both ways). Items
cross the process boundary as plain tuples, because unpickling the slotted dataclasses (``__setstate__`` field by
field) costs about as much as parsing; they travel in chunks through a bounded queue, so memory stays constant
whatever the file size. A thread would not help: parsing holds the GIL.

Only sources that never yield FLUSH may run here: a FLUSH promises that everything before it is stored before the
source goes on (a harvest checkpoint), and a reader running ahead cannot keep that promise.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue as queues
from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from paperboy.domain import DailyEntry, Paper, Record, Skip, Version
from paperboy.sources.base import Item, SourceError
from paperboy.sources.jsonl import Progress

Reader = Callable[..., Iterator[Item]]  # read(path) or read(path, on_progress): a module-level function

CHUNK = 500  # items per message: large enough that queue overhead vanishes, small enough to start writing soon
QUEUE_CHUNKS = 8  # the most chunks in flight: the child waits when the writer falls behind
POLL_SECONDS = 1.0  # how often a waiting writer checks that the child is still alive
PAPER_FIELDS = tuple(f.name for f in fields(Paper))
TIME_FIELDS = frozenset({"published_at", "updated_at", "counts_as_of"})
TIME_INDEXES = tuple(i for i, name in enumerate(PAPER_FIELDS) if name in TIME_FIELDS)
VERSIONS_INDEX = PAPER_FIELDS.index("versions")


def input_bytes(path: Path) -> int:
    """The size of a file, or of the files directly inside a folder; 0 when it cannot be read."""
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0


def read_source(
    read: Reader, path: Path, on_progress: Progress | None = None, child_min_bytes: int = 0
) -> Iterator[Item]:
    """``read(path)`` (with ``on_progress`` when given), parsed in a child process when the input holds at least
    ``child_min_bytes`` bytes; in this process when smaller (a child costs about a second to start) or when
    ``child_min_bytes`` is negative."""
    if child_min_bytes < 0 or input_bytes(path) < child_min_bytes:
        return read(path, on_progress) if on_progress is not None else read(path)
    return read_in_child(read, path, on_progress)


def read_in_child(read: Reader, path: Path, on_progress: Progress | None = None) -> Iterator[Item]:
    """The items of ``read(path)``, in order, parsed by a child process. The child's exceptions are raised here; a
    child that dies without a word (killed, out of memory) ends the run with a SourceError, keeping what landed."""
    context = multiprocessing.get_context("spawn")  # no fork: this process holds database connections and threads
    channel: Any = context.Queue(maxsize=QUEUE_CHUNKS)
    child = context.Process(
        target=_child_main, args=(read, path, on_progress is not None, channel), name="paperboy-reader", daemon=True
    )
    child.start()
    try:
        while True:
            try:
                message = channel.get(timeout=POLL_SECONDS)
            except queues.Empty:
                if child.is_alive():
                    continue
                try:  # it may have said its last word just before it exited
                    message = channel.get(timeout=POLL_SECONDS)
                except queues.Empty:
                    raise SourceError(
                        f"the process reading {path} stopped unexpectedly (exit code {child.exitcode}); "
                        "what it had read is stored, run the ingest again to finish"
                    ) from None
            kind = message[0]
            if kind == "items":
                for packed in message[1]:
                    yield unpack(packed)
            elif kind == "progress":
                if on_progress is not None:
                    on_progress(message[1], message[2])
            elif kind == "error":
                raise message[1]
            else:
                return
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=10)
        channel.cancel_join_thread()
        channel.close()


def _child_main(read: Reader, path: Path, with_progress: bool, channel: Any) -> None:
    chunk: list[tuple[Any, ...]] = []
    try:

        def progress(done: int, total: int) -> None:
            channel.put(("progress", done, total))

        items = read(path, progress) if with_progress else read(path)
        for item in items:
            chunk.append(pack(item))
            if len(chunk) >= CHUNK:
                channel.put(("items", chunk))
                chunk = []
        channel.put(("items", chunk))
        channel.put(("end",))
    except BaseException as exc:  # everything, even KeyboardInterrupt, is reported to the writer
        channel.put(("items", chunk))  # what was read before the error lands, as it would in one process
        channel.put(("error", _sendable(exc)))
    finally:
        channel.close()
        channel.join_thread()  # everything put is handed over before the process exits


def _sendable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling (the queue pickles in a thread, where a failure would be
    lost); else a RuntimeError that names it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


# -- items as plain tuples ----------------------------------------------------------------------------------------


def _time(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def pack(item: Item) -> tuple[Any, ...]:
    """An item as a tuple of strings, numbers, lists and dicts, cheap to pickle and to unpickle."""
    if isinstance(item, Skip):
        return ("skip", item.where, item.reason)
    if not isinstance(item, Record):
        raise TypeError(f"a {type(item).__name__} cannot be read ahead in a child process (a FLUSH needs the writer)")
    paper = item.paper
    values = []
    for name in PAPER_FIELDS:
        value = getattr(paper, name)
        if name in TIME_FIELDS:
            value = _time(value)
        elif name == "versions":
            value = [(v.number, _time(v.created_at)) for v in value]
        values.append(value)
    entry = item.entry
    packed_entry = (
        None
        if entry is None
        else (entry.paper_id, entry.day.isoformat(), entry.submitted_by, _time(entry.submitted_at))
    )
    return ("record", tuple(values), item.where, packed_entry)


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def unpack(packed: tuple[Any, ...]) -> Item:
    """The item that :func:`pack` was given. Positional construction and precomputed field positions: this runs
    once per paper in the writing process, the busy one."""
    if packed[0] == "skip":
        return Skip(packed[1], packed[2])
    _, packed_values, where, packed_entry = packed
    values = list(packed_values)
    for index in TIME_INDEXES:
        values[index] = _parse_time(values[index])
    values[VERSIONS_INDEX] = [Version(number, _parse_time(created)) for number, created in values[VERSIONS_INDEX]]
    entry = None
    if packed_entry is not None:
        paper_id, day, submitted_by, submitted_at = packed_entry
        entry = DailyEntry(paper_id, date.fromisoformat(day), submitted_by, _parse_time(submitted_at))
    return Record(Paper(*values), where, entry)
