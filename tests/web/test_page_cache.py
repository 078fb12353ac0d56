"""The page cache: anonymous pages are served from it, and every vote, comment and ingest shows at once."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from paperboy.app import Paperboy
from paperboy.store import Store, community
from paperboy.web.app import create_app
from tests.web.conftest import form_token, load_days, sign_in

TODAY = date(2026, 8, 21)


def app_with(paperboy: Paperboy, seconds: float) -> TestClient:
    paperboy.settings = paperboy.settings.replace(page_cache_seconds=seconds)
    now = datetime.combine(TODAY, time(12), UTC)
    return TestClient(create_app(paperboy, clock=lambda: now), follow_redirects=False)


def shown_votes(html: str) -> int:
    match = re.search(r'class="votes-count">(\d+)<', html)
    assert match
    return int(match.group(1))


def test_votes_and_comments_through_the_site_show_at_once(paperboy: Paperboy, store: Store, shared_data: Path) -> None:
    load_days(store, shared_data, "2026-08-21")
    pid = store.daily_list(TODAY, limit=1)[0].paper.id
    visitor = app_with(paperboy, 3600)  # only this process writes: its own POSTs invalidate
    member = TestClient(visitor.app, follow_redirects=False)
    sign_in(member, store, "m@example.org")
    cache = visitor.app.state  # set on the first request
    first = visitor.get(f"/papers/{pid}").text
    assert visitor.get(f"/papers/{pid}").text == first
    assert cache.page_cache.stats.hits >= 1
    before = shown_votes(first)
    token = form_token(member)
    assert member.post(f"/papers/{pid}/vote", data={"csrf": token, "vote": "1"}).status_code == 303
    assert shown_votes(visitor.get(f"/papers/{pid}").text) == before + 1
    assert shown_votes(visitor.get("/").text) == before + 1  # the list too
    member.post(f"/papers/{pid}/comments", data={"csrf": token, "body": "Cached? Not this."})
    assert "Cached? Not this." in visitor.get(f"/papers/{pid}").text
    member.post(f"/papers/{pid}/vote", data={"csrf": token, "vote": "0"})
    assert shown_votes(visitor.get(f"/papers/{pid}").text) == before
    # Signed-in pages are never cached: they show the member's own state.
    assert 'aria-pressed="false"' in member.get(f"/papers/{pid}").text


def test_changes_by_other_processes_show_after_the_recheck(paperboy: Paperboy, store: Store, shared_data: Path) -> None:
    load_days(store, shared_data, "2026-08-20")
    visitor = app_with(paperboy, 0)  # check the store on every request
    assert visitor.get("/papers/date/2026-08-21").text.count('class="card') == 0
    assert visitor.get("/papers/date/2026-08-21").status_code == 200
    load_days(store, shared_data, "2026-08-21")  # an ingest run elsewhere
    listed = store.daily_list(TODAY)
    html = visitor.get("/papers/date/2026-08-21").text
    assert all(lp.paper.title.split()[0] in html for lp in listed[:5])
    pid = listed[0].paper.id
    before = shown_votes(visitor.get(f"/papers/{pid}").text)
    from paperboy.store import accounts

    user = accounts.get_or_create_user(store, "elsewhere@example.org", datetime.now(UTC))
    community.vote(store, user.id, pid, datetime.now(UTC))  # a vote on another web node
    assert shown_votes(visitor.get(f"/papers/{pid}").text) == before + 1
    hits = visitor.app.state.page_cache.stats.hits
    visitor.get(f"/papers/{pid}")
    assert visitor.app.state.page_cache.stats.hits == hits + 1


def test_the_cache_can_be_switched_off(paperboy: Paperboy, store: Store) -> None:
    paperboy.settings = paperboy.settings.replace(page_cache=False)
    client = TestClient(create_app(paperboy))
    assert client.get("/").status_code == 200
    assert not hasattr(client.app.state, "page_cache")


def test_concurrent_misses_of_one_page_render_it_once(paperboy: Paperboy, store: Store, shared_data: Path) -> None:
    """When a page expires under load every client asks for it at once: one renders, the others get its result."""
    load_days(store, shared_data, "2026-08-21")
    pid = store.daily_list(TODAY, limit=1)[0].paper.id
    paperboy.settings = paperboy.settings.replace(page_cache_seconds=3600)
    now = datetime.combine(TODAY, time(12), UTC)
    app = create_app(paperboy, clock=lambda: now)

    async def fetch_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/healthz")  # builds the middleware stack, so the cache exists before the burst
            return await asyncio.gather(*(client.get(f"/papers/{pid}") for _ in range(20)))

    responses = asyncio.run(fetch_all())
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1 and pid in responses[0].text
    stats = app.state.page_cache.stats
    assert stats.misses == 1 and stats.joined == 19 and stats.hits == 0
