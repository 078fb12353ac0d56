"""A new user's journeys in a real browser: sign in with the mailed link, submit a paper, upvote without a reload,
comment with math, search, and follow a feed link."""

from __future__ import annotations

import re
from typing import Any

import feedparser
import httpx
from playwright.sync_api import expect

from paperboy.store import Store
from tests.smtp import SmtpServer

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/sign-in/confirm\?\S+)")


def sign_in(page: Any, site: str, smtp_server: SmtpServer, email: str) -> None:
    page.goto(f"{site}/sign-in")
    page.fill("input[name=email]", email)
    page.click("button[type=submit]:has-text('Email me a sign-in link')")
    page.wait_for_load_state()
    mail = smtp_server.wait_for(1)[-1]
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = LINK.search(body)
    assert link, body
    page.goto(link.group(1))
    assert page.locator("button:has-text('Sign in')").count() == 1  # the GET only shows a button
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{site}/")
    assert page.locator("a[href='/settings']").count() == 1


def test_sign_in_submit_vote_comment_search_and_feed(
    chromium: Any, site: str, smtp_server: SmtpServer, store: Store
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, site, smtp_server, "reader@example.org")

    # Submit a paper by its arXiv link: its metadata comes from the (replayed) arXiv API.
    page.goto(f"{site}/submit")
    page.fill("input[name=paper]", "https://arxiv.org/abs/1707.08567v2")
    page.click("button:has-text('Submit')")
    page.wait_for_url(re.compile(r".*/papers/1707\.08567\?submitted=1"))
    assert "You submitted this paper" in page.inner_text("main")
    title = store.get_paper("1707.08567").title  # type: ignore[union-attr]
    assert page.inner_text("h1").strip() == title

    # Upvote without a reload: the count changes, the page stays the same document.
    page.evaluate("window.__sameDocument = true")
    count = page.locator(".vote-form .votes-count").first
    before = int(count.inner_text())
    page.click(".vote-form .vote-button")
    # expect() polls from the test's side: a string predicate would be eval'd in the page, which our CSP forbids
    expect(count).to_have_text(str(before + 1))
    assert page.evaluate("window.__sameDocument") is True
    assert page.get_attribute(".vote-form .vote-button", "aria-pressed") == "true"

    # Comment with math: the TeX is kept as text inside a math span and typeset by KaTeX, the Markdown is rendered.
    page.fill("textarea[name=body]", "Energy: $E = mc^2$ and **bold** <script>alert(1)</script>")
    page.click("button:has-text('Comment')")
    page.wait_for_load_state()
    math = page.locator("#discussion .math.inline").first
    math.locator(".katex").wait_for()
    assert math.locator("annotation").text_content() == "E = mc^2"
    assert page.locator("#discussion strong:has-text('bold')").count() == 1
    assert "<script>alert(1)</script>" in page.inner_text("#discussion")

    # Search from the search page's box.
    page.goto(f"{site}/search")
    page.fill("input[name=q]", title)
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    assert title in page.inner_text("main")

    # Follow a feed link: the page advertises it, and it is a feed a reader can parse.
    page.goto(f"{site}/")
    href = page.get_attribute("link[rel=alternate][type='application/rss+xml']", "href")
    assert href
    feed = feedparser.parse(httpx.get(site + href).content)
    assert not feed.bozo and feed.entries
    page.click("footer a[rel=alternate] >> nth=0")
    assert "/feeds/" in page.url
    assert errors == []
    context.close()
