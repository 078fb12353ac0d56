"""Accounts end to end: sign-in links through a real SMTP server, sessions, CSRF, rate limits, tokens, roles, bans."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperboy.app import Paperboy
from paperboy.cli import app as cli_app
from paperboy.store import Store, accounts
from paperboy.store.schema import api_tokens, sessions, sign_in_tokens
from tests.smtp import SmtpServer
from tests.web.conftest import Clock, csrf_from, form_token, sign_in

Web = Callable[[], TestClient]


@pytest.fixture
def mailing(paperboy: Paperboy, smtp_server: SmtpServer) -> SmtpServer:
    paperboy.settings = paperboy.settings.replace(smtp_url=smtp_server.url, public_url="http://papers.test")
    return smtp_server


def link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(r"http://papers\.test(/sign-in/confirm\?\S+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)


def ask_for_link(client: TestClient, email: str, next_path: str = "/") -> TestClient:
    token = csrf_from(client.get("/sign-in").text)
    response = client.post("/sign-in", data={"csrf": token, "email": email, "next": next_path})
    assert response.status_code == 200, response.text
    assert "Check your inbox" in response.text
    return client


def confirm(client: TestClient, link: str) -> object:
    page = client.get(link)
    assert page.status_code == 200
    token = parse_qs(urlsplit(link).query)["token"][0]
    next_path = parse_qs(urlsplit(link).query).get("next", ["/"])[0]
    return client.post("/sign-in/confirm", data={"csrf": csrf_from(page.text), "token": token, "next": next_path})


def test_sign_in_by_emailed_link(web: Web, mailing: SmtpServer, store: Store) -> None:
    browser = web()
    ask_for_link(browser, "Ada.Lovelace+papers@Example.org", "/submit")
    (message,) = mailing.wait_for(1)
    assert message["To"] == "ada.lovelace+papers@example.org"
    link = link_in(message)

    # Opening the link (what a mail scanner does) only shows a button and spends nothing.
    scanner = web()
    for _ in range(2):
        page = scanner.get(link)
        assert page.status_code == 200 and "Sign in as ada.lovelace+papers@example.org?" in page.text
        assert "pb_session" not in page.cookies

    done = confirm(browser, link)
    assert done.status_code == 303 and done.headers["location"] == "/submit"  # type: ignore[attr-defined]
    cookie = done.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "pb_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # public_url is http here
    settings = browser.get("/settings")
    assert settings.status_code == 200 and "ada.lovelace+papers@example.org" in settings.text
    user = accounts.user_by_email(store, "ada.lovelace+papers@example.org")
    assert user is not None and user.handle == "ada-lovelace" and user.role == "member"

    # Single use: the same link cannot sign anyone in again.
    again = web()
    assert again.get(link).status_code == 400
    token = parse_qs(urlsplit(link).query)["token"][0]
    csrf = csrf_from(again.get("/sign-in").text)
    refused = again.post("/sign-in/confirm", data={"csrf": csrf, "token": token})
    assert refused.status_code == 400 and "expired or was already used" in refused.text


def test_only_hashes_of_secrets_are_stored(web: Web, mailing: SmtpServer, store: Store) -> None:
    browser = web()
    ask_for_link(browser, "h@example.org")
    link = link_in(mailing.wait_for(1)[0])
    token = parse_qs(urlsplit(link).query)["token"][0]
    done = confirm(browser, link)
    session_id = done.cookies["pb_session"]  # type: ignore[attr-defined]
    with store.read() as conn:
        stored = [row[0] for row in conn.execute(sa.select(sign_in_tokens.c.token_hash))]
        stored += [row[0] for row in conn.execute(sa.select(sessions.c.id_hash))]
    assert token not in stored and session_id not in stored
    assert accounts.hash_secret(token) in stored and accounts.hash_secret(session_id) in stored


def test_links_expire_after_ten_minutes(web: Web, mailing: SmtpServer, clock: Clock) -> None:
    browser = web()
    ask_for_link(browser, "late@example.org")
    link = link_in(mailing.wait_for(1)[0])
    page = browser.get(link)
    clock.now += timedelta(minutes=10, seconds=1)
    token = parse_qs(urlsplit(link).query)["token"][0]
    response = browser.post("/sign-in/confirm", data={"csrf": csrf_from(page.text), "token": token})
    assert response.status_code == 400
    assert browser.get("/settings").status_code == 303  # still signed out


def test_the_session_id_changes_at_sign_in_and_sign_out_ends_it(web: Web, mailing: SmtpServer, store: Store) -> None:
    browser = web()
    now = Clock.now_utc()
    old = accounts.create_session(store, accounts.get_or_create_user(store, "x@example.org", now).id, now, timedelta(1))
    browser.cookies.set("pb_session", old)
    ask_for_link(web(), "y@example.org")  # asked elsewhere; the link is opened in the browser with the old session
    done = confirm(browser, link_in(mailing.wait_for(1)[0]))
    new = done.cookies["pb_session"]  # type: ignore[attr-defined]
    assert new and new != old
    assert accounts.session_user(store, old, Clock.now_utc()) is None  # the previous session is gone
    browser.cookies.set("pb_session", new)
    out = browser.post("/sign-out", data={"csrf": form_token(browser)})
    assert out.status_code == 303
    assert accounts.session_user(store, new, Clock.now_utc()) is None
    assert browser.get("/settings").status_code == 303


def test_cookies_are_secure_behind_https(web: Web, paperboy: Paperboy, mailing: SmtpServer) -> None:
    paperboy.settings = paperboy.settings.replace(public_url="https://papers.test")
    response = web().get("/sign-in")
    assert "Secure" in response.headers["set-cookie"]
    paperboy.settings = paperboy.settings.replace(public_url="http://papers.test", secure_cookies=True)
    assert "Secure" in web().get("/sign-in").headers["set-cookie"]


def test_forms_without_a_valid_csrf_token_are_refused(web: Web, store: Store, mailing: SmtpServer) -> None:
    browser = web()
    sign_in(browser, store, "c@example.org")
    for data in ({}, {"csrf": "0" * 64}):
        response = browser.post("/settings", data={"display_name": "Mallory", **data})
        assert response.status_code == 403 and "did not come from this site" in response.text
    # Another visitor's token does not work for this session, and a token for a signed-out visitor fails too.
    other = web()
    sign_in(other, store, "d@example.org")
    assert browser.post("/settings", data={"csrf": form_token(other), "display_name": "M"}).status_code == 403
    anonymous = web()
    assert anonymous.post("/sign-in", data={"email": "e@example.org"}).status_code == 403
    assert mailing.received == []
    # With the right token it works.
    ok = browser.post("/settings", data={"csrf": form_token(browser), "display_name": "  Carol   C.  "})
    assert ok.status_code == 303
    assert accounts.user_by_email(store, "c@example.org").display_name == "Carol C."  # type: ignore[union-attr]


def test_sign_in_mails_are_rate_limited(web: Web, paperboy: Paperboy, mailing: SmtpServer) -> None:
    paperboy.settings = paperboy.settings.replace(rate_sign_in_per_hour=2)
    browser = web()
    ask_for_link(browser, "r@example.org")
    ask_for_link(browser, "r@example.org")
    token = csrf_from(browser.get("/sign-in").text)
    response = browser.post("/sign-in", data={"csrf": token, "email": "r@example.org"})
    assert response.status_code == 429
    assert "Too many sign-in mails to this address, at most 2 an hour" in response.text
    assert response.headers["retry-after"] == "3600"
    assert len(mailing.received) == 2
    ask_for_link(browser, "s@example.org")  # another address still works


def test_a_bad_address_is_refused_with_a_message(web: Web, mailing: SmtpServer) -> None:
    browser = web()
    token = csrf_from(browser.get("/sign-in").text)
    response = browser.post("/sign-in", data={"csrf": token, "email": "not an address"})
    assert response.status_code == 400 and "does not look like an email address" in response.text


def test_handles_are_unique(store: Store) -> None:
    now = Clock.now_utc()
    handles = [accounts.get_or_create_user(store, f"sam{suffix}@{d}.org", now).handle for suffix, d in
               [("", "a"), ("", "b"), ("+x", "c")]]  # fmt: skip
    assert handles == ["sam", "sam-2", "sam-3"]
    assert accounts.get_or_create_user(store, "SAM@a.org", now).handle == "sam"  # same address, same user
    assert accounts.handle_base("Jürgen.K@x.org") == "jurgen-k"
    assert accounts.handle_base("...@x.org") == "user"


def test_api_tokens_are_shown_once_and_work_as_bearer(web: Web, store: Store) -> None:
    browser = web()
    user = sign_in(browser, store, "tok@example.org")
    page = browser.post("/settings/tokens", data={"csrf": form_token(browser), "name": "my script"})
    assert page.status_code == 200
    token = re.search(r'<code class="token" id="new-token">([^<]+)</code>', page.text).group(1)  # type: ignore[union-attr]
    assert token.startswith("pb_")
    listing = browser.get("/settings").text
    assert "my script" in listing and token not in listing  # shown once only
    with store.read() as conn:
        assert conn.execute(sa.select(api_tokens.c.token_hash)).scalar_one() == accounts.hash_secret(token)

    api = web()
    me = api.get("/api/whoami-v2", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["name"] == user.handle
    assert api.get("/api/whoami-v2").status_code == 401
    assert api.get("/api/whoami-v2", headers={"Authorization": "Bearer pb_nope"}).json()["error"]

    (listed,) = accounts.list_api_tokens(store, user.id)
    other = web()
    sign_in(other, store, "other@example.org")
    assert other.post(f"/settings/tokens/{listed.id}/revoke", data={"csrf": form_token(other)}).status_code == 404
    revoked = browser.post(f"/settings/tokens/{listed.id}/revoke", data={"csrf": form_token(browser)})
    assert revoked.status_code == 303
    assert api.get("/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_cli_sets_roles(paperboy: Paperboy, store: Store, database_url: str) -> None:
    accounts.get_or_create_user(store, "boss@example.org", Clock.now_utc())
    runner = CliRunner()
    result = runner.invoke(cli_app, ["user", "role", "boss@example.org", "admin", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert accounts.user_by_email(store, "boss@example.org").role == "admin"  # type: ignore[union-attr]
    missing = runner.invoke(cli_app, ["user", "role", "nobody@example.org", "admin", "--database-url", database_url])
    assert missing.exit_code == 1
    wrong = runner.invoke(cli_app, ["user", "role", "boss@example.org", "king", "--database-url", database_url])
    assert wrong.exit_code != 0


def test_moderators_ban_members_and_a_ban_ends_sessions(web: Web, store: Store, mailing: SmtpServer) -> None:
    member_browser, mod_browser, admin_browser = web(), web(), web()
    member = sign_in(member_browser, store, "m@example.org")
    moderator = sign_in(mod_browser, store, "mod@example.org", role="moderator")
    sign_in(admin_browser, store, "root@example.org", role="admin")

    assert (
        member_browser.post(f"/u/{moderator.handle}/ban", data={"csrf": form_token(member_browser)}).status_code == 403
    )
    assert mod_browser.post(f"/u/{moderator.handle}/ban", data={"csrf": form_token(mod_browser)}).status_code == 403
    root = accounts.user_by_email(store, "root@example.org")
    assert mod_browser.post(f"/u/{root.handle}/ban", data={"csrf": form_token(mod_browser)}).status_code == 403  # type: ignore[union-attr]

    profile = mod_browser.get(f"/u/{member.handle}").text
    assert "Ban this user" in profile
    response = mod_browser.post(f"/u/{member.handle}/ban", data={"csrf": form_token(mod_browser), "banned": "1"})
    assert response.status_code == 303
    assert member_browser.get("/settings").status_code == 303  # signed out everywhere
    assert "This account is banned" in web().get(f"/u/{member.handle}").text

    # Signing in again does not get round the ban.
    again = web()
    ask_for_link(again, "m@example.org")
    refused = confirm(again, link_in(mailing.wait_for(1)[0]))
    assert refused.status_code == 403  # type: ignore[attr-defined]

    # An admin can ban a moderator.
    ban_mod = admin_browser.post(f"/u/{moderator.handle}/ban", data={"csrf": form_token(admin_browser)})
    assert ban_mod.status_code == 303
    assert accounts.user_by_email(store, "mod@example.org").banned  # type: ignore[union-attr]


def test_pages_show_who_is_signed_in(web: Web, store: Store) -> None:
    anonymous = web().get("/about").text
    assert 'href="/sign-in?next=/about"' in anonymous and "Sign out" not in anonymous
    browser = web()
    user = sign_in(browser, store, "nav@example.org")
    page = browser.get("/about").text
    assert f'href="/u/{user.handle}"' in page and "Sign out" in page
    assert web().get("/u/nobody-here").status_code == 404
    assert web().get("/settings").headers["location"] == "/sign-in?next=/settings"
