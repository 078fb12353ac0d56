"""Signed links for confirm, preferences and unsubscribe: HMAC over purpose, subscriber id *and address*.

No database row per token is needed (an unsubscribe link in a year-old mail must still work), a token made for one
purpose is useless for another, and a token cannot be moved to another address: the signature covers the email the
subscriber row holds now, so it verifies for that address only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

CONFIRM, MANAGE, UNSUBSCRIBE = "confirm", "manage", "unsubscribe"
CONFIRM_MAX_AGE = 7 * 24 * 3600  # a confirmation link is good for a week; the others do not expire


def _signature(key: bytes, purpose: str, subscriber_id: int, email: str, issued: int) -> str:
    message = f"paperboy-digest|{purpose}|{subscriber_id}|{email}|{issued}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(key: bytes, purpose: str, subscriber_id: int, email: str, issued: int | None = None) -> str:
    stamp = int(time.time()) if issued is None else issued
    return f"{subscriber_id}.{stamp:x}.{_signature(key, purpose, subscriber_id, email, stamp)}"


def token_subscriber(token: str) -> int | None:
    """The subscriber id a token claims (unverified: look the address up, then call :func:`verify`)."""
    head = token.split(".", 1)[0]
    return int(head) if head.isdigit() and len(head) < 12 else None


def verify(key: bytes, purpose: str, token: str, email: str, max_age: int | None = None) -> bool:
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return False
    try:
        issued = int(parts[1], 16)
    except ValueError:
        return False
    if max_age is not None and time.time() - issued > max_age:
        return False
    expected = _signature(key, purpose, int(parts[0]), email, issued)
    return hmac.compare_digest(expected, parts[2])
