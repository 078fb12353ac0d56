"""Accounts: users, sign-in links, sessions, personal API tokens, roles, bans and rate limits.

Every secret handed to a browser or a mailbox (sign-in token, session id, API token) is stored only as its SHA-256,
so a copy of the database lets no one sign in. Sessions and rate-limit counters live in the database, not in a web
node's memory, so any number of ``paperboy serve`` processes agree on who is signed in and who is over a limit.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from paperboy.store.schema import api_tokens, rate_limits, sessions, sign_in_tokens, users
from paperboy.store.store import Store

ROLES = ("member", "moderator", "admin")
HANDLE_MAX = 32
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    handle: str
    display_name: str | None
    role: str
    banned: bool
    created_at: datetime

    @property
    def name(self) -> str:
        """What the site shows: the display name when one is set, else the handle."""
        return self.display_name or self.handle

    @property
    def is_moderator(self) -> bool:
        return self.role in ("moderator", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def normalize_email(text: str) -> str | None:
    """The address lower-cased and trimmed when it looks deliverable, else None (the form says why)."""
    email = text.strip().lower()
    return email if len(email) <= 320 and EMAIL.match(email) else None


def _user(row: sa.RowMapping) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        handle=row["handle"],
        display_name=row["display_name"],
        role=row["role"],
        banned=bool(row["banned"]),
        created_at=row["created_at"],
    )


# -- users ---------------------------------------------------------------------------------------------------------


def handle_base(email: str) -> str:
    """A handle from the address's local part: ASCII letters, digits, ``-``, ``_`` (``Jürgen.K+x`` -> ``jurgen-k``)."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    ascii_text = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    handle = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-_")[:HANDLE_MAX]
    return handle or "user"


def user_by_id(store: Store, user_id: int) -> User | None:
    with store.read() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
    return _user(row) if row else None


def user_by_handle(store: Store, handle: str) -> User | None:
    with store.read() as conn:
        row = conn.execute(sa.select(users).where(users.c.handle == handle)).mappings().first()
    return _user(row) if row else None


def user_by_email(store: Store, email: str) -> User | None:
    with store.read() as conn:
        row = conn.execute(sa.select(users).where(users.c.email == email.strip().lower())).mappings().first()
    return _user(row) if row else None


def get_or_create_user(store: Store, email: str, now: datetime) -> User:
    """The user with this address, created on first sign-in with a unique handle derived from the address.
    Two first sign-ins racing for one handle (or one address) on PostgreSQL: the loser retries and sees the winner."""
    for _attempt in range(3):
        try:
            return _get_or_create_user(store, email, now)
        except sa.exc.IntegrityError:
            continue
    return _get_or_create_user(store, email, now)


def _get_or_create_user(store: Store, email: str, now: datetime) -> User:
    email = email.strip().lower()
    base = handle_base(email)
    with store.write() as conn:
        row = conn.execute(sa.select(users).where(users.c.email == email)).mappings().first()
        if row:
            return _user(row)
        taken = set(
            conn.execute(
                sa.select(users.c.handle).where(sa.or_(users.c.handle == base, users.c.handle.like(f"{base}-%")))
            ).scalars()
        )
        handle, n = base, 1
        while handle in taken:
            n += 1
            suffix = f"-{n}"
            handle = base[: HANDLE_MAX - len(suffix)] + suffix
        conn.execute(users.insert().values(email=email, handle=handle, role="member", banned=False, created_at=now))
        row = conn.execute(sa.select(users).where(users.c.email == email)).mappings().one()
        return _user(row)


def set_display_name(store: Store, user_id: int, display_name: str | None) -> None:
    with store.write() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(display_name=display_name or None))


