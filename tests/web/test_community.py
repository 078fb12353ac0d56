"""Community actions through the site: submit (via the recorded arXiv API), vote, comment, moderate."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from paperboy.app import Paperboy
from paperboy.store import Store, accounts, community
from paperboy.web.app import create_app
from tests.sources.test_arxiv_api import Replay, replay_key
from tests.web.conftest import Clock, form_token, load_days, sign_in

Web = Callable[[], TestClient]
DAY = "2026-08-21"  # the clock fixture's today; a real archive day


@pytest.fixture
def archive(store: Store, shared_data: Path) -> Path:
    load_days(store, shared_data, DAY)
    return shared_data


@pytest.fixture
def arxiv(paperboy: Paperboy, http_server: object, shared_data: Path) -> Replay:
    replay = Replay(http_server, shared_data)
    paperboy.settings = paperboy.settings.replace(arxiv_api_url=replay.base_url)
    return replay


def first_paper(store: Store) -> str:
    return store.daily_list(date.fromisoformat(DAY), limit=1)[0].paper.id


# -- submit --------------------------------------------------------------------------------------------------------


def test_submit_by_url_fetches_from_arxiv_and_lists_today(web: Web, store: Store, arxiv: Replay) -> None:
    browser = web()
    user = sign_in(browser, store, "sub@example.org")
    response = browser.post(
        "/submit", data={"csrf": form_token(browser, "/submit"), "paper": "https://arxiv.org/abs/1707.08567v2"}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/papers/1707.08567?submitted=1"
    assert [q["id_list"] for q in arxiv.requests()] == ["1707.08567"]
    paper = store.get_paper("1707.08567")
    assert paper is not None and paper.title and paper.authors
    (entry,) = community.listed_days(store, "1707.08567")
    assert entry.day == date(2026, 8, 21) and entry.submitted_by == user.handle
    page = browser.get(response.headers["location"]).text
    assert "You submitted this paper to today" in page and f"submitted by {user.handle}" in page
    api = web().get(f"/api/daily_papers?date={DAY}").json()
    assert [item["submittedBy"]["name"] for item in api if item["paper"]["id"] == "1707.08567"] == [user.handle]
    profile = web().get(f"/u/{user.handle}").text
    assert paper.title.split()[0] in profile

    again = browser.post("/submit", data={"csrf": form_token(browser, "/submit"), "paper": "1707.08567"})
    assert again.status_code == 409 and "already on today&#39;s list" in again.text
    assert len(arxiv.requests()) == 1  # a known paper is not fetched again


@pytest.mark.parametrize(
    ("value", "status", "message"),
    [
        ("not-an-id", 400, "is not an arXiv id or link"),
        ("https://example.org/abs/1707.08567x", 400, "is not an arXiv id or link"),
        ("", 400, "Enter an arXiv id or link"),
        ("2401.99999", 404, "arXiv has no paper 2401.99999"),
    ],
)
def test_submit_problems_get_clear_messages(
    web: Web, store: Store, arxiv: Replay, value: str, status: int, message: str
) -> None:
    empty = arxiv.recordings[replay_key({"id_list": "0000.0000", "start": "0"})]  # arXiv's answer for no such id
    arxiv.overrides[replay_key({"id_list": "2401.99999", "start": "0"})] = lambda: empty
    browser = web()
    sign_in(browser, store, "p@example.org")
    response = browser.post("/submit", data={"csrf": form_token(browser, "/submit"), "paper": value})
    assert response.status_code == status
    assert message in response.text


def test_submit_needs_sign_in_and_is_rate_limited(web: Web, paperboy: Paperboy, store: Store, arxiv: Replay) -> None:
    anonymous = web()
    assert "Sign in</a> to submit" in anonymous.get("/submit").text
    assert anonymous.post("/submit", data={"paper": "1707.08567"}).headers["location"] == "/sign-in?next=/submit"
    paperboy.settings = paperboy.settings.replace(rate_submissions_per_day=1)
    browser = web()
    sign_in(browser, store, "rl@example.org")
    assert browser.post("/submit", data={"csrf": form_token(browser), "paper": "1707.08567"}).status_code == 303
    limited = browser.post("/submit", data={"csrf": form_token(browser), "paper": "1605.08386"})
    assert limited.status_code == 429 and "Too many submissions, at most 1 a day" in limited.text


# -- votes ---------------------------------------------------------------------------------------------------------


def test_upvote_and_unvote_add_to_the_imported_count(web: Web, store: Store, archive: Path) -> None:
    pid = first_paper(store)
    base = store.get_paper(pid).upvotes or 0  # type: ignore[union-attr]
    browser = web()
    sign_in(browser, store, "v@example.org")
    token = form_token(browser)
    voted = browser.post(
        f"/papers/{pid}/vote", data={"csrf": token, "vote": "1"}, headers={"Accept": "application/json"}
    )
    assert voted.json() == {"paper": pid, "upvotes": base + 1, "voted": True}
    again = browser.post(
        f"/papers/{pid}/vote", data={"csrf": token, "vote": "1"}, headers={"Accept": "application/json"}
    )
    assert again.json()["upvotes"] == base + 1  # one vote per user
    api = web().get(f"/api/daily_papers?date={DAY}").json()
    assert [i["paper"]["upvotes"] for i in api if i["paper"]["id"] == pid] == [base + 1]
    page = browser.get(f"/papers/{pid}").text
    assert 'aria-pressed="true"' in page and f'<span class="votes-count">{base + 1}</span>' in page
    # Without JavaScript: a form post and a redirect back.
    back = browser.post(f"/papers/{pid}/vote", data={"csrf": token, "vote": "0", "next": f"/papers/date/{DAY}"})
    assert back.status_code == 303 and back.headers["location"] == f"/papers/date/{DAY}"
    assert community.shown_upvotes(store, pid) == base
    assert (
        browser.post(f"/papers/{pid}/vote", data={"csrf": token, "next": "//evil.example"}).headers["location"]
        == f"/papers/{pid}"
    )


def test_local_votes_reorder_the_list(web: Web, store: Store, archive: Path) -> None:
    listed = store.daily_list(date.fromisoformat(DAY))
    last = listed[-1].paper
    needed = (listed[0].paper.upvotes or 0) - (last.upvotes or 0) + 1
    now = Clock.now_utc()
    for n in range(needed):
        user = accounts.get_or_create_user(store, f"fan{n}@example.org", now)
        assert community.vote(store, user.id, last.id, now)
    assert store.daily_list(date.fromisoformat(DAY))[0].paper.id == last.id
    titles = re.findall(r'id="title-1"><a href="([^"]+)"', web().get(f"/papers/date/{DAY}").text)
    assert titles == [f"/papers/{last.id}"]


def test_anonymous_votes_go_to_sign_in(web: Web, store: Store, archive: Path) -> None:
    pid = first_paper(store)
    anonymous = web()
    html = anonymous.get(f"/papers/date/{DAY}").text
    assert f'href="/sign-in?next=/papers/{pid}"' in html and "vote.js" not in html
    assert anonymous.post(f"/papers/{pid}/vote", headers={"Accept": "application/json"}).status_code == 401
    assert anonymous.post(f"/papers/{pid}/vote").headers["location"] == f"/sign-in?next=/papers/{pid}"


def test_votes_without_csrf_are_refused(web: Web, store: Store, archive: Path) -> None:
    pid = first_paper(store)
    browser = web()
    sign_in(browser, store, "csrf@example.org")
    assert browser.post(f"/papers/{pid}/vote", data={"vote": "1"}).status_code == 403
    assert community.voted(store, accounts.user_by_email(store, "csrf@example.org").id, [pid]) == set()  # type: ignore[union-attr]


def test_votes_are_rate_limited(web: Web, paperboy: Paperboy, store: Store, archive: Path) -> None:
    paperboy.settings = paperboy.settings.replace(rate_votes_per_minute=3)
    pid = first_paper(store)
    browser = web()
    sign_in(browser, store, "fast@example.org")
    token = form_token(browser)
    headers = {"Accept": "application/json"}
    codes = [browser.post(f"/papers/{pid}/vote", data={"csrf": token}, headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = browser.post(f"/papers/{pid}/vote", data={"csrf": token}, headers=headers)
    assert limited.json()["error"] == "Too many votes, at most 3 a minute. Please wait and try again later."


async def _concurrent_votes(app: object, pid: str, sessions: list[tuple[str, str]]) -> list[int]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def one(session_id: str, token: str) -> int:
            response = await client.post(
                f"/papers/{pid}/vote",
                data={"csrf": token, "vote": "1"},
                headers={"Cookie": f"pb_session={session_id}", "Accept": "application/json"},
            )
            return response.status_code

        return list(await asyncio.gather(*(one(s, t) for s, t in sessions)))


@pytest.mark.parametrize("users", [1, 50])
def test_fifty_concurrent_votes(paperboy: Paperboy, store: Store, archive: Path, clock: Clock, users: int) -> None:
    """50 simultaneous requests: from one user they count once, from 50 users they count 50."""
    pid = first_paper(store)
    base = store.get_paper(pid).upvotes or 0  # type: ignore[union-attr]
    app = create_app(paperboy, clock=clock)
    browser = TestClient(app)
    tokens = []
    for n in range(users):
        browser.cookies.clear()
        sign_in(browser, store, f"crowd{n}@example.org")
        tokens.append((browser.cookies["pb_session"], form_token(browser)))
    sessions = [tokens[n % users] for n in range(50)]
    # A fresh thread has no event loop, whatever an earlier test (e.g. Playwright's sync API) left in this one.
    with ThreadPoolExecutor(1) as pool:
        codes = pool.submit(asyncio.run, _concurrent_votes(app, pid, sessions)).result()
    assert codes == [200] * 50
    assert community.shown_upvotes(store, pid) == base + users


# -- comments ------------------------------------------------------------------------------------------------------

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "![x](javascript:alert(1))",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "$<script>alert(1)</script>$",
    "$$</div><script>alert(1)</script>$$",
    "`<script>alert(1)</script>`",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<form action="https://evil.example"><button>x</button></form>',
    "<details open ontoggle=alert(1)>",
    '"><script>alert(1)</script>',
]


class _Elements(HTMLParser):
    """Every element and attribute as a browser's parser sees them (text stays text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def runnable_markup(html: str) -> list[str]:
    """What in ``html`` could run or load something: script-like tags, event handlers, styles, unsafe URLs."""
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag in ("script", "iframe", "img", "svg", "object", "embed", "details", "style", "math", "base"):
            problems.append(f"<{tag}>")
        if tag == "form" and dict(attrs).get("action", "").startswith("http"):
            problems.append("form posting elsewhere")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "src", "srcdoc"):
                problems.append(f"{tag} {name}")
            if name in ("href", "action") and value and not re.match(r"^(https?:|mailto:|/|#)", value.strip()):
                problems.append(f"{tag} {name}={value}")
    return problems


