"""Who is asking, and may they: session cookies, API bearer tokens, CSRF tokens, roles and rate limits.

A session cookie (``pb_session``) holds a random id whose hash is a row in the database; an API client sends
``Authorization: Bearer pb_...`` instead. Every form carries a CSRF token, an HMAC (keyed by the site's secret) of
the session id, or for visitors not signed in, of a random ``pb_csrf`` cookie (a signed double-submit cookie):
another site can make a browser send the cookies, but cannot read them to compute the token. Bearer-token calls need
no CSRF token, because browsers never attach that header on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException

from paperboy.store import accounts
from paperboy.store.accounts import User
from paperboy.web.site import site_of

SESSION_COOKIE = "pb_session"
CSRF_COOKIE = "pb_csrf"
CSRF_FIELD = "csrf"
_UNSET = object()

# action -> (setting with the limit, window, what the 429 message calls it)
LIMITS: dict[str, tuple[str, timedelta, str]] = {
    "sign_in": ("rate_sign_in_per_hour", timedelta(hours=1), "sign-in mails to this address, at most {n} an hour"),
    "sign_in_ip": ("rate_sign_in_per_hour", timedelta(hours=1), "sign-in mails from your network, {n} an hour"),
    "submit": ("rate_submissions_per_day", timedelta(days=1), "submissions, at most {n} a day"),
    "vote": ("rate_votes_per_minute", timedelta(minutes=1), "votes, at most {n} a minute"),
    "comment": ("rate_comments_per_hour", timedelta(hours=1), "comments, at most {n} an hour"),
}


def secure_cookies(request: Request) -> bool:
    settings = site_of(request).pb.settings
    return bool(settings.secure_cookies) or str(settings.public_url).startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure_cookies(request), path="/"
    )


# -- who is asking -------------------------------------------------------------------------------------------------


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_user(request: Request) -> User | None:
    """The signed-in user (session cookie) or token holder (bearer), looked up once per request."""
    cached = getattr(request.state, "user", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[no-any-return]
    site = site_of(request)
    user: User | None = None
    token = bearer_token(request)
    if token is not None:
        user = accounts.token_user(site.store, token, site.clock())
        request.state.via_token = True
    elif session_id := request.cookies.get(SESSION_COOKIE):
        user = accounts.session_user(site.store, session_id, site.clock())
    request.state.user = user
    return user


def via_token(request: Request) -> bool:
    return bool(getattr(request.state, "via_token", False))


def sign_in_url(next_path: str) -> str:
    return f"/sign-in?next={quote(next_path, safe='/')}"


def require_user(request: Request) -> User:
    """The user, or 401: pages answer with a redirect to the sign-in page instead (see :func:`sign_in_redirect`)."""
    user = current_user(request)
    if user is None:
        if bearer_token(request) is not None:
            raise HTTPException(401, "the API token is unknown or revoked", {"WWW-Authenticate": "Bearer"})
        raise HTTPException(401, "sign in first", {"WWW-Authenticate": "Bearer"})
    return user


def require_moderator(request: Request) -> User:
    user = require_user(request)
    if not user.is_moderator:
        raise HTTPException(403, "Only moderators can do this.")
    return user


def safe_next(text: str | None, default: str = "/") -> str:
    """A local path to go to after a form, never another site (``//evil.example`` or ``https://...``)."""
    if not text or not text.startswith("/") or text.startswith("//") or "\\" in text or any(ord(c) < 32 for c in text):
        return default
    return text


# -- CSRF ----------------------------------------------------------------------------------------------------------


def _csrf_for(request: Request, binding: str) -> str:
    key = site_of(request).pb.secret_key
    return hmac.new(key, b"csrf|" + binding.encode(), hashlib.sha256).hexdigest()


def _binding(request: Request, create: bool) -> str | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and current_user(request) is not None:
        return "s:" + session_id
    anon = getattr(request.state, "new_csrf_cookie", None) or request.cookies.get(CSRF_COOKIE)
    if not anon and create:
        anon = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = anon  # render() sets the cookie on the response
    return "a:" + anon if anon else None


def csrf_token(request: Request) -> str:
    binding = _binding(request, create=True)
    assert binding is not None
    return _csrf_for(request, binding)


def csrf_field(request: Request) -> Markup:
    """The hidden input every form carries (a Jinja global)."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">')


def check_csrf(request: Request, token: str | None) -> None:
    """Refuse a form whose token does not match this browser's session or CSRF cookie (403)."""
    if via_token(request) and current_user(request) is not None:
        return
    binding = _binding(request, create=False)
    if binding is None or not token or not hmac.compare_digest(_csrf_for(request, binding), token):
        raise HTTPException(
            403,
            "This form has expired or did not come from this site. Go back, reload the page and try again "
            "(the site needs cookies to accept forms).",
        )


def remember_csrf_cookie(request: Request, response: Response) -> None:
    value = getattr(request.state, "new_csrf_cookie", None)
    if value:
        set_cookie(request, response, CSRF_COOKIE, value, max_age=None)


# -- rate limits ---------------------------------------------------------------------------------------------------


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit(request: Request, action: str, who: str, factor: int = 1) -> None:
    """Count one ``action`` by ``who`` (a user id, an address or an IP); 429 with a clear message over the limit."""
    site = site_of(request)
    setting, window, description = LIMITS[action]
    allowed: int = getattr(site.pb.settings, setting) * factor
    if not accounts.hit_rate_limit(site.store, f"{action}:{who}", allowed, window, site.clock()):
        what = description.format(n=allowed)
        raise HTTPException(
            429,
            f"Too many {what}. Please wait and try again later.",
            {"Retry-After": str(int(window.total_seconds()))},
        )


def template_globals() -> dict[str, Any]:
    return {"csrf_field": csrf_field, "csrf_token": csrf_token, "sign_in_url": sign_in_url}
