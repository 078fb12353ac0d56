"""Parsing in a child process (paperboy.sources.child): the same items in the same order as parsing here, the
child's errors and death reported, no child left behind. Real files from ../shared/data, a real spawned process."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from paperboy.domain import Paper, Record
from paperboy.sources import hf_daily, jsonl, kaggle
from paperboy.sources.base import FLUSH, Item, ingest
from paperboy.sources.child import pack, read_in_child, read_source, unpack
from paperboy.store import Store

DAYS = ("2024-05-27.json", "2025-06-02.json", "2026-08-21.json")


@pytest.fixture
def snapshot(shared_data: Path) -> Path:
    return shared_data / "arxiv_kaggle_snapshot" / "arxiv-metadata-oai-snapshot.head.jsonl"


@pytest.fixture
def archive_days(shared_data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "days"
    folder.mkdir()
    for name in DAYS:
        (folder / name).write_bytes((shared_data / "hf_daily_papers" / "raw" / name).read_bytes())
    return folder


@pytest.fixture
def damaged_snapshot(snapshot: Path, tmp_path: Path) -> Path:
    """The real head with a broken line, a duplicate and a line without a title among the good ones."""
    lines = snapshot.read_text(encoding="utf-8").splitlines()
    untitled = json.loads(lines[3])
    del untitled["title"]
    damaged = [*lines[:3], '{"id": "2101.0', json.dumps(untitled), *lines[4:], lines[10]]
    path = tmp_path / "damaged.jsonl"
    path.write_text("\n".join(damaged) + "\n", encoding="utf-8")
    return path


def test_every_item_survives_the_trip_as_a_tuple(snapshot: Path, archive_days: Path, damaged_snapshot: Path) -> None:
    items = [*kaggle.read_path(snapshot), *hf_daily.read_path(archive_days), *kaggle.read_path(damaged_snapshot)]
    assert any(isinstance(i, Record) and i.entry for i in items) and any(not isinstance(i, Record) for i in items)
    assert [unpack(pack(item)) for item in items] == items


def test_a_child_yields_what_this_process_would_in_order_with_progress(
    snapshot: Path, archive_days: Path, damaged_snapshot: Path
) -> None:
    positions: list[tuple[int, int]] = []
    assert list(read_in_child(kaggle.read_path, snapshot, lambda d, t: positions.append((d, t)))) == list(
        kaggle.read_path(snapshot)
    )
    size = snapshot.stat().st_size
    assert positions and positions[-1] == (size, size)
    assert list(read_in_child(hf_daily.read_path, archive_days)) == list(hf_daily.read_path(archive_days))
    from_child = list(read_in_child(kaggle.read_path, damaged_snapshot))
    assert from_child == list(kaggle.read_path(damaged_snapshot))
    assert len([i for i in from_child if not isinstance(i, Record)]) == 3


def test_small_inputs_stay_in_this_process_and_big_ones_go_to_a_child(snapshot: Path) -> None:
    size = snapshot.stat().st_size
    here = read_source(kaggle.read_path, snapshot, child_min_bytes=size + 1)
    assert here.gi_code.co_name == "read_path"  # type: ignore[attr-defined]
    never = read_source(kaggle.read_path, snapshot, child_min_bytes=-1)
    assert never.gi_code.co_name == "read_path"  # type: ignore[attr-defined]
    child = read_source(kaggle.read_path, snapshot, child_min_bytes=size)
    assert child.gi_code.co_name == "read_in_child"  # type: ignore[attr-defined]
    assert len(list(child)) == 200


# Readers that misbehave. Module-level, so the spawned child can import them by name.


def numbered(count: int) -> Iterator[Item]:
    for n in range(count):
        yield Record(Paper(id=f"doc-{n}", title=f"Document {n}"), where=f"test:{n}")


def read_then_fail(path: Path) -> Iterator[Item]:
    yield from numbered(3)
    raise OSError(f"disk gone while reading {path}")


def read_then_die(path: Path) -> Iterator[Item]:
    yield from numbered(1000)
    time.sleep(1)  # lets the child's queue thread hand both chunks over
    os.kill(os.getpid(), signal.SIGKILL)
    yield from numbered(10)


def read_with_flush(path: Path) -> Iterator[Item]:
    yield from numbered(2)
    yield FLUSH


def read_forever(path: Path) -> Iterator[Item]:
    for n in itertools.count():
        yield Record(Paper(id=f"doc-{n}", title="Endless"), where=f"test:{n}")


def test_an_exception_in_the_child_is_raised_here_after_its_items(tmp_path: Path) -> None:
    got: list[Item] = []
    with pytest.raises(OSError, match="disk gone while reading"):
        for item in read_in_child(read_then_fail, tmp_path):
            got.append(item)
    assert got == list(numbered(3))


def test_a_child_that_dies_ends_the_run_as_failed_keeping_what_landed(store: Store, tmp_path: Path) -> None:
    report = ingest(store, read_in_child(read_then_die, tmp_path), "test", str(tmp_path), batch_size=300)
    assert report.status == "failed"
    assert report.error is not None and "stopped unexpectedly" in report.error and "-9" in report.error
    assert report.new == 1000 and store.stats()["papers"] == 1000


def test_a_source_that_flushes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="FLUSH"):
        list(read_in_child(read_with_flush, tmp_path))


def test_closing_early_stops_the_child(tmp_path: Path) -> None:
    stream = read_in_child(read_forever, tmp_path)
    assert [next(stream) for _ in range(3)] == list(itertools.islice(read_forever(tmp_path), 3))
    assert multiprocessing.active_children()
    stream.close()
    assert multiprocessing.active_children() == []


def test_the_cli_reports_the_same_run_either_way(
    database_url: str, tmp_path: Path, damaged_snapshot: Path, store: Store
) -> None:
    """`paperboy ingest kaggle` with the child forced on, then off, on the same database: same report, then
    nothing new; the stored papers equal what parsing in-process gives."""
    env = dict(os.environ, PAPERBOY_DATABASE_URL=database_url, PAPERBOY_DATA_DIR=str(tmp_path / "data"))
    reports = []
    for child_min_bytes in ("0", "-1"):
        done = subprocess.run(
            [sys.executable, "-m", "paperboy.cli", "ingest", "kaggle", str(damaged_snapshot), "--json"],
            capture_output=True,
            text=True,
            env=env | {"PAPERBOY_INGEST_CHILD_MIN_BYTES": child_min_bytes},
            timeout=120,
        )
        assert done.returncode == 3, done.stderr  # partial: three lines skipped
        reports.append(json.loads(done.stdout))
    first, second = reports
    assert (first["seen"], first["new"], len(first["skipped"])) == (202, 199, 3)
    assert (second["new"], second["updated"], second["unchanged"]) == (0, 0, 199)
    assert first["skipped"] == second["skipped"]
    parsed = [i.paper for i in kaggle.read_path(damaged_snapshot) if isinstance(i, Record)]
    expected = [replace(p, upvotes=0, num_comments=0) for p in parsed]  # stored counts start at 0
    assert [store.get_paper(p.id) for p in parsed] == expected


def test_jsonl_reads_through_a_child_too(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"note-{n}", "title": f"Note {n}", "abstract": "Any corpus loads."}) for n in range(700)]
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert list(read_in_child(jsonl.read_path, path)) == list(jsonl.read_path(path))
