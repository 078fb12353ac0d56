"""The CLI contracts that scripts and later checks rely on, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PAPERBOY = [sys.executable, "-m", "paperboy.cli"]


def run(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PAPERBOY_DATABASE_URL=database_url, PAPERBOY_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run(PAPERBOY + args, capture_output=True, text=True, env=env, timeout=300)


def test_init_ingest_stats_json_contracts(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    assert run(["init"], database_url, tmp_path).returncode == 0
    folder = tmp_path / "few"
    folder.mkdir()
    for name in ("2026-08-20.json", "2026-08-21.json"):
        (folder / name).write_bytes((shared_data / "hf_daily_papers" / "raw" / name).read_bytes())
    expected = sum(len(json.loads((folder / n).read_text())) for n in ("2026-08-20.json", "2026-08-21.json"))
    done = run(["ingest", "hf-daily", str(folder), "--json"], database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"seen", "new", "updated", "unchanged", "skipped"} <= report.keys()
    assert (report["seen"], report["new"], report["skipped"]) == (expected, expected, [])
    again = json.loads(run(["ingest", "hf-daily", str(folder), "--json"], database_url, tmp_path).stdout)
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, expected)
    stats = json.loads(run(["stats", "--json"], database_url, tmp_path).stdout)
    assert stats["papers"] == expected and stats["daily_entries"] == expected


def test_partial_run_exits_3_and_lists_what_was_skipped(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "2026-01-01.json"
    bad.write_text('[{"paper": {"id": "2601.00001", "title": "Good"}}, {"paper": {"id": "2601.00002"}}]')
    done = run(["ingest", "hf-daily", str(bad), "--json"], database_url, tmp_path)
    assert done.returncode == 3
    report = json.loads(done.stdout)
    assert report["status"] == "partial" and report["new"] == 1
    assert report["skipped"] == [{"where": f"{bad}[1]", "reason": "missing title"}]


def test_a_bad_setting_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, PAPERBOY_PORT="eighty", PAPERBOY_DATA_DIR=str(tmp_path))
    done = subprocess.run([*PAPERBOY, "stats"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "PAPERBOY_PORT" in done.stderr and "Traceback" not in done.stderr


def test_human_report_shows_where_verbatim_without_wrapping(database_url: str, tmp_path: Path) -> None:
    deep = tmp_path / ("a-long-folder-name-" * 6)
    deep.mkdir()
    bad = deep / "2026-01-01.json"
    bad.write_text('[{"paper": {"id": "2601.00001", "title": "Good"}}, {"paper": {"id": "2601.00002"}}]')
    done = run(["ingest", "hf-daily", str(bad)], database_url, tmp_path)
    assert done.returncode == 3
    assert f"skipped {bad}[1]: missing title" in done.stderr  # "[1]" is not eaten as markup, the path not wrapped