def discussion(html: str) -> str:
    return html[html.index('id="discussion"') :]


def comment_as(browser: TestClient, pid: str, body: str, parent: int | None = None) -> int:
    data = {"csrf": form_token(browser), "body": body} | ({"parent": str(parent)} if parent else {})
    response = browser.post(f"/papers/{pid}/comments", data=data)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("#comment-", 1)[1])


def test_comments_render_markdown_and_math_but_never_markup(web: Web, store: Store, archive: Path) -> None:
    pid = first_paper(store)
    browser = web()
    sign_in(browser, store, "xss@example.org")
    for body in XSS:
        comment_as(browser, pid, body)
    comment_as(browser, pid, "**Nice** result: $E = mc^2$ and\n\n$$\\int_0^1 x^2\\,dx < 1$$\n\n[code](https://x.org)")
    html = discussion(web().get(f"/papers/{pid}").text)
    assert runnable_markup(html) == []
    assert "<strong>Nice</strong>" in html
    assert '<span class="math inline">E = mc^2</span>' in html
    assert '<div class="math block">\n\\int_0^1 x^2\\,dx &lt; 1\n</div>' in html
    assert '<a href="https://x.org" rel="nofollow ugc noopener noreferrer">code</a>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text
    # The comment count shown includes local comments.
    assert web().get(f"/api/daily_papers?date={DAY}").json()[0]["numComments"] >= len(XSS) + 1