def set_role(store: Store, email: str, role: str) -> User | None:
    """Make the user with ``email`` a member, moderator or admin; None when no such user has signed in yet."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    with store.write() as conn:
        conn.execute(users.update().where(users.c.email == email.strip().lower()).values(role=role))
    return user_by_email(store, email)


def set_banned(store: Store, user_id: int, banned: bool) -> None:
    """Ban (or unban) a user. A ban also ends their sessions and revokes their API tokens, so it takes effect now."""
    with store.write() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(banned=banned))
        if banned:
            conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
            conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user_id))


# -- sign-in links -------------------------------------------------------------------------------------------------


def create_sign_in_token(store: Store, email: str, now: datetime, valid_for: timedelta) -> str:
    """A new single-use sign-in token for ``email``; only its hash is stored. Expired tokens are pruned here."""
    token = new_secret()
    with store.write() as conn:
        conn.execute(sign_in_tokens.delete().where(sign_in_tokens.c.expires_at < now - timedelta(days=1)))
        conn.execute(
            sign_in_tokens.insert().values(
                token_hash=hash_secret(token), email=email, created_at=now, expires_at=now + valid_for
            )
        )
    return token


def peek_sign_in_token(store: Store, token: str, now: datetime) -> str | None:
    """The address a still-usable token signs in, without using it (the GET of a link only shows a button)."""
    with store.read() as conn:
        return conn.execute(
            sa.select(sign_in_tokens.c.email).where(
                sign_in_tokens.c.token_hash == hash_secret(token),
                sign_in_tokens.c.used_at.is_(None),
                sign_in_tokens.c.expires_at > now,
            )
        ).scalar_one_or_none()


def use_sign_in_token(store: Store, token: str, now: datetime) -> str | None:
    """Spend a token: the address it signs in, or None when it is unknown, expired or already used. One UPDATE with
    the conditions in its WHERE clause, so two clicks racing each other cannot both succeed."""
    token_hash = hash_secret(token)
    with store.write() as conn:
        result = conn.execute(
            sign_in_tokens.update()
            .where(
                sign_in_tokens.c.token_hash == token_hash,
                sign_in_tokens.c.used_at.is_(None),
                sign_in_tokens.c.expires_at > now,
            )
            .values(used_at=now)
        )
        if result.rowcount != 1:
            return None
        return conn.execute(
            sa.select(sign_in_tokens.c.email).where(sign_in_tokens.c.token_hash == token_hash)
        ).scalar_one()


# -- sessions ------------------------------------------------------------------------------------------------------


def create_session(store: Store, user_id: int, now: datetime, valid_for: timedelta) -> str:
    """A new session for the user; returns the id for the cookie (a fresh one at every sign-in)."""
    session_id = new_secret()
    with store.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.expires_at < now))
        conn.execute(
            sessions.insert().values(
                id_hash=hash_secret(session_id), user_id=user_id, created_at=now, expires_at=now + valid_for
            )
        )
    return session_id


def session_user(store: Store, session_id: str, now: datetime) -> User | None:
    """The signed-in user of a session cookie, or None when the session is unknown, expired or the user banned."""
    query = (
        sa.select(users)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.id_hash == hash_secret(session_id), sessions.c.expires_at > now, users.c.banned == sa.false())
    )
    with store.read() as conn:
        row = conn.execute(query).mappings().first()
    return _user(row) if row else None


def end_session(store: Store, session_id: str) -> None:
    with store.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == hash_secret(session_id)))


# -- personal API tokens -------------------------------------------------------------------------------------------

API_TOKEN_PREFIX = "pb_"


def create_api_token(store: Store, user_id: int, name: str, now: datetime) -> str:
    """A new API token; the caller shows it once. Only its hash and first characters (to tell tokens apart) stay."""
    token = API_TOKEN_PREFIX + new_secret()
    with store.write() as conn:
        conn.execute(
            api_tokens.insert().values(
                user_id=user_id, name=name, token_hash=hash_secret(token), hint=token[:10], created_at=now
            )
        )
    return token


def list_api_tokens(store: Store, user_id: int) -> list[ApiToken]:
    query = sa.select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
    with store.read() as conn:
        return [
            ApiToken(r["id"], r["name"], r["hint"], r["created_at"], r["last_used_at"])
            for r in conn.execute(query).mappings()
        ]


def revoke_api_token(store: Store, user_id: int, token_id: int) -> bool:
    """Delete one of the user's tokens; False when it is not theirs (or gone)."""
    with store.write() as conn:
        result = conn.execute(api_tokens.delete().where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id))
        return result.rowcount == 1


def token_user(store: Store, token: str, now: datetime) -> User | None:
    """The user an ``Authorization: Bearer`` token belongs to (never a banned one); notes when it was last used."""
    token_hash = hash_secret(token)
    query = (
        sa.select(users, api_tokens.c.last_used_at)
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == token_hash, users.c.banned == sa.false())
    )
    with store.read() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    last = row["last_used_at"]
    if last is None or now - last > timedelta(minutes=5):  # a write per request would serialise API clients
        with store.write() as conn:
            conn.execute(api_tokens.update().where(api_tokens.c.token_hash == token_hash).values(last_used_at=now))
    return _user(row)


# -- rate limits ---------------------------------------------------------------------------------------------------


def hit_rate_limit(store: Store, key: str, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one action against ``key`` (e.g. ``vote:user:7``) in the current fixed window; True when it is within
    ``limit``. An atomic upsert: concurrent requests on any number of web nodes each get their own count."""
    seconds = max(1, int(window.total_seconds()))
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    insert = (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(rate_limits)
    statement = (
        insert.values(key=key[:255], window_start=start, hits=1)
        .on_conflict_do_update(index_elements=["key", "window_start"], set_={"hits": rate_limits.c.hits + 1})
        .returning(rate_limits.c.hits)
    )
    with store.write() as conn:
        hits = int(conn.execute(statement).scalar_one())
        if random.random() < 0.01:  # old windows are useless; prune now and then instead of in a job
            conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now - timedelta(days=2)))
    return hits <= limit
