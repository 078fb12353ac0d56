"""`paperboy export`: exact round trips through the jsonl source, on the real HF archive and Kaggle sample."""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.domain import DailyEntry, Paper, Version
from paperboy.export import paper_to_json, write_jsonl
from paperboy.sources import hf_daily, jsonl, kaggle
from paperboy.sources.base import ingest
from paperboy.store import Store
from tests.conftest import POSTGRES_ADMIN_URL, REPO


@pytest.fixture
def second_store(tmp_path: Path, postgres_url: str | None) -> Iterator[Store]:
    """Another empty, migrated store on the same kind of database as ``store``."""
    if postgres_url is None:
        other = Store(f"sqlite:///{tmp_path / 'second.db'}")
        other.migrate()
        yield other
        other.close()
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"paperboy_export_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    other = Store(sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    other.migrate()
    yield other
    other.close()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def export_text(store: Store) -> tuple[int, str]:
    out = io.StringIO()
    count = write_jsonl(store, out)
    return count, out.getvalue()


def test_export_then_import_into_an_empty_store_then_export_is_identical(
    store: Store, second_store: Store, shared_data: Path, tmp_path: Path
) -> None:
    raw = shared_data / "hf_daily_papers" / "raw"
    snapshot = shared_data / "arxiv_kaggle_snapshot" / "arxiv-metadata-oai-snapshot.head.jsonl"
    assert ingest(store, hf_daily.read_path(raw), hf_daily.NAME, str(raw)).skipped == []
    assert ingest(store, kaggle.read_path(snapshot), kaggle.NAME, str(snapshot)).skipped == []
    papers, entries = store.stats()["papers"], store.stats()["daily_entries"]
    count, first = export_text(store)
    assert count == papers == 9877 + 200
    lines = first.splitlines()
    assert len(lines) == count
    assert sum(len(json.loads(line)["daily"]) for line in lines) == entries
    path = tmp_path / "export.jsonl"
    path.write_text(first, encoding="utf-8")

    report = ingest(second_store, jsonl.read_path(path), jsonl.NAME, str(path))
    assert report.skipped == [] and report.new == papers
    assert second_store.stats() == store.stats()
    assert export_text(second_store) == (count, first)

    again = ingest(store, jsonl.read_path(path), jsonl.NAME, str(path))
    assert (again.new, again.updated, again.unchanged) == (0, 0, entries + 200)


def test_a_kaggle_paper_as_json(store: Store, shared_data: Path) -> None:
    snapshot = shared_data / "arxiv_kaggle_snapshot" / "arxiv-metadata-oai-snapshot.head.jsonl"
    ingest(store, kaggle.read_path(snapshot), kaggle.NAME, str(snapshot))
    raw = json.loads(snapshot.read_text(encoding="utf-8").splitlines()[0])
    line = json.loads(export_text(store)[1].splitlines()[0])
    assert line["id"] == raw["id"] == "0704.0001"
    assert line["doi"] == raw["doi"] and line["links"] == {"doi": f"https://doi.org/{raw['doi']}"}
    assert line["categories"] == raw["categories"].split()
    assert line["versions"] == [
        {"version": 1, "created_at": "2007-04-02T19:18:42Z"},  # Mon, 2 Apr 2007 19:18:42 GMT
        {"version": 2, "created_at": "2007-07-24T20:10:27Z"},  # Tue, 24 Jul 2007 20:10:27 GMT
    ]
    assert [v["created"] for v in raw["versions"]] == ["Mon, 2 Apr 2007 19:18:42 GMT", "Tue, 24 Jul 2007 20:10:27 GMT"]
    assert line["published_at"] == "2007-04-02T19:18:42Z" and line["updated_at"] == "2007-07-24T20:10:27Z"
    assert line["daily"] == []


def test_paper_to_json_writes_every_field() -> None:
    paper = Paper(
        id="2401.00001",
        title="T",
        abstract="A",
        authors=["Ada"],
        categories=["cs.CL"],
        published_at=datetime(2024, 1, 1, 8, 0, 0, 123000, tzinfo=UTC),
        versions=[Version(1, datetime(2024, 1, 1, 8, tzinfo=UTC)), Version(2)],
        links={"project": "https://p.example", "code": "https://c.example"},
        github_stars=3,
        ai_keywords=["k"],
        upvotes=5,
        num_comments=1,
        counts_as_of=datetime(2024, 1, 2, tzinfo=UTC),
    )
    entries = [DailyEntry("2401.00001", date(2024, 1, 2), "ada", datetime(2024, 1, 2, 9, 30, tzinfo=UTC))]
    data = paper_to_json(paper, entries)
    assert data["published_at"] == "2024-01-01T08:00:00.123000Z"
    assert data["updated_at"] is None
    assert data["versions"] == [
        {"version": 1, "created_at": "2024-01-01T08:00:00Z"},
        {"version": 2, "created_at": None},
    ]
    assert list(data["links"]) == ["code", "project"]
    assert data["daily"] == [{"day": "2024-01-02", "submitted_by": "ada", "submitted_at": "2024-01-02T09:30:00Z"}]
    assert (data["upvotes"], data["num_comments"], data["github_stars"]) == (5, 1, 3)
    assert set(data) == {name for name in Paper.__dataclass_fields__} | {"daily"}


def test_every_exported_key_is_documented() -> None:
    doc = (REPO / "docs" / "jsonl-format.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.MULTILINE))
    exported = set(paper_to_json(Paper(id="x", title="t"), []))
    assert exported <= documented
    for block in re.findall(r"```json\n(.*?)\n```", doc, flags=re.DOTALL):
        assert isinstance(json.loads(block), dict)


def test_the_export_command_writes_the_same_lines(
    store: Store, database_url: str, shared_data: Path, tmp_path: Path
) -> None:
    raw = shared_data / "hf_daily_papers" / "raw" / "2026-08-21.json"
    ingest(store, hf_daily.read_path(raw), hf_daily.NAME, str(raw))
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["export", "--database-url", database_url, "--output", str(out)])
    assert result.exit_code == 0, result.output
    count, text = export_text(store)
    assert out.read_text(encoding="utf-8") == text and count > 0
