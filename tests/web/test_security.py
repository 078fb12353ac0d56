"""The security suite: an XSS corpus in titles, abstracts and comments renders as text on every page and feed;
every form POST refuses a missing or wrong CSRF token; nobody edits another's comment; votes are counted once
under 50 truly concurrent requests to a live server."""

from __future__ import annotations

import html
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from paperboy.app import Paperboy
from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from paperboy.store import Store, accounts, community
from paperboy.web.app import ROUTES, create_app
from tests.web.conftest import archive_file, form_token, load_days, original_items, sign_in
from tests.web.live import serving

CORPUS = [
    line
    for line in (Path(__file__).parent / "xss_corpus.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("# ")
]
DAYS = ("2024-12-11", "2026-08-21")
TODAY = date(2026, 8, 21)
Web = Callable[[], TestClient]


class Page(HTMLParser):
    """Elements with their attributes, and the text, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.head_styles = 0  # the site's own <style> blocks in <head> (templates may carry one)
        self.in_body = False
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_body = self.in_body or tag == "body"
        if tag == "style" and not attrs and not self.in_body:
            self.head_styles += 1
            return
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


DANGEROUS_TAGS = {"script", "iframe", "img", "svg", "object", "embed", "style", "math", "base", "video"}


OWN_SCRIPTS = (
    "/static/vote.js",
    "/static/katex/katex.min.js",
    "/static/katex/contrib/auto-render.min.js",
    "/static/math.js",
)


def runnable(html: str, own_scripts: tuple[str, ...] = OWN_SCRIPTS) -> list[str]:
    """Everything in a page that could run or load something the site did not put there."""
    problems = []
    for tag, attrs in Page(html).elements:
        if tag == "script" and attrs.get("src") in own_scripts and len(attrs) <= 2:
            continue
        if tag in DANGEROUS_TAGS or (tag == "meta" and "http-equiv" in attrs):
            problems.append(f"<{tag} {attrs}>")
        if tag == "form" and not (attrs.get("action") or "/").startswith("/"):
            problems.append(f"form posting to {attrs.get('action')}")
        for name, value in attrs.items():
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                problems.append(f"<{tag} {name}>")
            if (
                name in ("href", "action", "src")
                and value
                and not re.match(r"^(https?:|mailto:|/|#|\?)", value.strip())
            ):
                problems.append(f"<{tag} {name}={value}>")
    return problems


def spaced(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def hostile(paperboy: Paperboy, shared_data: Path, tmp_path: Path) -> dict[str, str]:
    """Real archive days whose titles and abstracts were replaced by the corpus, ingested by the hf-daily source;
    returns paper id -> payload."""
    planted: dict[str, str] = {}
    n = 0
    for day in DAYS:
        items = original_items(archive_file(shared_data, day))
        for item in items:
            payload = CORPUS[n % len(CORPUS)]
            item["paper"]["title"] = f"T{n} {payload}"
            item["paper"]["summary"] = f"Abstract {n}: {payload} end."
            item["title"], item["summary"] = item["paper"]["title"], item["paper"]["summary"]
            planted[item["paper"]["id"]] = payload
            n += 1
        path = tmp_path / f"{day}.json"
        path.write_text(json.dumps(items), encoding="utf-8")
        report = ingest(paperboy.store, hf_daily.read_path(path), hf_daily.NAME, str(path))
        assert report.skipped == []
    assert n >= len(CORPUS), "every payload should be planted at least once"
    return planted


@pytest.fixture
def web(paperboy: Paperboy) -> Web:
    now = datetime.combine(TODAY, time(12), UTC)
    paperboy.settings = paperboy.settings.replace(rate_comments_per_hour=10_000)
    app = create_app(paperboy, clock=lambda: now)
    return lambda: TestClient(app, follow_redirects=False)


def test_titles_and_abstracts_render_as_text_everywhere(web: Web, store: Store, hostile: dict[str, str]) -> None:
    visitor = web()
    lists = [
        "/",
        *(f"/papers/date/{d}" for d in DAYS),
        "/papers/trending",
        "/papers/week/2024-W50",
        "/papers/month/2026-08",
    ]
    lists += ["/search?q=script", "/search?q=alert", "/search?q=" + CORPUS[0]]
    for path in lists:
        response = visitor.get(path)
        assert response.status_code == 200, path
        assert runnable(response.text) == [], path
    for pid, payload in hostile.items():
        html = visitor.get(f"/papers/{pid}").text
        assert runnable(html) == [], pid
        paper = store.get_paper(pid)
        assert paper is not None
        text = Page(html).plain()
        assert spaced(paper.title) in text and spaced(paper.abstract.replace("$", "")) in text.replace("$", "")
        assert payload.strip() and spaced(paper.title).endswith(spaced(payload).strip()[-5:])
        api = visitor.get(f"/api/papers/{pid}")
        assert api.headers["content-type"] == "application/json" and api.json()["title"] == paper.title


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feeds_carry_the_corpus_as_text(web: Web, store: Store, hostile: dict[str, str], fmt: str) -> None:
    visitor = web()
    latest = {lp.paper.id: lp.paper for lp in store.daily_list(TODAY)}
    for path in (f"/feeds/daily.{fmt}", f"/feeds/trending.{fmt}", f"/feeds/search.{fmt}?q=alert"):
        root = ET.fromstring(visitor.get(path).content)  # well-formed XML whatever the titles hold
        entries = [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] in ("item", "entry")]
        assert entries, path
        for entry in entries:
            fields = {child.tag.rsplit("}", 1)[-1]: child for child in entry}
            assert not list(fields["title"]), "a title is text, never child elements"
            link = fields["link"].text if fmt == "rss" else fields["link"].get("href")
            paper = store.get_paper((link or "").rsplit("/papers/", 1)[1])
            assert paper is not None and fields["title"].text == paper.title
            if fmt == "rss":  # HTML by convention: the abstract goes in escaped, so it shows as text
                assert fields["description"].text == html.escape(paper.abstract, quote=False)
            else:
                assert fields["summary"].get("type") == "text" and fields["summary"].text == paper.abstract
        if path.startswith("/feeds/daily"):
            assert len(entries) >= len(latest)


def test_comments_render_as_text(web: Web, store: Store, hostile: dict[str, str]) -> None:
    author, visitor = web(), web()
    user = sign_in(author, store, "writer@example.org")
    pid = next(iter(hostile))
    for payload in CORPUS:
        response = author.post(f"/papers/{pid}/comments", data={"csrf": form_token(author), "body": payload})
        assert response.status_code == 303, payload
    for client in (author, visitor):
        html = client.get(f"/papers/{pid}").text
        assert runnable(html) == []
        assert "alert(1)" in Page(html).plain()
    assert runnable(visitor.get(f"/u/{user.handle}").text) == []
    listed = visitor.get(f"/api/papers/{pid}/comments").json()["comments"]
    assert [c["body"] for c in listed] == [payload.strip() for payload in CORPUS]


# -- CSRF ---------------------------------------------------------------------------------------------------------

CSRF_EXEMPT = {"digest_unsubscribe"}  # RFC 8058 one-click unsubscribe: authorised by its signed token (DESIGN.md)


def test_every_form_post_refuses_a_missing_or_wrong_csrf_token(web: Web, store: Store, shared_data: Path) -> None:
    load_days(store, shared_data, "2026-08-21")
    pid = store.daily_list(TODAY, limit=1)[0].paper.id
    admin_browser, other_browser = web(), web()
    admin = sign_in(admin_browser, store, "admin@example.org", role="admin")
    other = sign_in(other_browser, store, "other@example.org")
    comment_id = community.add_comment(store, pid, admin.id, "mine", datetime.now(UTC))
    token_id = accounts.list_api_tokens(store, admin.id)
    accounts.create_api_token(store, admin.id, "t", datetime.now(UTC))
    token_id = accounts.list_api_tokens(store, admin.id)[0].id
    values = {"paper_id": pid, "comment_id": str(comment_id), "token_id": str(token_id), "handle": other.handle}
    posts = [r for r in ROUTES if "POST" in r.methods and r.page and r.name not in CSRF_EXEMPT]
    assert len(posts) >= 15
    wrong = form_token(other_browser)
    before = (community.shown_upvotes(store, pid), len(community.paper_comments(store, pid)))
    for route in posts:
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], route.path)
        for data in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": wrong}):
            form = data | {"body": "x", "paper": pid, "vote": "1", "email": "x@example.org", "display_name": "M"}
            response = admin_browser.post(path, data=form)
            assert response.status_code == 403, (route.name, data, response.status_code)
            assert "did not come from this site" in response.text or "expired" in response.text, route.name
    assert (community.shown_upvotes(store, pid), len(community.paper_comments(store, pid))) == before
    assert accounts.session_user(store, admin_browser.cookies["pb_session"], datetime.now(UTC)) is not None


def test_another_users_comment_cannot_be_edited_or_deleted(web: Web, store: Store, shared_data: Path) -> None:
    load_days(store, shared_data, "2026-08-21")
    pid = store.daily_list(TODAY, limit=1)[0].paper.id
    owner, intruder = web(), web()
    owner_user = sign_in(owner, store, "owner@example.org")
    sign_in(intruder, store, "intruder@example.org")
    comment_id = community.add_comment(store, pid, owner_user.id, "original", datetime.now(UTC))
    token = form_token(intruder)
    assert intruder.get(f"/comments/{comment_id}/edit").status_code == 403
    assert intruder.post(f"/comments/{comment_id}/edit", data={"csrf": token, "body": "pwned"}).status_code == 403
    assert intruder.post(f"/comments/{comment_id}/delete", data={"csrf": token}).status_code == 403
    assert intruder.post(f"/comments/{comment_id}/hide", data={"csrf": token}).status_code == 403
    comment = community.get_comment(store, comment_id)
    assert comment is not None and comment.body == "original" and not comment.deleted and not comment.hidden


# -- votes under real concurrency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("users", [1, 50])
def test_fifty_concurrent_votes_on_a_live_server(
    paperboy: Paperboy, store: Store, shared_data: Path, users: int
) -> None:
    load_days(store, shared_data, "2026-08-21")
    pid = store.daily_list(TODAY, limit=1)[0].paper.id
    base = community.shown_upvotes(store, pid)
    app = create_app(paperboy)
    setup = TestClient(app)
    sessions = []
    for n in range(users):
        setup.cookies.clear()
        sign_in(setup, store, f"voter{n}@example.org")
        sessions.append((setup.cookies["pb_session"], form_token(setup)))
    codes: list[int] = []
    with serving(app) as url:
        go = threading.Barrier(50)

        def vote(n: int) -> None:
            session_id, token = sessions[n % users]
            with httpx.Client(base_url=url, timeout=60) as client:
                go.wait()
                response = client.post(
                    f"/papers/{pid}/vote",
                    data={"csrf": token, "vote": "1"},
                    headers={"Cookie": f"pb_session={session_id}", "Accept": "application/json"},
                )
                codes.append(response.status_code)

        threads = [threading.Thread(target=vote, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert codes == [200] * 50
        assert community.shown_upvotes(store, pid) == base + users
        assert httpx.get(f"{url}/api/papers/{pid}").json()["upvotes"] == base + users
