"""Digest pages: subscribe (double opt-in), confirm, preferences, and RFC 8058 one-click unsubscribe.

Links in mails carry a signed token (see paperboy/digest/tokens.py), so no one needs to sign in to manage a
subscription. Opening a link (GET) never changes anything, because mail scanners open links by themselves; the
buttons on those pages POST. The one-click unsubscribe POST is the deliberate exception to CSRF (its signed token is
the authority, and mail providers send it without cookies): it answers 200 with no redirect, whatever the body.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from paperboy.app import Paperboy
from paperboy.digest import subscriptions, tokens
from paperboy.digest.compose import Composer
from paperboy.digest.periods import zone
from paperboy.digest.subscriptions import InvalidPreference, Preferences, Subscriber
from paperboy.mail import MailError
from paperboy.store import digests as db
from paperboy.web import auth
from paperboy.web.pages import error_page, render
from paperboy.web.site import site_of

log = logging.getLogger(__name__)
CsrfField = Annotated[str, Form(alias=auth.CSRF_FIELD)]
TokenQuery = Annotated[str, Query(alias="t", description="The signed token from the mail.")]
COMMON_ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Shanghai",
                "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney")  # fmt: skip


def _bad_link(request: Request) -> HTMLResponse:
    return error_page(
        request,
        400,
        "This link cannot be used",
        "It is incomplete, was changed, or has expired. Subscribe again on the digest page to get a new one.",
    )


def _limit(request: Request, what: str, who: str, allowed: int) -> None:
    site = site_of(request)
    now = site.clock()
    window = now.replace(minute=0, second=0, microsecond=0)
    if not db.hit_rate_limit(site.store, f"digest-{what}:{who}", window, allowed):
        raise HTTPException(
            429, "Too many subscribe requests. Please wait an hour and try again.", {"Retry-After": "3600"}
        )


# -- subscribe -------------------------------------------------------------------------------------------------


def subscribe_page(request: Request) -> HTMLResponse:
    """The form: an address and daily or weekly. Signed-in users find their address filled in."""
    user = auth.current_user(request)
    return render(request, "digest/subscribe.html", {"email": user.email if user else "", "problem": None})


def subscribe(
    request: Request,
    csrf: CsrfField = "",
    email: Annotated[str, Form()] = "",
    frequency: Annotated[str, Form()] = "daily",
) -> HTMLResponse:
    """Create a pending subscription and mail the confirmation link (or, if confirmed already, a preferences link:
    the page says the same either way, so the form reveals nothing about who subscribed)."""
    auth.check_csrf(request, csrf)
    site = site_of(request)
    address = subscriptions.normalize_email(email)
    if address is None or frequency not in ("daily", "weekly"):
        problem = "That does not look like an email address." if address is None else "Choose daily or weekly."
        return render(request, "digest/subscribe.html", {"email": email[:320], "problem": problem}, status=400)
    _limit(request, "subscribe-ip", auth.client_ip(request), site.pb.settings.digest_subscribe_per_client)
    _limit(request, "subscribe", address, site.pb.settings.digest_subscribe_per_address)
    user = auth.current_user(request)
    sub = subscriptions.subscribe(site.pb, address, frequency, user.id if user else None, site.clock())
    try:
        send_confirmation(site.pb, sub)
    except MailError as exc:
        log.warning("digest confirmation to %s failed: %s", address, exc)
        return error_page(
            request, 503, "We could not send the mail", "The mail server did not accept the confirmation. Try later."
        )
    return render(request, "digest/subscribe_sent.html", {"email": address})


def send_confirmation(pb: Paperboy, sub: Subscriber) -> None:
    """The double opt-in mail (a suppressed address gets nothing: it bounced hard before)."""
    with pb.store.read() as conn:
        if db.suppressed(conn, [sub.email]):
            return
    message = Composer(pb).confirmation(sub.id, sub.email, already_confirmed=sub.status == "confirmed")
    pb.mailer.send(message)


# -- confirm ---------------------------------------------------------------------------------------------------


def confirm_page(request: Request, token: TokenQuery = "") -> HTMLResponse:
    site = site_of(request)
    sub = subscriptions.from_token(site.pb, tokens.CONFIRM, token)
    if sub is None:
        return _bad_link(request)
    return render(request, "digest/confirm.html", {"email": sub.email, "token": token})


def confirm(request: Request, csrf: CsrfField = "", token: Annotated[str, Form()] = "") -> Response:
    auth.check_csrf(request, csrf)
    site = site_of(request)
    sub = subscriptions.from_token(site.pb, tokens.CONFIRM, token)
    if sub is None:
        return _bad_link(request)
    sub = subscriptions.confirm(site.pb, sub, site.clock())
    manage = subscriptions.token_for(site.pb, tokens.MANAGE, sub)
    return RedirectResponse(f"/digest/preferences?t={manage}&confirmed=1", status_code=303)


# -- preferences -----------------------------------------------------------------------------------------------


def _preferences_context(sub: Subscriber, token: str, problem: str | None, saved: bool) -> dict[str, object]:
    return {
        "sub": sub,
        "prefs": sub.preferences,
        "token": token,
        "problem": problem,
        "saved": saved,
        "zones": COMMON_ZONES if sub.timezone in COMMON_ZONES else (sub.timezone, *COMMON_ZONES),
    }


def preferences_page(
    request: Request, token: TokenQuery = "", confirmed: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    site = site_of(request)
    sub = subscriptions.from_token(site.pb, tokens.MANAGE, token)
    if sub is None:
        return _bad_link(request)
    return render(request, "digest/preferences.html", _preferences_context(sub, token, None, bool(confirmed)))


def save_preferences(
    request: Request,
    csrf: CsrfField = "",
    token: Annotated[str, Form()] = "",
    frequency: Annotated[str, Form()] = "daily",
    send_hour: Annotated[str, Form()] = "7",
    timezone: Annotated[str, Form()] = "UTC",
    trending: Annotated[str, Form()] = "10",
    max_papers: Annotated[str, Form()] = "20",
    queries: Annotated[str, Form()] = "",
    exclude: Annotated[str, Form()] = "",
    categories: Annotated[str, Form()] = "",
    authors: Annotated[str, Form()] = "",
    send_empty: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    auth.check_csrf(request, csrf)
    site = site_of(request)
    sub = subscriptions.from_token(site.pb, tokens.MANAGE, token)
    if sub is None:
        return _bad_link(request)
    try:
        numbers = {}
        for name, text in (("send hour", send_hour), ("trending top N", trending), ("papers per digest", max_papers)):
            if not text.strip().isdigit():
                raise InvalidPreference(f"{name} must be a whole number")
            numbers[name] = int(text)
        if zone(timezone.strip()) is None:
            raise InvalidPreference(f"{timezone[:64]!r} is not a time zone; use a name like Europe/Berlin or UTC")
        preferences = Preferences(
            trending=numbers["trending top N"],
            queries=subscriptions.split_list(queries),
            exclude=subscriptions.split_list(exclude),
            categories=subscriptions.split_list(categories),
            authors=subscriptions.split_list(authors),
            max_papers=numbers["papers per digest"],
            send_empty=send_empty is not None,
        )
        sub = subscriptions.update(site.pb, sub, frequency, numbers["send hour"], timezone.strip(), preferences)
    except InvalidPreference as exc:
        return render(request, "digest/preferences.html", _preferences_context(sub, token, str(exc), False), 400)
    return render(request, "digest/preferences.html", _preferences_context(sub, token, None, True))


# -- unsubscribe -----------------------------------------------------------------------------------------------


def unsubscribe_page(request: Request, token: TokenQuery = "") -> HTMLResponse:
    """What the link opens: a button. Nothing changes until it is pressed."""
    site = site_of(request)
    sub = subscriptions.from_token(site.pb, tokens.UNSUBSCRIBE, token)
    if sub is None:
        return _bad_link(request)
    return render(request, "digest/unsubscribe.html", {"email": sub.email, "token": token, "done": False})


async def unsubscribe(request: Request, token: TokenQuery = "") -> Response:
    """RFC 8058 one-click: a cookieless POST to the URL of the ``List-Unsubscribe`` header. The token in the URL is
    the authority; the body (``List-Unsubscribe=One-Click``, urlencoded or multipart) is accepted whatever it is.
    Answers 200 with a page, never a redirect; repeating it is harmless."""
    from starlette.concurrency import run_in_threadpool

    await request.body()  # read and ignore: some clients send multipart, some urlencoded
    site = site_of(request)

    def act() -> Subscriber | None:
        sub = subscriptions.from_token(site.pb, tokens.UNSUBSCRIBE, token)
        if sub is not None and sub.status != "unsubscribed":
            subscriptions.unsubscribe(site.pb, sub, site.clock())
        return sub

    sub = await run_in_threadpool(act)
    if sub is None:
        return _bad_link(request)
    return render(request, "digest/unsubscribe.html", {"email": sub.email, "token": token, "done": True})