def test_edit_and_delete_only_ones_own_comments(web: Web, store: Store, archive: Path) -> None:
    pid = first_paper(store)
    author, other = web(), web()
    sign_in(author, store, "author@example.org")
    sign_in(other, store, "other@example.org")
    cid = comment_as(author, pid, "first version")

    assert other.get(f"/comments/{cid}/edit").status_code == 403
    assert other.post(f"/comments/{cid}/edit", data={"csrf": form_token(other), "body": "hacked"}).status_code == 403
    assert other.post(f"/comments/{cid}/delete", data={"csrf": form_token(other)}).status_code == 403
    assert author.post(f"/comments/{cid}/edit", data={"body": "no token"}).status_code == 403

    form = author.get(f"/comments/{cid}/edit")
    assert form.status_code == 200 and "first version" in form.text
    edited = author.post(f"/comments/{cid}/edit", data={"csrf": form_token(author), "body": "second version"})
    assert edited.status_code == 303
    page = discussion(web().get(f"/papers/{pid}").text)
    assert "second version" in page and "first version" not in page and "edited" in page

    reply = comment_as(other, pid, "a reply", parent=cid)
    reply_to_reply = comment_as(author, pid, "a reply to the reply", parent=reply)
    assert community.get_comment(store, reply_to_reply).parent_id == cid  # type: ignore[union-attr]  # one level

    assert author.post(f"/comments/{cid}/delete", data={"csrf": form_token(author)}).status_code == 303
    page = discussion(web().get(f"/papers/{pid}").text)
    assert "second version" not in page and "deleted by its author" in page and "a reply" in page
    assert author.get(f"/comments/{cid}/edit").status_code == 404


