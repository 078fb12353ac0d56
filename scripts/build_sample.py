"""Build the bundled sample, paperboy/sample/hf-daily-sample.jsonl.gz, from ../shared/data/hf_daily_papers.

Run with `make sample` when the archive grows. It ingests the whole real archive into a throwaway SQLite store
through the `hf-daily` source, keeps the most recent days until at least MIN_PAPERS papers are covered (with their
real upvotes, comment counts and days), and writes them in paperboy's JSONL export format, gzipped
deterministically so an unchanged archive gives a byte-identical file.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from paperboy.export import paper_to_json  # noqa: E402
from paperboy.sources import hf_daily  # noqa: E402
from paperboy.sources.base import ingest  # noqa: E402
from paperboy.store import Store  # noqa: E402

ARCHIVE = REPO.parent / "shared" / "data" / "hf_daily_papers" / "raw"
OUTPUT = REPO / "paperboy" / "sample" / "hf-daily-sample.jsonl.gz"
MIN_PAPERS = 2000


def main(output: Path = OUTPUT) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/sample.db")
        store.migrate()
        report = ingest(store, hf_daily.read_path(ARCHIVE), hf_daily.NAME, str(ARCHIVE))
        if report.skipped:
            raise SystemExit(f"the archive has skipped records: {report.skipped[:3]}")
        chosen: set[str] = set()
        last_day = day = store.latest_day()
        first_day = day
        while day is not None and len(chosen) < MIN_PAPERS:
            chosen.update(lp.paper.id for lp in store.daily_list(day))
            first_day = day
            day = store.neighbour_days(day)[0]
        papers = store.get_papers(sorted(chosen))
        entries = store.entries_for(sorted(chosen))
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
            for pid in sorted(chosen):
                line = json.dumps(paper_to_json(papers[pid], entries.get(pid, [])), ensure_ascii=False)
                out.write(line.encode("utf-8") + b"\n")
        store.close()
    print(f"wrote {len(chosen)} papers listed {first_day}..{last_day} to {output}")


if __name__ == "__main__":
    main()
