"""The hf-daily source against the real archive in ../shared/data/hf_daily_papers/raw."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.domain import Record, Skip
from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from paperboy.store import Store


def test_whole_archive_lands_and_second_run_changes_nothing(store: Store, shared_data: Path) -> None:
    raw = shared_data / "hf_daily_papers" / "raw"
    first = ingest(store, hf_daily.read_path(raw), hf_daily.NAME, str(raw))
    assert first.skipped == []
    assert (first.seen, first.new) == (9881, 9877)
    assert store.stats()["papers"] == 9877
    assert store.stats()["daily_entries"] == 9881
    second = ingest(store, hf_daily.read_path(raw), hf_daily.NAME, str(raw))
    assert (second.new, second.updated, second.unchanged) == (0, 0, 9881)
    assert store.stats()["daily_entries"] == 9881


def test_repr_string_files_and_the_object_wrapper_decode(store: Store, shared_data: Path) -> None:
    raw = shared_data / "hf_daily_papers" / "raw"
    for name in ("2024-12-11.json", "2025-01-10.json"):
        report = ingest(store, hf_daily.read_path(raw / name), hf_daily.NAME, name)
        expected = json.loads((raw / name).read_text())
        items = expected["data"] if isinstance(expected, dict) else expected
        assert report.skipped == [] and report.new == len(items) > 0
    listed = store.daily_list(date(2025, 1, 10))
    assert len(listed) == 9
    assert all(lp.entry.day == date(2025, 1, 10) for lp in listed)


def test_fields_kept_from_a_real_item(store: Store, shared_data: Path) -> None:
    path = shared_data / "hf_daily_papers" / "raw" / "2026-08-21.json"
    item = json.loads(path.read_text())[0]
    ingest(store, hf_daily.read_path(path), hf_daily.NAME, str(path))
    paper = store.get_paper(item["paper"]["id"])
    assert paper is not None
    assert paper.title == item["paper"]["title"]
    assert paper.upvotes == item["paper"]["upvotes"]
    assert paper.num_comments == item["numComments"]
    assert paper.links.get("code") == item["paper"].get("githubRepo")
    assert paper.github_stars == item["paper"].get("githubStars")
    assert paper.ai_summary == item["paper"]["ai_summary"]
    assert paper.ai_keywords == item["paper"]["ai_keywords"]
    assert paper.authors == [a["name"] for a in item["paper"]["authors"]]
    entry = store.entries_for([paper.id])[paper.id]
    assert [e.day for e in entry] == [date(2026, 8, 21)]
    assert entry[0].submitted_by == item["submittedBy"]["name"]


def test_a_later_snapshot_replaces_counts_an_earlier_one_does_not(store: Store, tmp_path: Path) -> None:
    def write(day: str, upvotes: int) -> Path:
        item = {
            "paper": {"id": "2401.00001", "title": "T", "summary": "S", "authors": [], "upvotes": upvotes},
            "numComments": 0,
        }
        path = tmp_path / f"{day}.json"
        path.write_text(json.dumps([item]))
        return path

    ingest(store, hf_daily.read_path(write("2024-01-02", 10)), hf_daily.NAME, "x")
    ingest(store, hf_daily.read_path(write("2024-01-01", 3)), hf_daily.NAME, "x")
    paper = store.get_paper("2401.00001")
    assert paper is not None and paper.upvotes == 10
    ingest(store, hf_daily.read_path(write("2024-01-05", 42)), hf_daily.NAME, "x")
    paper = store.get_paper("2401.00001")
    assert paper is not None and paper.upvotes == 42
    assert len(store.entries_for(["2401.00001"])["2401.00001"]) == 3


def test_bad_files_are_skipped_with_reasons_and_the_rest_lands(store: Store, tmp_path: Path, shared_data: Path) -> None:
    good = (shared_data / "hf_daily_papers" / "raw" / "2026-08-21.json").read_bytes()
    (tmp_path / "2026-08-21.json").write_bytes(good)
    (tmp_path / "2026-08-20.json").write_bytes(good[: len(good) // 2])  # truncated
    (tmp_path / "2026-08-19.json").write_bytes(b"<!DOCTYPE html><html>502 Bad Gateway</html>")
    (tmp_path / "2026-02-30.json").write_bytes(good)  # impossible date
    (tmp_path / "2026-08-18.json").write_bytes("[]".encode("utf-16"))  # unknown encoding
    items = json.loads(good)
    bad = [
        items[0],
        items[0],
        {"paper": {"id": "2608.00001", "title": ""}},
        {"paper": "nope"},
        {"paper": {"id": "2608.00002", "title": "ok", "publishedAt": "2026-13-45T00:00:00Z"}},
        {"paper": {"id": "2608.00003", "title": "ok", "upvotes": "many"}},
    ]
    (tmp_path / "2026-08-17.json").write_text(json.dumps(bad))
    report = ingest(store, hf_daily.read_path(tmp_path), hf_daily.NAME, str(tmp_path))
    reasons = {
        Path(s.where.split("[")[0]).name + ("[" + s.where.split("[")[1] if "[" in s.where else ""): s.reason
        for s in report.skipped
    }
    assert report.status == "partial"
    assert "truncated" in reasons["2026-08-20.json"]
    assert "HTML" in reasons["2026-08-19.json"]
    assert "not a date" in reasons["2026-02-30.json"]
    assert "UTF-8" in reasons["2026-08-18.json"]
    assert "duplicate id" in reasons["2026-08-17.json[1]"]
    assert reasons["2026-08-17.json[2]"] == "missing title"
    assert "no 'paper' object" in reasons["2026-08-17.json[3]"]
    assert "impossible date" in reasons["2026-08-17.json[4]"]
    assert "not a count" in reasons["2026-08-17.json[5]"]
    assert len(report.skipped) == 9
    assert store.stats()["papers"] == len(items)  # the good file, plus nothing half-written


RAW_FILE = "2024-12-11.json"  # a repr-string file: exercises the literal_eval path too


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    items = list(hf_daily.read_response(data, date(2026, 1, 1), "fuzz", datetime(2026, 1, 1, tzinfo=UTC)))
    assert all(isinstance(i, Record | Skip) for i in items)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0), noise=st.binary(min_size=1, max_size=8), which=st.sampled_from([0, 1]))
def test_mutated_real_responses_never_crash_the_parser(shared_data: Path, cut: int, noise: bytes, which: int) -> None:
    name = [RAW_FILE, "2026-08-21.json"][which]
    body = (shared_data / "hf_daily_papers" / "raw" / name).read_bytes()
    position = cut % len(body)
    mutated = body[:position] + noise + body[position + len(noise) :]
    items = list(hf_daily.read_response(mutated, date(2026, 1, 1), "fuzz", datetime(2026, 1, 1, tzinfo=UTC)))
    assert all(isinstance(i, Record | Skip) for i in items)
