"""Web benchmark: requests/s and p50/p99 latency of the home page, a paper page and the search API at 100k papers,
50 concurrent clients, next to a static file served by the same server in the same run.

Run it when the web stack or the page cache changes: ``.venv/bin/python bench/web.py`` (``--papers``,
``--seconds``). It builds a 100k-paper SQLite store from the real Hugging Face archive in ../shared/data (each real
record copied with a rewritten id and its list day moved back by whole multiples of the archive's span, so every copy
keeps the real text, authors and counts), builds the search index, starts ``paperboy serve`` as a subprocess and
drives it from another process: ``wrk`` when installed (Debian package ``wrk``), else an async httpx load
generator. Target: home and paper pages >= 1,000 requests/s with p99 <= 100 ms on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
ARCHIVE = REPO.parent / "shared" / "data" / "hf_daily_papers" / "raw"
sys.path.insert(0, str(REPO))

from paperboy.app import Paperboy  # noqa: E402
from paperboy.domain import DailyEntry, Record  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.sources import hf_daily  # noqa: E402


def build_store(data_dir: Path, target: int) -> tuple[int, str]:
    """A store of ``target`` papers from copies of the real archive; returns (papers, an id of the latest list)."""
    records = [item for item in hf_daily.read_path(ARCHIVE) if isinstance(item, Record) and item.entry is not None]
    days = [r.entry.day for r in records if r.entry]
    span = (max(days) - min(days)).days + 1
    pb = Paperboy(Settings.load(environ={}, data_dir=data_dir, embed_in_background=False))
    pb.store.migrate()
    made, copy, batch = 0, 0, []
    while made < target:
        for record in records:
            if made >= target:
                break
            assert record.entry is not None
            pid = record.paper.id if copy == 0 else f"{record.paper.id}.c{copy}"
            entry = DailyEntry(
                pid,
                record.entry.day - timedelta(days=span * copy),
                record.entry.submitted_by,
                record.entry.submitted_at and record.entry.submitted_at - timedelta(days=span * copy),
            )
            batch.append(Record(replace(record.paper, id=pid), record.where, entry))
            made += 1
            if len(batch) >= 2000:
                pb.store.apply_batch(batch)
                batch = []
        copy += 1
    if batch:
        pb.store.apply_batch(batch)
    latest = pb.store.latest_day()
    assert latest is not None
    paper_id = pb.store.daily_list(latest, limit=1)[0].paper.id
    count = pb.store.count_papers()
    started = time.monotonic()
    pb.search.search("transformer", limit=5, semantic=False)  # builds the lexical index
    print(f"store: {count:,} papers; lexical index built in {time.monotonic() - started:.1f} s", file=sys.stderr)
    pb.close()
    return count, paper_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(url: str, seconds: int, clients: int) -> tuple[float, float, float]:
    """requests/s, p50 ms, p99 ms as wrk measures them."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"{url} answered errors:\n{out}")
    return rps, percentile("50"), percentile("99")


async def _httpx_load(url: str, seconds: int, clients: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, cuts[49], cuts[98]


def load(url: str, seconds: int, clients: int) -> tuple[float, float, float]:
    if shutil.which("wrk"):
        return wrk(url, seconds, clients)
    return asyncio.run(_httpx_load(url, seconds, clients))  # same process as nothing else: the server is a subprocess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-web-") as tmp:
        data_dir = Path(tmp)
        count, paper_id = build_store(data_dir, args.papers)
        port = free_port()
        env = os.environ | {"PAPERBOY_DATA_DIR": str(data_dir), "PAPERBOY_EMBED_IN_BACKGROUND": "false"}
        server = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "paperboy"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            targets = [
                ("static file (baseline)", "/static/style.css"),
                ("home page", "/"),
                ("paper page", f"/papers/{paper_id}"),
                ("search API", "/api/papers/search?q=diffusion+transformer&limit=20"),
            ]
            tool = "wrk" if shutil.which("wrk") else "httpx"
            print(
                f"\n{count:,} papers, {args.clients} concurrent clients, {args.seconds} s each ({tool}), "
                f"{os.cpu_count()} cores shared by server and load generator\n"
            )
            print(f"| {'target':<24} | {'requests/s':>10} | {'p50 ms':>7} | {'p99 ms':>7} |")
            print(f"| {'-' * 24} | {'-' * 10}:| {'-' * 6}:| {'-' * 6}:|")
            for name, path in targets:
                httpx.get(base + path, timeout=60).raise_for_status()  # warm: first render, index open
                rps, p50, p99 = load(base + path, args.seconds, args.clients)
                print(f"| {name:<24} | {rps:>10,.0f} | {p50:>7.1f} | {p99:>7.1f} |", flush=True)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
