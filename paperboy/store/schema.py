"""Table definitions (SQLAlchemy Core) shared by the store's queries.

The migrations in ``migrations/versions`` create these tables; ``tests/store/test_migrations.py`` checks that the
migrated database matches this metadata, so the two never drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: paperboy stores only timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("published_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime),
    sa.Column("doi", sa.String(255)),
    sa.Column("journal_ref", sa.Text),
    sa.Column("comments", sa.Text),
    sa.Column("license", sa.String(255)),
    sa.Column("github_stars", sa.Integer),
    sa.Column("ai_summary", sa.Text),
    sa.Column("ai_keywords", sa.JSON),
    sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("num_comments", sa.Integer, nullable=False, server_default="0"),
    sa.Column("counts_as_of", UTCDateTime),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("modified_at", UTCDateTime, nullable=False),
)

paper_authors = sa.Table(
    "paper_authors",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Index("ix_paper_authors_name", "name"),
)

paper_categories = sa.Table(
    "paper_categories",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Index("ix_paper_categories_category", "category"),
)

paper_versions = sa.Table(
    "paper_versions",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime),
)

paper_links = sa.Table(
    "paper_links",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # doi, code, project (arXiv abs/pdf follow from the id)
    sa.Column("url", sa.Text, nullable=False),
)

paper_changes = sa.Table(
    "paper_changes",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("paper_id", sa.String(64), nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("handle", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200)),
    sa.Column("role", sa.String(16), nullable=False, server_default="member"),  # member, moderator, admin
    sa.Column("banned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

daily_entries = sa.Table(
    "daily_entries",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("submitted_by", sa.String(200)),  # a name from an imported source
    sa.Column("submitter_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),  # a local user
    sa.Column("submitted_at", UTCDateTime),
    sa.Index("ix_daily_entries_day", "day"),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_votes_paper", "paper_id"),
)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE")),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("edited_at", UTCDateTime),
    sa.Index("ix_comments_paper", "paper_id"),
)

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running, ok, partial, failed
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("new", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.JSON, nullable=False),  # list of {"where", "reason"}
    sa.Column("error", sa.Text),
)

harvest_checkpoints = sa.Table(
    "harvest_checkpoints",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),  # source + its request parameters
    sa.Column("token", sa.Text),  # e.g. the OAI-PMH resumption token still to fetch
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

paper_vectors = sa.Table(
    "paper_vectors",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("model", sa.String(128), nullable=False),  # the embedder's model_id: vectors of two models never mix
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian, unit length
    sa.Column("text_hash", sa.String(32), nullable=False),  # of the embedded text: edits that keep it cost nothing
    sa.Column("paper_modified_at", UTCDateTime, nullable=False),  # the papers.modified_at of the version embedded
    sa.Column("embedded_at", UTCDateTime, nullable=False),  # when written: web nodes sync from it
    sa.Index("ix_paper_vectors_embedded_at", "embedded_at"),
)

# -- accounts (migration 0003) -------------------------------------------------------------------------------------

sign_in_tokens = sa.Table(
    "sign_in_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the emailed token: a DB leak signs no one in
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),  # set once, atomically: the link is single-use
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the cookie value
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_sessions_user", "user_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hint", sa.String(16), nullable=False),  # the token's first characters, to tell tokens apart
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Index("ix_api_tokens_user", "user_id"),
)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),  # action + who (user id, IP or email)
    sa.Column("window_start", UTCDateTime, primary_key=True),  # fixed windows: one counter row per key and window
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Index("ix_rate_limits_window", "window_start"),
)

# -- email digests (migration 0004) ------------------------------------------------------------------------------

digest_subscribers = sa.Table(
    "digest_subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # normalised: the domain lower-cased
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),  # when signed in
    sa.Column("status", sa.String(16), nullable=False),  # pending (not confirmed), confirmed, unsubscribed
    sa.Column("frequency", sa.String(8), nullable=False),  # daily (weekdays), weekly, off
    sa.Column("send_hour", sa.Integer, nullable=False),  # local hour a digest becomes due
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("preferences", sa.JSON, nullable=False),  # sections: trending, queries, exclude, categories, ...
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("unsubscribed_at", UTCDateTime),
    sa.Index("ix_digest_subscribers_status", "status", "frequency"),
)

mail_suppressions = sa.Table(
    "mail_suppressions",
    metadata,
    sa.Column("email", sa.String(320), primary_key=True),  # a hard bounce: no mail goes there again
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

digest_runs = sa.Table(
    "digest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(8), nullable=False),  # daily, weekly
    sa.Column("period_key", sa.String(16), nullable=False),  # 2024-05-27 or 2024-W22
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("planned_at", UTCDateTime),  # every subscriber has its outbox row
    sa.Column("finished_at", UTCDateTime),  # no row pending or awaiting retry
    sa.UniqueConstraint("period", "period_key", name="uq_digest_runs_period"),
)

digest_outbox = sa.Table(
    "digest_outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("digest_runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("digest_subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),  # the same on every attempt
    sa.Column("status", sa.String(16), nullable=False),  # pending, sent, failed, skipped
    sa.Column("papers", sa.JSON, nullable=False),  # [[paper_id, reason], ...] in digest order
    sa.Column("due_at", UTCDateTime, nullable=False),  # the subscriber's send hour
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),  # after a 4xx: not before this
    sa.Column("claimed_by", sa.String(128)),  # host:pid:nonce of the sender holding it
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("last_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("run_id", "subscriber_id", name="uq_digest_outbox_run_subscriber"),
    sa.Index("ix_digest_outbox_run_status", "run_id", "status"),
)

digest_history = sa.Table(
    "digest_history",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("digest_subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("paper_id", sa.String(64), primary_key=True),  # a paper this subscriber was sent: never again
    sa.Column("run_id", sa.Integer, nullable=False),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # e.g. digest-daily
    sa.Column("key", sa.String(64), primary_key=True),  # e.g. 2024-05-27: one run per name and key, ever
    sa.Column("status", sa.String(16), nullable=False),  # running, done, failed
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),  # a stale heartbeat lets another node take over
    sa.Column("finished_at", UTCDateTime),
    sa.Column("error", sa.Text),
)
