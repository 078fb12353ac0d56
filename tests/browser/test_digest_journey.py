"""Issue 5's journey in a real browser: a new reader subscribes on /digest, confirms from the link in the mail the
SMTP server received, tunes the preferences, gets the next digest after an operator runs ``paperboy digest run`` (a
real subprocess on the same database), and leaves with RFC 8058 one-click unsubscribe, sent the way a mail client
sends it: a cookieless POST of ``List-Unsubscribe=One-Click`` to the header's http(s) URL."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from email.message import EmailMessage
from typing import Any

import httpx

from paperboy.app import Paperboy
from paperboy.digest import subscriptions
from paperboy.store import Store
from tests.conftest import REPO
from tests.smtp import SmtpServer

EMAIL = "new.reader@example.org"
DIGEST_DAY = "2026-08-20"  # a Thursday with papers in the archive (tests/browser/conftest.py loads it)
KEYWORD = "agent"


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def status(pb: Paperboy) -> str:
    sub = subscriptions.by_email(pb, EMAIL)
    assert sub is not None
    return sub.status


def digest_run(env: dict[str, str], day: str) -> dict[str, Any]:
    """``paperboy digest run`` as an operator (or cron) runs it: its own process, the site's settings."""
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "paperboy"), "digest", "run", "--period", "daily", "--date", day, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def matching_papers(store: Store, day: str) -> set[str]:
    """The day's papers whose title or abstract has a word starting with the keyword (what the digest promises)."""
    word = re.compile(rf"(?<!\w){KEYWORD}", re.IGNORECASE)
    listed = store.daily_list(date.fromisoformat(day))
    return {lp.paper.id for lp in listed if word.search(f"{lp.paper.title} {lp.paper.abstract}")}


def test_subscribe_confirm_tune_receive_and_one_click_unsubscribe(
    chromium: Any, site: str, site_env: dict[str, str], smtp_server: SmtpServer, paperboy: Paperboy, store: Store
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)

    # Subscribe: the page only says a mail is on its way; nothing is confirmed yet.
    page.goto(f"{site}/digest")
    page.fill("input[name=email]", EMAIL)
    page.check("input[name=frequency][value=daily]")
    page.click("button:has-text('Subscribe')")
    page.wait_for_load_state()
    assert EMAIL in page.inner_text("main")
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == EMAIL
    link = re.search(r"(http://127\.0\.0\.1:\d+/digest/confirm\?t=\S+)", plain(mail))
    assert link, plain(mail)
    assert status(paperboy) == "pending"

    # Confirm: opening the link (as a mail scanner would) changes nothing; the button does.
    page.goto(link.group(1))
    assert status(paperboy) == "pending"
    page.click("button:has-text('Yes, confirm')")
    page.wait_for_url(re.compile(r".*/digest/preferences\?t=.*confirmed=1"))
    assert status(paperboy) == "confirmed"

    # Preferences: no trending section, one keyword, one category.
    page.fill("input[name=trending]", "0")
    page.fill("textarea[name=queries]", KEYWORD)
    page.fill("textarea[name=categories]", "cs.AI")
    page.click("button:has-text('Save')")
    page.wait_for_selector("p.notice:has-text('Saved.')")
    sub = subscriptions.by_email(paperboy, EMAIL)
    assert sub is not None
    assert (sub.preferences.trending, sub.preferences.queries, sub.preferences.categories) == (
        0,
        (KEYWORD,),
        ("cs.AI",),
    )
    assert errors == []

    # The operator runs the day's digest in another process; it lands in the SMTP server's inbox.
    result = digest_run(site_env, DIGEST_DAY)
    assert result["finished"] and result["failed"] == 0 and result["sent"] >= 1
    mails = smtp_server.to(EMAIL)
    assert len(mails) == 2, [m["Subject"] for m in mails]
    digest = mails[-1]
    text = plain(digest)
    sent = set(re.findall(r"/papers/(\d{4}\.\d{4,5})", text))
    expected = matching_papers(store, DIGEST_DAY)
    assert expected and sent == expected, (sent, expected)
    assert f"Matches “{KEYWORD}”" in text and "Trending #" not in text
    assert digest.get_body(("html",)) is not None and digest["Message-ID"] and digest["Date"]
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    targets = re.findall(r"<([^>]+)>", digest["List-Unsubscribe"])
    web_urls = [url for url in targets if url.startswith(("https://", "http://"))]
    assert len(web_urls) == 1 and any(url.startswith("mailto:") for url in targets), targets
    unsubscribe_url = web_urls[0]
    assert unsubscribe_url.startswith(f"{site}/digest/unsubscribe?t=")

    # Opening the URL shows a confirmation page and changes nothing.
    page.goto(unsubscribe_url)
    assert page.locator("button:has-text('Unsubscribe')").count() == 1
    assert status(paperboy) == "confirmed"
    assert httpx.get(unsubscribe_url).status_code == 200
    assert status(paperboy) == "confirmed"

    # The one-click POST as a mail provider sends it: no cookies, no CSRF token, just the RFC 8058 body.
    with httpx.Client(follow_redirects=False) as mail_client:
        response = mail_client.post(
            unsubscribe_url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert 200 <= response.status_code < 300 and "location" not in response.headers, response.status_code
    assert status(paperboy) == "unsubscribed"

    # Nothing arrives after that: the next day's run skips the address.
    digest_run(site_env, "2026-08-21")
    assert len(smtp_server.to(EMAIL)) == 2
    assert errors == []
    context.close()
