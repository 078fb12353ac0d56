"""Kill `paperboy digest run` with SIGKILL at random moments, restart it, and check at the SMTP server that every
confirmed subscriber got exactly one digest: no duplicates, no gaps.

SMTP cannot be exactly-once: between the server accepting a message and the sender's commit that marks its row
sent there is a window (kept to one small UPDATE) where a crash means a resend. The test kills at random moments
everywhere else: during start-up, planning, claiming, composing and in the middle of SMTP sessions; before each
kill it waits until the database has caught up with the server (one connection, so at most one message is in
flight), which closes that window and nothing else."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from paperboy.app import Paperboy
from paperboy.digest import subscriptions
from paperboy.digest.run import status
from paperboy.settings import Settings
from paperboy.store.schema import digest_outbox
from tests.digest.sink import Sink, running_sink
from tests.web.conftest import load_days

SUBSCRIBERS = 50
KILLS = 22
PAPERBOY = [sys.executable, "-c", "from paperboy.cli import main; main()"]


def env_for(settings: Settings, smtp_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update(
        PAPERBOY_DATABASE_URL=settings.resolved_database_url,
        PAPERBOY_DATA_DIR=str(settings.data_dir),
        PAPERBOY_SMTP_URL=smtp_url,
        PAPERBOY_SECRET_KEY="crash-test",
        PAPERBOY_MAIL_FROM="digest@paperboy.test",
        PAPERBOY_DIGEST_BATCH_SIZE="3",
        PAPERBOY_DIGEST_SMTP_CONNECTIONS="1",
        PAPERBOY_DIGEST_RETRY_SECONDS="0",
    )
    return env


def seed(settings: Settings, shared_data: Path, count: int) -> Paperboy:
    pb = Paperboy(settings.replace(secret_key="crash-test"))
    pb.store.migrate()
    load_days(pb.store, shared_data, "2024-05-27", "2024-05-28")
    csv = settings.data_dir / "subscribers.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    lines = ["email,frequency,keywords,categories"]
    for n in range(count):
        lines.append(f"reader{n}@example.org,daily,{'diffusion' if n % 3 else ''},{'cs.CV' if n % 2 else ''}")
    csv.write_text("\n".join(lines) + "\n")
    report = subscriptions.import_csv(pb, csv, confirmed=True)
    assert report.added == count
    # one unconfirmed address: it must never get a digest
    subscriptions.subscribe(pb, "pending@example.org")
    return pb


def sent_count(pb: Paperboy) -> int:
    with pb.store.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(digest_outbox).where(digest_outbox.c.status == "sent")
        ).scalar_one()


def kill_outside_the_window(pb: Paperboy, sink: Sink, proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc`` at a moment when every message the server accepted is marked sent in the database.

    Between the server's "250 OK" and the sender's mark lies a window that no sender can close (a kill there is
    a mail the server has but the sender cannot know it sent); this test is about every other moment. The process
    is stopped first, so no message can start while we look; then we wait out any message already on the wire
    before comparing counts, and let it run on for a moment when it is inside the window.
    """
    for _ in range(2000):
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.05)  # a message fully written before the stop reaches the server's count by now
        if sent_count(pb) >= sink.count():
            proc.send_signal(signal.SIGKILL)
            return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)


def test_sigkill_at_random_moments_then_restart_sends_each_digest_exactly_once(
    settings: Settings, shared_data: Path
) -> None:
    pb = seed(settings, shared_data, SUBSCRIBERS)
    rng = random.Random(20240528)
    command = [*PAPERBOY, "digest", "run", "--period", "daily", "--date", "2024-05-28"]
    with running_sink(delay=0.01) as sink:
        env = env_for(settings, sink.url)
        kills = 0
        while kills < KILLS:
            before = sink.count()
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.05, 1.2))  # during start-up, planning or sending
            else:  # right in the middle of sending: after a few more mails arrived
                target = before + rng.randint(1, 3)
                deadline = time.monotonic() + 15
                while sink.count() < target and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(rng.uniform(0.0, 0.008))
            kill_outside_the_window(pb, sink, proc)
            proc.wait()
            kills += 1
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        time.sleep(0.1)
        counts = sink.per_recipient()
        assert sink.duplicates() == []
        assert "pending@example.org" not in counts
        expected = {f"reader{n}@example.org" for n in range(SUBSCRIBERS)}
        assert set(counts) == expected, f"gaps: {sorted(expected - set(counts))}"
        assert all(n == 1 for n in counts.values()), {k: v for k, v in counts.items() if v > 1}
    result = status(pb)
    assert result is not None
    assert (result["planned"], result["sent"], result["pending"], result["failed"]) == (SUBSCRIBERS, SUBSCRIBERS, 0, 0)
    assert result["finished_at"] is not None
    pb.close()
