"""`paperboy index`, `paperboy search` (one query as JSON, a BEIR batch as a TREC run) and `paperboy similar`, run as
real subprocesses on SciFact documents ingested through the jsonl source. Lexical only (`--no-embed`): the
embedding path is covered in test_hybrid.py without paying for a model load per process."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

PAPERBOY = [sys.executable, "-m", "paperboy.cli"]
TREC_LINE = re.compile(r"^(\S+) Q0 (\S+) (\d+) (-?\d+\.\d+) paperboy$")


def run(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PAPERBOY_DATABASE_URL=database_url, PAPERBOY_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run(PAPERBOY + args, capture_output=True, text=True, env=env, timeout=300)


def ingest_scifact(shared_data: Path, database_url: str, tmp_path: Path, count: int = 200) -> list[dict[str, str]]:
    docs = []
    with gzip.open(shared_data / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            docs.append({"id": raw["_id"], "title": raw["title"], "abstract": raw["text"]})
            if len(docs) == count:
                break
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs))
    done = run(["ingest", "jsonl", str(source), "--json"], database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    return docs


def test_index_then_search_json(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    docs = ingest_scifact(shared_data, database_url, tmp_path)
    done = run(["index", "--no-embed", "--json"], database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["lexical"] == {"indexed": len(docs), "removed": 0, "rebuilt": True}
    assert report["semantic"] == {"embedded": 0, "total": len(docs)}
    target = docs[17]
    found = run(["search", target["title"], "--limit", "3", "--json"], database_url, tmp_path)
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert data["semantic"] is False and data["semantic_index"] == {"embedded": 0, "total": len(docs)}
    assert len(data["results"]) == 3 and data["results"][0]["id"] == target["id"]
    first = data["results"][0]
    assert {"id", "score", "title", "authors", "highlightedTitle", "highlightedSummary"} <= first.keys()
    assert "<mark>" in first["highlightedTitle"]
    rebuilt = json.loads(run(["index", "--rebuild", "--no-embed", "--json"], database_url, tmp_path).stdout)
    assert rebuilt["lexical"]["rebuilt"] is True


def test_batch_search_writes_a_trec_run_and_reports_bad_lines(
    database_url: str, tmp_path: Path, shared_data: Path
) -> None:
    docs = ingest_scifact(shared_data, database_url, tmp_path)
    queries = tmp_path / "queries.jsonl"
    lines = [
        json.dumps({"_id": "q1", "text": docs[3]["title"]}),
        json.dumps({"_id": "q2", "text": docs[50]["title"], "metadata": {}}),
        "{not json",
        json.dumps({"_id": "q3", "text": "author:"}),
        json.dumps({"_id": "q4"}),
    ]
    queries.write_text("\n".join(lines) + "\n")
    done = run(["search", "--batch", str(queries), "--limit", "5", "--format", "trec"], database_url, tmp_path)
    assert done.returncode == 3, done.stderr  # partial: three lines skipped, each reported with its line number
    for number in (3, 4, 5):
        assert f"{queries}:{number}" in done.stderr
    rows = [TREC_LINE.match(line) for line in done.stdout.splitlines()]
    assert rows and all(rows)
    by_query: dict[str, list[tuple[str, int, float]]] = {}
    for match in rows:
        assert match is not None
        by_query.setdefault(match[1], []).append((match[2], int(match[3]), float(match[4])))
    assert set(by_query) == {"q1", "q2"}
    assert by_query["q1"][0][0] == docs[3]["id"] and by_query["q2"][0][0] == docs[50]["id"]
    for ranked in by_query.values():
        assert [rank for _, rank, _ in ranked] == list(range(1, len(ranked) + 1)) and len(ranked) == 5
        scores = [score for _, _, score in ranked]
        assert scores == sorted(scores, reverse=True)


def test_bad_single_query_exits_2_with_a_message(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    ingest_scifact(shared_data, database_url, tmp_path, count=20)
    done = run(["search", "author:"], database_url, tmp_path)
    assert done.returncode == 2 and "author: needs a value" in done.stderr
    assert run(["search"], database_url, tmp_path).returncode == 2


def test_similar_json(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    docs = ingest_scifact(shared_data, database_url, tmp_path, count=50)
    done = run(["similar", docs[0]["id"], "--limit", "4", "--json"], database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["id"] == docs[0]["id"] and len(data["similar"]) <= 4
    assert docs[0]["id"] not in [item["id"] for item in data["similar"]]
    assert run(["similar", "no-such-id"], database_url, tmp_path).returncode == 1