def test_comments_need_text_and_are_rate_limited(web: Web, paperboy: Paperboy, store: Store, archive: Path) -> None:
    paperboy.settings = paperboy.settings.replace(rate_comments_per_hour=2)
    pid = first_paper(store)
    browser = web()
    sign_in(browser, store, "chatty@example.org")
    empty = browser.post(f"/papers/{pid}/comments", data={"csrf": form_token(browser), "body": "   "})
    assert empty.status_code == 400 and "The comment is empty" in empty.text
    comment_as(browser, pid, "one")
    comment_as(browser, pid, "two")
    limited = browser.post(f"/papers/{pid}/comments", data={"csrf": form_token(browser), "body": "three"})
    assert limited.status_code == 429 and "Too many comments, at most 2 an hour" in limited.text
    assert web().post(f"/papers/{pid}/comments", data={"body": "anon"}).status_code == 303  # to sign-in


def test_moderators_hide_papers_and_comments(web: Web, store: Store, archive: Path) -> None:
    pid = first_paper(store)
    member, moderator = web(), web()
    sign_in(member, store, "mem@example.org")
    sign_in(moderator, store, "mod@example.org", role="moderator")
    cid = comment_as(member, pid, "spam spam spam")

    assert member.post(f"/comments/{cid}/hide", data={"csrf": form_token(member)}).status_code == 403
    assert moderator.post(f"/comments/{cid}/hide", data={"csrf": form_token(moderator)}).status_code == 303
    assert "spam spam" not in web().get(f"/papers/{pid}").text
    assert "hidden by a moderator" in web().get(f"/papers/{pid}").text
    assert "spam spam" in moderator.get(f"/papers/{pid}").text

    assert member.post(f"/papers/{pid}/hide", data={"csrf": form_token(member)}).status_code == 403
    assert moderator.post(f"/papers/{pid}/hide", data={"csrf": form_token(moderator)}).status_code == 303
    assert web().get(f"/papers/{pid}").status_code == 404
    assert pid not in {i["paper"]["id"] for i in web().get(f"/api/daily_papers?date={DAY}").json()}
    assert "Show this paper again" in moderator.get(f"/papers/{pid}").text
    shown = moderator.post(f"/papers/{pid}/hide", data={"csrf": form_token(moderator), "hidden": "0"})
    assert shown.status_code == 303 and web().get(f"/papers/{pid}").status_code == 200


def test_abstract_math_is_marked_and_escaped(web: Web, store: Store) -> None:
    from paperboy.domain import DailyEntry, Paper, Record

    paper = Paper(
        id="2608.00001", title="On $x<y$ <b>bold</b>", abstract="Let $a^2 + b^2 = c^2$ and <script>x</script>"
    )
    store.apply_batch([Record(paper, "test", DailyEntry(paper.id, date(2026, 8, 21)))])
    html = web().get("/papers/2608.00001").text
    assert '<span class="math inline">a^2 + b^2 = c^2</span>' in html
    assert '<span class="math inline">x&lt;y</span> &lt;b&gt;bold&lt;/b&gt;' in html
    assert "<script>x" not in html
