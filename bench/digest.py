"""Digest benchmark: plan + compose + send N subscribers (default 100k) with varied preferences to an SMTP sink in
another process; digests/s end to end and for plan+compose alone, peak memory, next to a naive baseline (one SMTP
connection per message) in the same run.

Run: `.venv/bin/python bench/digest.py [--subscribers N] [--baseline N]`. Papers are the real HF archive days from
../shared/data; subscribers and their preferences are generated here, from a fixed seed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import smtplib
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from paperboy.app import Paperboy  # noqa: E402
from paperboy.digest.compose import Composer  # noqa: E402
from paperboy.digest.periods import weekly  # noqa: E402
from paperboy.digest.plan import load_candidates, select  # noqa: E402
from paperboy.digest.run import plan  # noqa: E402
from paperboy.digest.send import Sender  # noqa: E402
from paperboy.digest.subscriptions import Preferences  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.sources import hf_daily  # noqa: E402
from paperboy.sources.base import ingest  # noqa: E402
from paperboy.store import digests as db  # noqa: E402

DAYS = ("2024-05-27", "2024-05-28", "2024-05-29", "2024-05-30", "2024-05-31")
NOW = datetime(2024, 6, 10, 12, tzinfo=UTC)
QUERIES = ["diffusion", "language model", "agent", "video", "reinforcement learning", "benchmark", "3D",
           "reasoning", "vision", "retrieval", "speech", "robot", "code", "math", "alignment"]  # fmt: skip
CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO"]


def sink_process(port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    """A minimal SMTP server (asyncio) that accepts everything: the receiving side must not be the bottleneck."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")  # the message in one call, not one per line
                writer.write(b"250 OK\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            elif verb == b"EHLO":
                writer.write(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, limit=1 << 22)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def seed(pb: Paperboy, shared: Path, count: int) -> None:
    for day in DAYS:
        path = shared / "hf_daily_papers" / "raw" / f"{day}.json"
        ingest(pb.store, hf_daily.read_path(path), hf_daily.NAME, str(path))
    rng = random.Random(7)
    rows = []
    for n in range(count):
        prefs = Preferences(
            trending=rng.choice([0, 3, 5, 10]),
            queries=tuple(rng.sample(QUERIES, rng.randint(0, 3))),
            exclude=tuple(rng.sample(QUERIES, rng.randint(0, 1))),
            categories=tuple(rng.sample(CATEGORIES, rng.randint(0, 2))),
            max_papers=rng.choice([5, 10, 20]),
        )
        rows.append(
            {
                "email": f"reader{n}@bench.example",
                "status": "confirmed",
                "frequency": "weekly",
                "send_hour": rng.randint(0, 23),
                "timezone": rng.choice(["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]),
                "preferences": prefs.to_json(),
                "created_at": NOW,
            }
        )
    for start in range(0, len(rows), 5000):
        with pb.store.write() as conn:
            db.insert_subscribers(conn, rows[start : start + 5000])


def plan_compose_only(pb: Paperboy, count: int) -> float:
    """Select + compose for every subscriber in memory (no database writes, no SMTP): digests/s."""
    period = weekly(date(2024, 5, 27))
    started = time.perf_counter()
    candidates = load_candidates(pb, period)
    composer = Composer(pb)
    after, done = 0, 0
    while True:
        with pb.store.read() as conn:
            rows = db.subscribers_to_plan(conn, "weekly", after, 2000)
        if not rows:
            break
        after = rows[-1]["id"]
        for row in rows:
            picks = select(candidates, Preferences.from_json(row["preferences"]), set())
            composer.digest(subscriber_id=row["id"], email=row["email"], message_id=f"<b{row['id']}@x>",
                            picks=picks, papers=candidates.papers, kind="weekly", first_day=period.first_day,
                            last_day=period.last_day, run_id=0)  # fmt: skip
            done += 1
    return done / (time.perf_counter() - started)


def naive_baseline(pb: Paperboy, port: int, count: int) -> float:
    """The same composed digest sent over one new SMTP connection per message, with no database at all (no plan,
    no outbox, no marks): an upper bound for the naive way, which has no crash safety either."""
    period = weekly(date(2024, 5, 27))
    candidates = load_candidates(pb, period)
    composer = Composer(pb)
    picks = select(candidates, Preferences(), set())
    started = time.perf_counter()
    for n in range(count):
        data = composer.digest(subscriber_id=n, email=f"naive{n}@bench.example", message_id=f"<n{n}@x>",
                               picks=picks, papers=candidates.papers, kind="weekly", first_day=period.first_day,
                               last_day=period.last_day, run_id=0)  # fmt: skip
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail("bench@paperboy.test", [f"naive{n}@bench.example"], data)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=2000, help="messages for the naive baseline")
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    shared = REPO.parent / "shared" / "data"
    port = 20000 + random.randint(0, 20000)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=sink_process, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(
            environ={}, data_dir=Path(tmp), database_url=args.database_url or None, smtp_url=f"smtp://127.0.0.1:{port}",
            mail_from="paperboy <digest@paperboy.test>", secret_key="bench", public_url="https://papers.example.org",
            digest_batch_size=200, digest_smtp_connections=4,
        )  # fmt: skip
        pb = Paperboy(settings)
        pb.store.migrate()
        seed(pb, shared, args.subscribers)
        pc_rate = plan_compose_only(pb, args.subscribers)
        # end to end, as `paperboy digest run` does it: plan (outbox rows), then drain the outbox over SMTP
        started, cpu = time.perf_counter(), time.process_time()
        run, plan_report = plan(pb, weekly(date(2024, 5, 27)), clock=lambda: NOW)
        plan_seconds = time.perf_counter() - started
        Sender(pb, respect_due=False, clock=lambda: NOW).drain(run["id"])
        e2e_seconds, e2e_cpu = time.perf_counter() - started, time.process_time() - cpu
        sent = db.run_counts(pb.store, run["id"])["sent"]
        naive_rate = naive_baseline(pb, port, min(args.baseline, args.subscribers))
        pb.close()
    sink.terminate()
    sink.join()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sink_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    print(f"\ndigest benchmark: {args.subscribers} subscribers, {settings.resolved_database_url.split(':')[0]}, "
          f"{settings.digest_smtp_connections} SMTP connections, batches of {settings.digest_batch_size}, "
          f"{os.cpu_count()} cores, load average {load:.1f}")  # fmt: skip
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| digests sent (planned, empty skipped) | {sent} ({plan_report.planned}, {plan_report.empty}) |")
    print(f"| end to end (plan + compose + send, outbox) | {sent / e2e_seconds:,.0f} digests/s ({e2e_seconds:.1f} s) |")
    print(f"| of which planning (outbox + history rows) | {plan_seconds:.1f} s |")
    send_rate = sent / max(e2e_seconds - plan_seconds, 1e-9)
    print(f"| send alone (drain the outbox: claim, compose, SMTP, mark) | {send_rate:,.0f} digests/s |")
    print(f"| sender CPU per digest (this process) | {1000 * e2e_cpu / max(sent, 1):.2f} ms |")
    print(f"| sink CPU, whole run incl. baseline (other process) | {sink_cpu.ru_utime + sink_cpu.ru_stime:.1f} s |")
    print(f"| plan + compose alone (in memory) | {pc_rate:,.0f} digests/s |")
    print(f"| naive baseline (one SMTP connection per message) | {naive_rate:,.0f} digests/s |")
    print(f"| peak memory (RSS) | {peak_mb:,.0f} MB |")


if __name__ == "__main__":
    main()
