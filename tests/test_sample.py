"""The bundled sample is what scripts/build_sample.py derives from the real archive, and it loads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from paperboy.cli import SAMPLE
from paperboy.sources import jsonl
from paperboy.sources.base import ingest
from paperboy.store import Store

REPO = Path(__file__).resolve().parent.parent


def test_committed_sample_is_current(tmp_path: Path, shared_data: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_sample", REPO / "scripts" / "build_sample.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "sample.jsonl.gz")
    assert (tmp_path / "sample.jsonl.gz").read_bytes() == SAMPLE.read_bytes(), "run `make sample` and commit"


def test_sample_loads_with_real_upvotes_and_days(store: Store) -> None:
    report = ingest(store, jsonl.read_path(SAMPLE), "sample", str(SAMPLE))
    assert report.skipped == []
    stats = store.stats()
    assert stats["papers"] >= 2000 and stats["days"] >= 60
    day = store.latest_day()
    assert day is not None
    listed = store.daily_list(day)
    assert listed and listed[0].paper.upvotes >= listed[-1].paper.upvotes > -1
    assert any(lp.paper.upvotes > 0 for lp in listed)
