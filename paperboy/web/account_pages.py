"""Account pages: sign in by emailed link, sign out, settings (display name, API tokens), profiles, bans.

The emailed link opens a page with a button; only pressing it (a POST) signs in, because mail scanners and link
previews open links by themselves. Signing in always starts a new session id (no session fixation).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from paperboy.mail import MailError
from paperboy.store import accounts, community
from paperboy.web import auth
from paperboy.web.pages import error_page, render
from paperboy.web.site import site_of

log = logging.getLogger(__name__)

CsrfField = Annotated[str, Form(alias=auth.CSRF_FIELD)]
NextParam = Annotated[str | None, Query(alias="next", description="Where to go after signing in.")]
MAX_NAME = 100


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _clean_line(text: str, limit: int) -> str:
    """One line of user text: control characters dropped, spaces collapsed, cut to ``limit``."""
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())[:limit]


# -- sign in -------------------------------------------------------------------------------------------------------


def sign_in_page(request: Request, next_path: NextParam = None) -> Response:
    if auth.current_user(request) is not None:
        return see_other(auth.safe_next(next_path))
    return render(request, "sign_in.html", {"next": auth.safe_next(next_path), "email": "", "problem": None})


def request_sign_in(
    request: Request,
    csrf: CsrfField = "",
    email: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Mail a sign-in link to the address (rate-limited per address and per client)."""
    auth.check_csrf(request, csrf)
    site = site_of(request)
    target = auth.safe_next(next_path)
    address = accounts.normalize_email(email)
    if address is None:
        context = {"next": target, "email": email[:320], "problem": "That does not look like an email address."}
        return render(request, "sign_in.html", context, status=400)
    auth.limit(request, "sign_in_ip", auth.client_ip(request), factor=4)
    auth.limit(request, "sign_in", address)
    settings = site.pb.settings
    minutes = int(settings.sign_in_link_minutes)
    token = accounts.create_sign_in_token(site.store, address, site.clock(), timedelta(minutes=minutes))
    query = {"token": token} | ({"next": target} if target != "/" else {})
    link = f"{str(settings.public_url).rstrip('/')}/sign-in/confirm?{urlencode(query)}"
    mailer = site.pb.mailer
    text = (
        f"Hello,\n\nto sign in to paperboy, open this link within {minutes} minutes and press the button:\n\n"
        f"{link}\n\nThe link works once. If you did not ask to sign in, ignore this mail: nothing happens.\n"
    )
    try:
        mailer.send(mailer.compose(address, "Your paperboy sign-in link", text))
    except MailError as exc:
        log.warning("sign-in mail to %s failed: %s", address, exc)
        return error_page(
            request, 503, "We could not send the mail", "The mail server did not accept the sign-in mail. Try later."
        )
    return render(request, "sign_in_sent.html", {"email": address, "minutes": minutes})


def confirm_page(request: Request, token: Annotated[str, Query()] = "", next_path: NextParam = None) -> HTMLResponse:
    """What the emailed link opens: a button, so that merely opening the link signs no one in."""
    site = site_of(request)
    email = accounts.peek_sign_in_token(site.store, token, site.clock()) if token else None
    if email is None:
        return _link_spent(request)
    return render(request, "sign_in_confirm.html", {"email": email, "token": token, "next": auth.safe_next(next_path)})


def _link_spent(request: Request) -> HTMLResponse:
    return error_page(
        request,
        400,
        "This sign-in link cannot be used",
        "It has expired or was already used. Links work once, for a few minutes. "
        "Ask for a new one on the sign-in page.",
    )


