"""Digests against a real SMTP server: headers, multipart, never a paper twice, one digest per period, 4xx retry,
5xx suppression, unsubscribe re-checked before sending, resend of failures, DKIM, and the browser flow."""

from __future__ import annotations

import re
import subprocess
import threading
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from paperboy.app import Paperboy
from paperboy.digest import subscriptions
from paperboy.digest.plan import parse_query
from paperboy.digest.run import resend_failed, run_digest, status
from paperboy.jobs import plan_due_periods
from paperboy.store import digests as db
from tests.conftest import need
from tests.digest.conftest import NOW, AddSubscriber
from tests.digest.sink import running_sink
from tests.smtp import SmtpServer


def run(pb: Paperboy, day: str, kind: str = "daily") -> dict[str, object]:
    return run_digest(pb, kind, date.fromisoformat(day), clock=lambda: NOW).as_dict()


def paper_links(message: object) -> set[str]:
    text = message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    return set(re.findall(r"/papers/(\d{4}\.\d{4,5})", text))


def test_digest_headers_and_parts(loaded_pb: Paperboy, add_subscriber: AddSubscriber, smtp_server: SmtpServer) -> None:
    add_subscriber("ada@example.org", trending=5)
    assert run(loaded_pb, "2024-05-28")["sent"] == 1
    (message,) = smtp_server.messages
    assert message["To"] == "ada@example.org"
    assert message["Message-ID"].startswith("<digest.") and message["Date"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    urls = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert urls[0].startswith("https://papers.example.org/digest/unsubscribe?t=") and urls[1].startswith("mailto:")
    assert message["Feedback-ID"].endswith(":daily:digest:paperboy")
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",)).get_content()
    assert "<script" not in html.lower() and 'style="' in html and "Trending #1" in html
    assert len(paper_links(message)) == 5


def test_never_a_paper_twice_and_one_digest_per_period(
    loaded_pb: Paperboy, add_subscriber: AddSubscriber, smtp_server: SmtpServer
) -> None:
    add_subscriber("bo@example.org", trending=0, queries=("model",), max_papers=100)
    run(loaded_pb, "2024-05-28")
    run(loaded_pb, "2024-05-28")  # the same period again: nothing new
    assert len(smtp_server.messages) == 1
    weekly_like = run(loaded_pb, "2024-05-29")
    assert weekly_like["sent"] == 1
    first, second = (paper_links(m) for m in smtp_server.messages)
    assert first and second and not first & second
    # 2024-05-28's papers are in the history, so a daily run covering them again sends nothing new from them
    assert all(pid in {h for h in first} for pid in first)


def test_sections_exclusions_and_empty_digests(
    loaded_pb: Paperboy, add_subscriber: AddSubscriber, smtp_server: SmtpServer
) -> None:
    add_subscriber("q@example.org", trending=0, queries=("diffusion -video",))
    add_subscriber("nothing@example.org", trending=0, queries=("zzzznotaword",))
    add_subscriber("empty-ok@example.org", trending=0, queries=("zzzznotaword",), send_empty=True)
    result = run(loaded_pb, "2024-05-28")
    assert result["planned"] == 2
    assert not smtp_server.to("nothing@example.org")
    (empty,) = smtp_server.to("empty-ok@example.org")
    assert "Nothing new matched" in empty.get_body(("plain",)).get_content()
    (picked,) = smtp_server.to("q@example.org")
    text = picked.get_body(("plain",)).get_content()
    assert "Matches “diffusion -video”" in text
    query = parse_query("diffusion -video")
    assert query.matches("latent diffusion models") and not query.matches("video diffusion")


def test_4xx_retries_then_sends_and_5xx_suppresses(
    loaded_pb: Paperboy, add_subscriber: AddSubscriber, smtp_server: SmtpServer
) -> None:
    add_subscriber("later@example.org")
    add_subscriber("gone@example.org")
    smtp_server.refuse["later@example.org"] = "450 4.2.0 mailbox busy, try later"
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 no such user"
    from paperboy.digest.send import Sender

    patient = Paperboy(loaded_pb.settings.replace(digest_retry_seconds=600))
    first = Sender(patient, respect_due=False, clock=lambda: NOW)
    run_row = run_digest(patient, "daily", date(2024, 5, 28), clock=lambda: NOW, wait=False, sender=first)
    counts = status(loaded_pb, run_row.run_id)
    assert counts is not None and (counts["failed"], counts["pending"], counts["awaiting_retry"]) == (1, 1, 1)
    with loaded_pb.store.read() as conn:
        assert db.suppressed(conn, ["gone@example.org", "later@example.org"]) == {"gone@example.org"}
    del smtp_server.refuse["later@example.org"]
    later = NOW + timedelta(minutes=11)  # after the backoff
    run_digest(patient, "daily", date(2024, 5, 28), clock=lambda: later)
    patient.close()
    counts = status(loaded_pb, run_row.run_id)
    assert counts is not None and (counts["sent"], counts["failed"], counts["pending"]) == (1, 1, 0)
    assert counts["finished_at"] is not None
    assert len(smtp_server.to("later@example.org")) == 1
    # resend the failed one alone, once the address is fixed and the suppression lifted
    del smtp_server.refuse["gone@example.org"]
    reset, report = resend_failed(loaded_pb, run_row.run_id, lift_suppression=True)
    assert (reset, report.sent) == (1, 1)
    assert len(smtp_server.to("gone@example.org")) == 1 and len(smtp_server.to("later@example.org")) == 1


def test_unsubscribe_after_planning_is_honoured_at_send_time(
    loaded_pb: Paperboy, add_subscriber: AddSubscriber, smtp_server: SmtpServer
) -> None:
    sub = add_subscriber("leaving@example.org")
    add_subscriber("staying@example.org")
    from paperboy.digest.periods import daily
    from paperboy.digest.run import plan

    plan(loaded_pb, daily(date(2024, 5, 28)), clock=lambda: NOW)
    subscriptions.unsubscribe(loaded_pb, sub)
    result = run(loaded_pb, "2024-05-28")
    assert (result["sent"], result["skipped"]) == (1, 1)
    assert not smtp_server.to("leaving@example.org")


def test_unconfirmed_never_get_a_digest(loaded_pb: Paperboy, smtp_server: SmtpServer) -> None:
    subscriptions.subscribe(loaded_pb, "maybe@example.org")
    assert run(loaded_pb, "2024-05-28")["planned"] == 0
    assert smtp_server.messages == []


def test_scheduled_job_fired_twice_plans_once(loaded_pb: Paperboy, add_subscriber: AddSubscriber) -> None:
    add_subscriber("cron@example.org")
    add_subscriber("weekly@example.org", frequency="weekly")
    tuesday = NOW.replace(day=4)
    assert plan_due_periods(loaded_pb, tuesday, "node-a") == ["digest-daily:2024-06-03", "digest-weekly:2024-W22"]
    assert plan_due_periods(loaded_pb, tuesday, "node-b") == []  # fired again, on another node: nothing to do
    jobs = db.job_history(loaded_pb.store, "digest-daily")
    assert [(j["key"], j["status"], j["owner"]) for j in jobs] == [("2024-06-03", "done", "node-a")]


def test_scheduled_job_fired_on_two_nodes_at_once_runs_once(loaded_pb: Paperboy, add_subscriber: AddSubscriber) -> None:
    add_subscriber("cron@example.org", frequency="weekly")
    wednesday = NOW.replace(day=5)
    barrier = threading.Barrier(3)
    results: dict[str, list[str]] = {}

    def fire(owner: str) -> None:
        barrier.wait()
        results[owner] = plan_due_periods(loaded_pb, wednesday, owner)

    threads = [threading.Thread(target=fire, args=(f"node-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ran = sorted(key for keys in results.values() for key in keys)
    assert ran == ["digest-daily:2024-06-04", "digest-weekly:2024-W22"]  # each job by exactly one node
    weekly_run = status(loaded_pb, kind="weekly")
    assert weekly_run is not None and (weekly_run["key"], weekly_run["planned"]) == ("2024-W22", 1)


def test_dkim_signature_verifies(loaded_pb: Paperboy, add_subscriber: AddSubscriber, tmp_path: Path) -> None:
    import base64
    import shutil

    import dkim

    need(shutil.which("openssl") is not None, "openssl is needed to make a DKIM key")
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    add_subscriber("signed@example.org")
    with running_sink() as sink:
        pb = Paperboy(loaded_pb.settings.replace(dkim_selector="pb", dkim_private_key_file=str(key), smtp_url=sink.url))
        run_digest(pb, "daily", date(2024, 5, 28), clock=lambda: NOW)
        pb.close()
    (raw,) = sink.raw
    assert raw.startswith(b"DKIM-Signature:")
    assert b"list-unsubscribe-post" in raw.split(b" b=", 1)[0].lower()
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record if name.startswith(b"pb._domainkey") else None)
    tampered = raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nope")
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)


@pytest.mark.parametrize("body_kind", ["urlencoded", "multipart"])
def test_browser_flow_subscribe_confirm_preferences_digest_one_click_unsubscribe(
    loaded_pb: Paperboy, smtp_server: SmtpServer, body_kind: str
) -> None:
    from fastapi.testclient import TestClient

    from paperboy.web.app import create_app

    client = TestClient(create_app(loaded_pb, clock=lambda: NOW), base_url="https://testserver", follow_redirects=False)
    page = client.get("/digest")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text) or re.search(r'value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page.text))
    response = client.post("/digest/subscribe", data={**fields, "email": "New@Example.org", "frequency": "daily"})
    assert response.status_code == 200, response.text
    (mail,) = smtp_server.wait_for(1)
    link = re.search(r"https://papers.example.org(/digest/confirm\?t=\S+)", mail.get_body(("plain",)).get_content())
    assert link
    assert client.get(link.group(1)).status_code == 200
    assert subscriptions.by_email(loaded_pb, "new@example.org").status == "pending"  # type: ignore[union-attr]
    token = link.group(1).split("t=", 1)[1]
    confirmed = client.post("/digest/confirm", data={**fields, "token": token})
    assert confirmed.status_code == 303
    prefs_url = confirmed.headers["location"]
    prefs_page = client.get(prefs_url)
    assert prefs_page.status_code == 200
    manage = prefs_url.split("t=", 1)[1].split("&", 1)[0]
    saved = client.post(
        "/digest/preferences",
        data={**fields, "token": manage, "frequency": "daily", "send_hour": "8", "timezone": "Europe/Berlin",
              "trending": "3", "max_papers": "10", "queries": "diffusion\nagent", "exclude": "", "categories": "",
              "authors": ""},
    )  # fmt: skip
    assert saved.status_code == 200 and "Saved." in saved.text
    sub = subscriptions.by_email(loaded_pb, "new@example.org")
    assert sub is not None and sub.preferences.queries == ("diffusion", "agent") and sub.send_hour == 8
    run(loaded_pb, "2024-05-28")
    digest = smtp_server.to("new@example.org")[-1]
    unsubscribe_url = re.findall(r"<([^>]+)>", digest["List-Unsubscribe"])[0]
    path = urlsplit(unsubscribe_url)
    target = f"{path.path}?{path.query}"
    # a GET shows a button and changes nothing
    assert client.get(target).status_code == 200
    assert subscriptions.by_email(loaded_pb, "new@example.org").status == "confirmed"  # type: ignore[union-attr]
    # a forged token, or this token for another address, is refused
    other = subscriptions.confirm(loaded_pb, subscriptions.subscribe(loaded_pb, "other@example.org"))
    forged = f"{other.id}.{path.query.split('.', 2)[1]}.{path.query.split('.', 2)[2]}"
    fresh = TestClient(create_app(loaded_pb, clock=lambda: NOW), base_url="https://testserver", follow_redirects=False)
    assert fresh.post(f"/digest/unsubscribe?t={forged}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert subscriptions.by_email(loaded_pb, "other@example.org").status == "confirmed"  # type: ignore[union-attr]
    # the one-click POST: no cookies, 2xx, no redirect
    if body_kind == "urlencoded":
        one_click = fresh.post(target, data={"List-Unsubscribe": "One-Click"})
    else:
        one_click = fresh.post(target, files={"List-Unsubscribe": (None, "One-Click")})
    assert one_click.status_code == 200 and "location" not in one_click.headers
    assert subscriptions.by_email(loaded_pb, "new@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    run(loaded_pb, "2024-05-29")
    assert len(smtp_server.to("new@example.org")) == 2  # the confirmation and one digest, nothing after


def test_subscribe_is_rate_limited_per_address(loaded_pb: Paperboy, smtp_server: SmtpServer) -> None:
    from fastapi.testclient import TestClient

    from paperboy.web.app import create_app

    client = TestClient(create_app(loaded_pb, clock=lambda: NOW), base_url="https://testserver", follow_redirects=False)
    page = client.get("/digest")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page.text))
    codes = [
        client.post("/digest/subscribe", data={**fields, "email": "spam@example.org"}).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


def test_cli_import_run_and_status(loaded_pb: Paperboy, smtp_server: SmtpServer, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from paperboy.cli import app

    csv = tmp_path / "list.csv"
    csv.write_text(
        "email,frequency,keywords,categories,authors\n"
        "a@example.org,daily,diffusion;agent,cs.CV,\n"
        "not-an-address,daily,,,\n"
        "w@example.org,weekly,,,\n"
    )
    env = {
        "PAPERBOY_DATABASE_URL": loaded_pb.settings.resolved_database_url,
        "PAPERBOY_DATA_DIR": str(loaded_pb.settings.data_dir),
        "PAPERBOY_SMTP_URL": smtp_server.url,
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    runner = CliRunner()
    imported = runner.invoke(app, ["subscribers", "import", str(csv), "--confirmed", "--json"], env=env)
    assert imported.exit_code == 3  # one row skipped
    data = json.loads(imported.stdout)
    assert data["added"] == 2 and data["skipped"][0]["where"] == "list.csv:3"
    ran = runner.invoke(app, ["digest", "run", "--period", "daily", "--date", "2024-05-28", "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    shown = json.loads(runner.invoke(app, ["digest", "status", "--json"], env=env).stdout)
    assert {k: shown[k] for k in ("planned", "sent", "failed", "pending")} == {
        "planned": 1, "sent": 1, "failed": 0, "pending": 0,
    }  # fmt: skip
    assert [m["To"] for m in smtp_server.messages] == ["a@example.org"]


def test_digest_assembled_from_cached_fragments_equals_the_templates_document(
    loaded_pb: Paperboy, add_subscriber: AddSubscriber
) -> None:
    import quopri

    from paperboy.digest.compose import Composer
    from paperboy.digest.periods import weekly
    from paperboy.digest.plan import load_candidates, select

    period = weekly(date(2024, 5, 27))
    candidates = load_candidates(loaded_pb, period)
    composer = Composer(loaded_pb)
    hostile = '<script>alert("x")</script> & "quotes"'
    prefs = subscriptions.Preferences(trending=4, queries=("diffusion", hostile, "model"), max_papers=30)
    picks = select(candidates, prefs, set())
    picks = [*picks, (picks[0][0], hostile)]  # a reason that must come out escaped
    args = {"papers": candidates.papers, "kind": "weekly", "first_day": period.first_day, "last_day": period.last_day}
    for subscriber_id, chosen in ((7, picks), (8, picks[3:9]), (9, [])):  # later mails reuse the cached fragments
        email = f"s{subscriber_id}@example.org"
        text, html = composer.document(subscriber_id=subscriber_id, email=email, picks=chosen, **args)
        _, text_qp, html_qp = composer.bodies(subscriber_id=subscriber_id, email=email, picks=chosen, **args)
        assert quopri.decodestring(text_qp).decode().replace("\r\n", "\n") == text
        assert quopri.decodestring(html_qp).decode().replace("\r\n", "\n") == html
        assert all(len(line) <= 76 for line in html_qp.split(b"\r\n"))
    text, html = composer.document(subscriber_id=7, email="s7@example.org", picks=picks, **args)
    assert "<script>" not in html and "&lt;script&gt;" in html and hostile in text
    assert html.count('<tr><td style="padding:14px 24px') == len(picks) and text.count("\n   arXiv: ") > 0


def test_trending_section_follows_the_site_trending_ranker(
    loaded_pb: Paperboy, add_subscriber: AddSubscriber, smtp_server: SmtpServer
) -> None:
    from datetime import UTC, datetime

    from paperboy.rank.trending import trending

    add_subscriber("t@example.org", trending=3)
    run(loaded_pb, "2024-05-31")
    (message,) = smtp_server.messages
    text = message.get_body(("plain",)).get_content()
    ended = datetime(2024, 6, 1, tzinfo=UTC)  # the period's end: the site's time zone is UTC here
    s = loaded_pb.settings
    top = [pid for pid, _ in trending(loaded_pb.store, ended, date(2024, 5, 31), date(2024, 5, 31),
                                      s.trending_gravity, s.trending_comments_weight)][:3]  # fmt: skip
    shown = re.findall(r"/papers/(\d{4}\.\d{4,5})\s", text)
    assert shown == top and "Trending #3" in text


def test_pipelined_smtp_4xx_retries_5xx_suppresses_and_one_message_each(
    loaded_pb: Paperboy, add_subscriber: AddSubscriber
) -> None:
    for name in ("ok", "busy", "gone"):
        add_subscriber(f"{name}@example.org", trending=2)
    with running_sink() as sink:  # offers PIPELINING: MAIL, RCPT and DATA go out in one write
        sink.refuse.update({"busy@example.org": "451 4.3.0 try later", "gone@example.org": "550 5.1.1 unknown"})
        pb = Paperboy(loaded_pb.settings.replace(smtp_url=sink.url, digest_retry_seconds=600))
        result = run_digest(pb, "daily", date(2024, 5, 28), clock=lambda: NOW, wait=False)
        counts = status(pb, result.run_id)
        assert counts is not None and (counts["sent"], counts["failed"], counts["awaiting_retry"]) == (1, 1, 1)
        del sink.refuse["busy@example.org"]
        run_digest(pb, "daily", date(2024, 5, 28), clock=lambda: NOW + timedelta(minutes=11))
        with pb.store.read() as conn:
            assert db.suppressed(conn, ["gone@example.org", "busy@example.org"]) == {"gone@example.org"}
        pb.close()
    assert sorted(sink.per_recipient().items()) == [("busy@example.org", 1), ("ok@example.org", 1)]
    assert sink.duplicates() == []


def test_deliver_dot_stuffs_and_refuses_non_ascii_addresses() -> None:
    import smtplib

    from paperboy.digest.send import deliver

    with running_sink() as sink:
        client = smtplib.SMTP(*sink.url.removeprefix("smtp://").split(":"))
        client.ehlo()
        assert client.has_extn("pipelining")
        data = b"Message-ID: <x@y>\r\n\r\n.starts with a dot\r\n..two\r\nend\r\n"
        deliver(client, "a@example.org", "b@example.org", data)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            deliver(client, "a@example.org", "jürgen@example.org", data)
        client.quit()
        assert sink.raw[0].endswith(b".starts with a dot\r\n..two\r\nend\r\n")
