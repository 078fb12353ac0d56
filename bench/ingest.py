"""Ingest throughput and peak memory: `kaggle` and `hf-daily` sources into SQLite and PostgreSQL.

Run: `.venv/bin/python bench/ingest.py [--records 1000000] [--skip-postgres]` (or `make bench`).

The data is generated from the real records in ../shared/data by rewriting their ids (and, for hf-daily, spreading
them over generated days), so text lengths, author lists and field mixes are real. Each measurement runs in its own
process so its peak memory (ru_maxrss) is its own. The baseline in the same run is merely parsing the same file
through the same source without a store: the distance between the two rows is the cost of the store.

Target (issue 2): >= 5,000 papers/s into SQLite at 1M records, under 300 MB peak memory.
`paperboy ingest` parses big files in a reader process (paperboy/sources/child.py); both ways are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "bench" / "out"
PG_ADMIN = os.environ.get("PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HF_ITEMS_PER_DAY = 1000


def synthetic_id(n: int) -> str:
    """A valid new-style arXiv id for record number n: 100k ids a month from 2001 on."""
    block, number = divmod(n, 100_000)
    year, month = divmod(block, 12)
    return f"{20 + year:02d}{month + 1:02d}.{number:05d}"


def make_kaggle(records: int) -> Path:
    path = OUT / f"kaggle-{records}.jsonl"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    real = [
        json.loads(line)
        for line in (SHARED / "arxiv_kaggle_snapshot" / "arxiv-metadata-oai-snapshot.head.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    ]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as out:
        for n in range(records):
            record = dict(real[n % len(real)])
            record["id"] = synthetic_id(n)
            out.write(json.dumps(record) + "\n")
    tmp.rename(path)
    return path


def make_hf(records: int) -> Path:
    folder = OUT / f"hf-daily-{records}"
    if folder.exists():
        return folder
    sys.path.insert(0, str(REPO))
    raw = SHARED / "hf_daily_papers" / "raw"
    real: list[dict] = []
    for file in sorted(raw.glob("*.json"))[-60:]:
        data = json.loads(file.read_text())
        real.extend(item for item in data if isinstance(item, dict))
    tmp = folder.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    day = date(2001, 1, 1)
    for start in range(0, records, HF_ITEMS_PER_DAY):
        items = []
        for n in range(start, min(records, start + HF_ITEMS_PER_DAY)):
            item = json.loads(json.dumps(real[n % len(real)]))
            item["paper"]["id"] = synthetic_id(n)
            items.append(item)
        (tmp / f"{day.isoformat()}.json").write_text(json.dumps(items))
        day += timedelta(days=1)
    tmp.rename(folder)
    return folder


def worker(source: str, target: str, path: str, reader: str) -> None:
    """One measurement, in this process: prints {seconds, papers, peak_mb}. ``reader`` is ``here`` (parse in this
    process) or ``child`` (parse in a child process while this one writes, as `paperboy ingest` does for big
    files); peak memory is then the sum of both processes' peaks."""
    sys.path.insert(0, str(REPO))
    from paperboy.sources import hf_daily, kaggle
    from paperboy.sources.base import ingest
    from paperboy.sources.child import read_source
    from paperboy.store import Store

    read = {"kaggle": kaggle.read_path, "hf-daily": hf_daily.read_path}[source]
    child_min_bytes = 0 if reader == "child" else -1
    started = time.perf_counter()
    if target == "parse":
        papers = sum(1 for _ in read(Path(path)))
    else:
        store = Store(target)
        store.migrate()
        started = time.perf_counter()
        items = read_source(read, Path(path), child_min_bytes=child_min_bytes)
        report = ingest(store, items, source, path, batch_size=2000)
        papers = report.new + report.updated + report.unchanged
        store.close()
    seconds = time.perf_counter() - started
    peak_kb = sum(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({"seconds": seconds, "papers": papers, "peak_mb": peak_kb / 1024}))


def measure(source: str, target: str, path: Path, reader: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", source, target, str(path), reader],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"measurement {source} -> {target} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgres_database() -> tuple[str, object] | None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"paperboy_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}); skipping its rows", file=sys.stderr)
        return None
    return sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), admin


def drop_postgres(url: str, admin: object) -> None:
    import sqlalchemy as sa

    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--sources", default="kaggle,hf-daily")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--worker", nargs=4, metavar=("SOURCE", "TARGET", "PATH", "READER"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    rows = []
    for source in args.sources.split(","):
        print(f"generating {args.records:,} {source} records ...", file=sys.stderr)
        path = make_kaggle(args.records) if source == "kaggle" else make_hf(args.records)
        targets: list[tuple[str, str, str]] = [("parse only (baseline)", "parse", "here")]
        db_file = OUT / f"bench-{source}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        targets.append(("SQLite, one process", f"sqlite:///{db_file}", "here"))
        targets.append(("SQLite, reader process", f"sqlite:///{db_file}", "child"))
        pg = None if args.skip_postgres else postgres_database()
        if pg:
            targets.append(("PostgreSQL, reader proc", pg[0], "child"))
        for label, target, reader in targets:
            for suffix in ("", "-wal", "-shm"):  # every SQLite row starts from an empty database
                Path(f"{db_file}{suffix}").unlink(missing_ok=True)
            print(f"  {source} -> {label} ...", file=sys.stderr)
            result = measure(source, target, path, reader)
            rows.append((source, label, result))
        if pg:
            drop_postgres(*pg)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)

    print(f"\ningest benchmark: {args.records:,} records per source, {os.cpu_count()} cores")
    print(f"{'source':<10} {'into':<24} {'papers':>10} {'seconds':>9} {'papers/s':>10} {'peak MB':>9}")
    for source, label, r in rows:
        rate = r["papers"] / r["seconds"] if r["seconds"] else 0
        print(f"{source:<10} {label:<24} {r['papers']:>10,} {r['seconds']:>9.1f} {rate:>10,.0f} {r['peak_mb']:>9.0f}")
    print("target: >= 5,000 papers/s into SQLite at 1M records, < 300 MB peak (with a reader process: both)")
    print("`paperboy ingest` reads files of ingest_child_min_bytes (32 MB) and more with a reader process")


if __name__ == "__main__":
    main()