def confirm_sign_in(
    request: Request,
    csrf: CsrfField = "",
    token: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Spend the token, create the user on first sign-in, start a new session."""
    auth.check_csrf(request, csrf)
    site = site_of(request)
    now = site.clock()
    email = accounts.use_sign_in_token(site.store, token, now) if token else None
    if email is None:
        return _link_spent(request)
    user = accounts.get_or_create_user(site.store, email, now)
    if user.banned:
        return error_page(request, 403, "This account is banned", "A moderator has banned this account.")
    old = request.cookies.get(auth.SESSION_COOKIE)
    if old:
        accounts.end_session(site.store, old)
    days = int(site.pb.settings.session_days)
    session_id = accounts.create_session(site.store, user.id, now, timedelta(days=days))
    response = see_other(auth.safe_next(next_path))
    auth.set_cookie(request, response, auth.SESSION_COOKIE, session_id, max_age=days * 86400)
    response.delete_cookie(auth.CSRF_COOKIE, path="/")
    return response


def sign_out(request: Request, csrf: CsrfField = "") -> Response:
    auth.check_csrf(request, csrf)
    session_id = request.cookies.get(auth.SESSION_COOKIE)
    if session_id:
        accounts.end_session(site_of(request).store, session_id)
    response = see_other("/")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# -- settings ------------------------------------------------------------------------------------------------------


def settings_page(request: Request, new_token: str | None = None, status: int = 200) -> Response:
    user = auth.current_user(request)
    if user is None:
        return see_other(auth.sign_in_url("/settings"))
    tokens = accounts.list_api_tokens(site_of(request).store, user.id)
    return render(request, "settings.html", {"tokens": tokens, "new_token": new_token}, status)


def save_settings(request: Request, csrf: CsrfField = "", display_name: Annotated[str, Form()] = "") -> Response:
    user = auth.require_user(request)
    auth.check_csrf(request, csrf)
    accounts.set_display_name(site_of(request).store, user.id, _clean_line(display_name, MAX_NAME) or None)
    return see_other("/settings")


def create_token(request: Request, csrf: CsrfField = "", name: Annotated[str, Form()] = "") -> Response:
    """A new personal API token, shown on this one response and never again."""
    user = auth.require_user(request)
    auth.check_csrf(request, csrf)
    site = site_of(request)
    label = _clean_line(name, MAX_NAME) or "API token"
    token = accounts.create_api_token(site.store, user.id, label, site.clock())
    return settings_page(request, new_token=token)


def revoke_token(request: Request, token_id: int, csrf: CsrfField = "") -> Response:
    user = auth.require_user(request)
    auth.check_csrf(request, csrf)
    if not accounts.revoke_api_token(site_of(request).store, user.id, token_id):
        raise HTTPException(404, "No such token among yours.")
    return see_other("/settings")


# -- profiles and bans ---------------------------------------------------------------------------------------------


def profile_page(request: Request, handle: str) -> Response:
    site = site_of(request)
    person = accounts.user_by_handle(site.store, handle)
    if person is None:
        return error_page(request, 404, "No such user", f"Nobody here goes by “{handle}”.")
    context = {
        "person": person,
        "submissions": community.user_submissions(site.store, person.id),
        "upvoted": community.user_upvoted(site.store, person.id),
        "comments": community.user_comments(site.store, person.id),
    }
    return render(request, "profile.html", context)


def ban_user(request: Request, handle: str, csrf: CsrfField = "", banned: Annotated[str, Form()] = "1") -> Response:
    """Moderators ban members; only admins ban (or unban) moderators and admins. Nobody bans themselves."""
    moderator = auth.require_moderator(request)
    auth.check_csrf(request, csrf)
    site = site_of(request)
    person = accounts.user_by_handle(site.store, handle)
    if person is None:
        raise HTTPException(404, f"Nobody here goes by “{handle}”.")
    if person.id == moderator.id:
        raise HTTPException(403, "You cannot ban yourself.")
    if person.is_moderator and not moderator.is_admin:
        raise HTTPException(403, "Only an admin can ban a moderator or an admin.")
    accounts.set_banned(site.store, person.id, banned == "1")
    return see_other(f"/u/{quote(person.handle)}")


def whoami(request: Request) -> JSONResponse:
    """The token holder, in the shape of Hugging Face's ``/api/whoami-v2`` (so ``HfApi.whoami()`` works)."""
    user = auth.require_user(request)
    return JSONResponse({"type": "user", "name": user.handle, "fullname": user.name, "email": user.email})
