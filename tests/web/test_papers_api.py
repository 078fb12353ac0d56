"""The paper endpoints of the JSON API, read by the real ``huggingface_hub`` client from a live server loaded with
real Hugging Face archive days, and written to with API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils._pagination import paginate

from paperboy.app import Paperboy
from paperboy.sources.base import clean_text
from paperboy.store import Store, accounts, community
from tests.sources.test_arxiv_api import Replay
from tests.web.conftest import archive_file, load_days, original_items
from tests.web.live import serving

DAYS = ("2024-05-27", "2024-12-11", "2025-01-10", "2026-08-21")
TODAY = date(2026, 8, 21)  # the latest archived day: submissions land on it


@pytest.fixture
def base_url(paperboy: Paperboy, shared_data: Path) -> Iterator[str]:
    from paperboy.web.app import create_app

    load_days(paperboy.store, shared_data, *DAYS)
    now = datetime.combine(TODAY, time(12), UTC)
    with serving(create_app(paperboy, clock=lambda: now)) as url:
        yield url


@pytest.fixture
def hf(base_url: str, monkeypatch: pytest.MonkeyPatch) -> HfApi:
    # The client refuses every request in offline mode, which a shell or another library may have switched on;
    # it only talks to our local server here.
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return HfApi(endpoint=base_url, token=False)


def originals(shared_data: Path, day: str) -> dict[str, dict[str, Any]]:
    return {item["paper"]["id"]: item for item in original_items(archive_file(shared_data, day))}


@pytest.mark.parametrize("day", DAYS)
def test_hf_client_lists_a_day_as_hf_did(hf: HfApi, shared_data: Path, day: str) -> None:
    want = originals(shared_data, day)
    got = list(hf.list_daily_papers(date=day, limit=100))
    assert {p.id for p in got} == set(want)
    for paper in got:
        original = want[paper.id]
        assert paper.title == clean_text(original["paper"]["title"])
        assert paper.summary == clean_text(original["paper"]["summary"])
        assert (paper.upvotes or 0) == original["paper"]["upvotes"]
        assert paper.comments == original["numComments"]
        assert [a.name for a in paper.authors or []] == [a["name"] for a in original["paper"]["authors"]]
        # (the client reads githubRepo and ai_summary of list items from the top level, where HF has none either)
        assert paper.published_at is not None and paper.published_at.tzinfo is not None


def test_hf_client_pages_weeks_months_and_trending(hf: HfApi, shared_data: Path) -> None:
    day = "2024-12-11"
    want = set(originals(shared_data, day))
    first = [p.id for p in hf.list_daily_papers(date=day, limit=5, p=0)]
    second = [p.id for p in hf.list_daily_papers(date=day, limit=5, p=1)]
    assert len(first) == 5 and not set(first) & set(second) and set(first + second) <= want
    week = {p.id for p in hf.list_daily_papers(week="2024-W50", limit=100)}
    assert want <= week
    month = {p.id for p in hf.list_daily_papers(month="2024-12", limit=100)}
    assert week <= month
    trending = [p.id for p in hf.list_daily_papers(date="2026-08-21", sort="trending", limit=100)]
    assert set(trending) == set(originals(shared_data, "2026-08-21"))
    with pytest.raises(HfHubHTTPError) as bad:
        list(hf.list_daily_papers(date="2024-13-45"))
    assert bad.value.response.status_code == 400


def test_hf_client_paper_info(hf: HfApi, shared_data: Path) -> None:
    for day in DAYS:
        for pid, original in list(originals(shared_data, day).items())[:3]:
            paper = hf.paper_info(pid)
            assert paper.id == pid
            assert paper.title == clean_text(original["paper"]["title"])
            assert paper.summary == clean_text(original["paper"]["summary"])
            assert (paper.upvotes or 0) == original["paper"]["upvotes"]
            assert paper.comments == original["numComments"]
            assert paper.project_page == original["paper"].get("projectPage")
            assert paper.github_stars == original["paper"].get("githubStars")
            assert paper.github_repo == original["paper"].get("githubRepo")
            assert paper.ai_summary == original["paper"].get("ai_summary")
            assert [a.name for a in paper.authors or []] == [a["name"] for a in original["paper"]["authors"]]
            assert paper.submitted_at is not None
    pid = next(iter(originals(shared_data, DAYS[0])))
    assert hf.paper_info(f"{pid}v3").id == pid  # a versioned id names the paper
    with pytest.raises(HfHubHTTPError) as missing:
        hf.paper_info("2999.99999")
    assert missing.value.response.status_code == 404


def test_hf_client_searches(hf: HfApi, store: Store, shared_data: Path) -> None:
    pid, original = next(iter(originals(shared_data, "2025-01-10").items()))
    title = clean_text(original["paper"]["title"])
    found = list(hf.list_papers(query=title, limit=5))
    assert pid in [p.id for p in found]


def test_cursor_pagination_walks_every_paper_once(hf: HfApi, base_url: str, store: Store) -> None:
    pages = list(paginate(f"{base_url}/api/papers", params={"limit": 7}, headers={}))
    ids = [item["id"] for item in pages]
    assert len(ids) == len(set(ids)) == store.count_papers()
    assert ids == sorted(ids, reverse=True)
    assert all("title" in item and "upvotes" in item and "numComments" in item for item in pages)
    last = httpx.get(f"{base_url}/api/papers", params={"limit": 100, "cursor": _cursor_after(ids[-2])})
    assert [item["id"] for item in last.json()] == [ids[-1]] and "link" not in last.headers


def _cursor_after(paper_id: str) -> str:
    from paperboy.web.papers_api import encode_cursor

    return encode_cursor(paper_id)


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=AAAA", "cursor=", "limit=1e3", "limit=-1"],
)
def test_bad_list_parameters_are_400_with_a_message(base_url: str, query: str) -> None:
    response = httpx.get(f"{base_url}/api/papers?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]


@pytest.mark.parametrize("paper_id", ["nope", "2405.15738%00", "a" * 300, "hep-th/9901001v1x", "%E2%80%AE"])
def test_unknown_or_odd_ids_are_404(base_url: str, paper_id: str) -> None:
    for path in (f"/api/papers/{paper_id}", f"/api/papers/{paper_id}/comments"):
        response = httpx.get(base_url + path)
        assert response.status_code == 404, (path, response.text)
        assert "error" in response.json()


# -- token holders --------------------------------------------------------------------------------------------


@pytest.fixture
def token(store: Store) -> tuple[accounts.User, str]:
    user = accounts.get_or_create_user(store, "api@example.org", datetime.now(UTC))
    return user, accounts.create_api_token(store, user.id, "tests", datetime.now(UTC))


def test_token_holders_submit_vote_and_comment(
    paperboy: Paperboy, http_server: Any, shared_data: Path, token: tuple[accounts.User, str]
) -> None:
    from paperboy.web.app import create_app

    replay = Replay(http_server, shared_data)
    paperboy.settings = paperboy.settings.replace(arxiv_api_url=replay.base_url)
    load_days(paperboy.store, shared_data, "2026-08-21")
    user, secret = token
    auth = {"Authorization": f"Bearer {secret}"}
    now = datetime.combine(TODAY, time(12), UTC)
    with serving(create_app(paperboy, clock=lambda: now)) as base, httpx.Client(base_url=base) as client:
        created = client.post("/api/papers/submit", json={"id": "https://arxiv.org/abs/1707.08567v2"}, headers=auth)
        assert created.status_code == 201, created.text
        assert created.json()["id"] == "1707.08567" and created.json()["submittedOnDailyBy"]["name"] == user.handle
        again = client.post("/api/papers/submit", json={"paperId": "1707.08567"}, headers=auth)
        assert again.status_code == 409 and "already on today's list" in again.json()["error"]
        assert client.post("/api/papers/submit", json={"id": "not an id"}, headers=auth).status_code == 400
        assert client.post("/api/papers/submit", json={"id": 5}, headers=auth).status_code == 400

        pid = "1707.08567"
        before = client.get(f"/api/papers/{pid}").json()["upvotes"]
        for _ in range(3):
            voted = client.post(f"/api/papers/{pid}/upvote", headers=auth)
            assert voted.status_code == 200 and voted.json() == {"paper": pid, "upvotes": before + 1, "voted": True}
        assert client.get(f"/api/papers/{pid}").json()["upvotes"] == before + 1
        assert client.delete(f"/api/papers/{pid}/upvote", headers=auth).json()["upvotes"] == before
        assert client.post("/api/papers/2999.99999/upvote", headers=auth).status_code == 404

        posted = client.post(f"/api/papers/{pid}/comments", json={"comment": "Nice: $E=mc^2$\x00"}, headers=auth)
        assert posted.status_code == 201, posted.text
        comment = posted.json()
        assert comment["body"] == "Nice: $E=mc^2$" and comment["author"]["name"] == user.handle
        reply = client.post(
            f"/api/papers/{pid}/comments", json={"comment": "Agreed.", "parentId": comment["id"]}, headers=auth
        )
        assert reply.status_code == 201 and reply.json()["parentId"] == comment["id"]
        listed = client.get(f"/api/papers/{pid}/comments").json()["comments"]
        assert [c["id"] for c in listed] == [comment["id"], reply.json()["id"]]
        assert client.get(f"/api/papers/{pid}").json()["numComments"] == 2
        for bad in ({"comment": "   "}, {"comment": "x" * 10_001}, {"comment": "hi", "parentId": 999999}, {}):
            assert client.post(f"/api/papers/{pid}/comments", json=bad, headers=auth).status_code == 400, bad


def test_writes_need_a_valid_token(base_url: str, store: Store, token: tuple[accounts.User, str]) -> None:
    pid = store.daily_list(date(2026, 8, 21), limit=1)[0].paper.id
    user, _ = token
    session = accounts.create_session(store, user.id, datetime.now(UTC), __import__("datetime").timedelta(days=1))
    for headers, cookies in (({}, {}), ({"Authorization": "Bearer pb_wrong"}, {}), ({}, {"pb_session": session})):
        with httpx.Client(base_url=base_url, cookies=cookies) as client:
            for response in (
                client.post(f"/api/papers/{pid}/upvote", headers=headers),
                client.delete(f"/api/papers/{pid}/upvote", headers=headers),
                client.post(f"/api/papers/{pid}/comments", json={"comment": "hi"}, headers=headers),
                client.post("/api/papers/submit", json={"id": pid}, headers=headers),
            ):
                assert response.status_code == 401, response.text
                assert response.json()["error"] and response.headers["www-authenticate"] == "Bearer"
    assert community.shown_upvotes(store, pid) == store.get_paper(pid).upvotes  # type: ignore[union-attr]
