"""The one settings table.

Every setting has a name, a type, a default and help text. Values come from ``PAPERBOY_<NAME>`` environment
variables, or from an optional TOML file named by ``PAPERBOY_CONFIG`` (environment wins). The table is the
documentation: ``paperboy settings`` and ``docs/settings.md`` are generated from it, and a test fails when the
generated page is stale.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        Path,
        Path("~/.local/share/paperboy"),
        "Directory for the SQLite database, search indexes and harvest checkpoints.",
    ),
    Setting(
        "database_url",
        str,
        "",
        "SQLAlchemy URL of the store. Empty: a SQLite file `paperboy.db` in the data directory. "
        "PostgreSQL: `postgresql+psycopg://user@host:5432/dbname`.",
    ),
    Setting("timezone", str, "UTC", "Time zone of the site's calendar: daily lists, weeks and digest periods."),
    Setting("public_url", str, "http://127.0.0.1:8000", "The site's public base URL, used in feeds and emails."),
    Setting(
        "hf_api_url",
        str,
        "https://huggingface.co",
        "Base URL of the Hugging Face API used by the `hf-daily` source.",
    ),
    Setting("arxiv_api_url", str, "https://export.arxiv.org/api/query", "arXiv export API endpoint."),
    Setting("arxiv_oai_url", str, "https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint."),
    Setting(
        "request_pause_seconds",
        float,
        3.0,
        "Pause between requests to one upstream API (arXiv asks for 3 s). Tests set 0.",
    ),
    Setting("request_retries", int, 4, "Retries of a failed upstream request, with exponential backoff."),
    Setting(
        "request_backoff_seconds",
        float,
        2.0,
        "First wait before retrying a failed upstream request; doubles each retry. Tests set 0.",
    ),
    Setting("request_timeout_seconds", float, 30.0, "Timeout of one upstream HTTP request."),
    Setting("ingest_batch_size", int, 2000, "Records written to the store per transaction during ingest."),
    Setting("ingest_child_min_bytes", int, 32_000_000,
            "Input files (or archive folders) at least this big are parsed in a child process while the ingesting "
            "process writes, so the two overlap on two cores; smaller ones are not worth the child's start-up. "
            "0 always uses a child, -1 never."),
    Setting("host", str, "127.0.0.1", "Address `paperboy serve` listens on."),
    Setting("port", int, 8000, "Port `paperboy serve` listens on."),
    Setting("page_size", int, 50, "Papers per page on lists and in the JSON API by default."),
    Setting("page_cache", bool, True,
            "Keep rendered list, paper and feed pages for visitors who are not signed in, until the store changes."),
    Setting("page_cache_seconds", float, 1.0,
            "How long a web process trusts its page cache before checking the store for changes made elsewhere "
            "(other web nodes, ingest runs); changes made through the process itself apply at once. 0: every request."),
    Setting("secret_key", str, "",
            "Secret for signed tokens (sign-in links, unsubscribe links, CSRF). Empty: one is generated and kept in "
            "the data directory (`secret_key` file). Set the same value on every web and worker node."),
    Setting("smtp_url", str, "smtp://127.0.0.1:25",
            "Mail server: `smtp://host:port`, `smtps://user:password@host:465` (TLS) or "
            "`smtp+starttls://user:password@host:587`."),
    Setting("mail_from", str, "paperboy <paperboy@localhost>", "Sender address of sign-in mails and digests."),
    # -- email digests --
    Setting("digest_smtp_connections", int, 4,
            "SMTP connections one digest sender keeps open and sends over at once (each reused for many mails)."),
    Setting("digest_batch_size", int, 200, "Outbox rows a digest sender claims per database round trip."),
    Setting("digest_claim_seconds", int, 300,
            "How long a claimed outbox row stays with a sender that stopped answering before another takes it "
            "(a crashed sender on the same host is noticed at once)."),
    Setting("digest_max_attempts", int, 6,
            "Attempts per digest when the mail server answers 4xx (try later) before the row is marked failed."),
    Setting("digest_retry_seconds", float, 60.0, "Wait before the first retry after a 4xx reply; doubles each retry."),
    Setting("digest_max_papers", int, 20, "Most papers one digest lists; new subscribers start with this."),
    Setting("digest_send_hour", int, 7, "Local hour a new subscriber's digest becomes due (0-23)."),
    Setting("digest_subscribe_per_address", int, 3, "Subscribe requests (confirmation mails) per address per hour."),
    Setting("digest_subscribe_per_client", int, 20, "Subscribe requests per client IP address per hour."),
    Setting(
        "dkim_selector", str, "", "DKIM selector; digests are signed when this and `dkim_private_key_file` are set."
    ),
    Setting("dkim_private_key_file", str, "", "PEM file of the DKIM private key (RSA, rsa-sha256)."),
    Setting("dkim_domain", str, "", "DKIM signing domain (d=). Empty: the domain of `mail_from`."),
    # -- accounts, community and trending --
    Setting("sign_in_link_minutes", int, 10, "How long an emailed sign-in link stays valid (it works once)."),
    Setting("session_days", int, 30, "How long a sign-in lasts on one browser."),
    Setting("secure_cookies", bool, False,
            "Always mark cookies `Secure`. Off: they are `Secure` when `public_url` is https (tests run over http)."),
    Setting("rate_sign_in_per_hour", int, 5,
            "Sign-in mails per address per hour (a client IP address may ask for four times as many)."),
    Setting("rate_submissions_per_day", int, 20, "Paper submissions per user per day."),
    Setting("rate_votes_per_minute", int, 60, "Upvotes and un-votes per user per minute."),
    Setting("rate_comments_per_hour", int, 30, "Comments and edits per user per hour."),
    Setting("trending_gravity", float, 1.8,
            "How fast trending scores decay: score = (upvotes + w * comments) / (age_hours + 2) ^ gravity."),
    Setting("trending_comments_weight", float, 2.0, "What one comment is worth in upvotes on the trending list (w)."),
    Setting("trending_days", int, 7, "The trending list ranks papers listed on this many latest days."),
    # -- search --
    Setting("embedding_backend", str, "onnx-int8",
            "How all-MiniLM-L6-v2 runs: `onnx-int8` (fastest, the default), `onnx` (fp32) or `sentence-transformers` "
            "(the PyTorch reference). Changing it re-embeds every paper, once."),
    Setting("embedding_threads", int, 1,
            "CPU threads the background embedder of `paperboy serve` uses (0: all cores). One keeps a core free "
            "for requests; `paperboy index` uses all cores."),
    Setting("embedding_batch_size", int, 64, "Papers embedded and committed per batch (a crash loses at most one)."),
    Setting("embed_in_background", bool, True,
            "`paperboy serve` embeds new papers in a background thread; off: only `paperboy index` embeds."),
    Setting("search_lexical_weight", float, 0.2,
            "Weight of BM25 in hybrid search, min-max normalised per query; the embedding similarity gets what "
            "this and the coverage weight leave. Cross-validated on SciFact (`bench/retrieval.py`)."),
    Setting("search_coverage_weight", float, 0.2,
            "Weight in hybrid search of how much of the query a paper contains (the idf-weighted share of its "
            "words found in title or abstract); 0 turns it off. SciFact's cross-validation picks 0.35; 0.2 keeps "
            "hybrid above dense alone on a small corpus too (`paperboy/index/hybrid.py`)."),
    Setting("search_title_boost", float, 0.3,
            "Weight of a title match against an abstract match in hybrid search's BM25 half (cross-validated on "
            "SciFact; plain lexical search, before papers are embedded, boosts titles 2.5x)."),
    Setting("search_candidates", int, 200, "Candidates each half of hybrid search contributes before fusion."),
    Setting("search_rerank_depth", int, 50,
            "Hybrid search's best N fused papers are re-ordered by the learned re-ranker (a LightGBM model trained "
            "on SciFact, `paperboy/index/rerank.py`; it adds ~5-15 ms to a search); 0 turns it off."),
    Setting("search_recency_weight", float, 0.0,
            "Recency boost of search results: score x (1 + weight x 0.5^(age / half-life)). 0: off."),
    Setting("search_recency_half_life_days", float, 180.0, "Half-life of the search recency boost, in days."),
)


def _parse(setting: Setting, raw: Any) -> Any:
    """Turn a raw environment/TOML value into the setting's type, with a message that names the setting."""
    if isinstance(raw, setting.type):
        return raw
    try:
        if setting.type is Path:
            return Path(str(raw))
        if setting.type is bool:
            return str(raw).strip().lower() in {"1", "true", "yes", "on"}
        return setting.type(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"setting {setting.name} (PAPERBOY_{setting.name.upper()}): cannot read {raw!r} as {setting.type.__name__}"
        ) from exc


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :meth:`load`; override in tests with :meth:`replace`."""

    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        file_values: dict[str, Any] = {}
        config_path = env.get("PAPERBOY_CONFIG")
        if config_path:
            with open(config_path, "rb") as fh:
                file_values = tomllib.load(fh)
            unknown = set(file_values) - {s.name for s in SETTINGS}
            if unknown:
                raise ValueError(f"{config_path}: unknown settings {sorted(unknown)}; see `paperboy settings`")
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw: Any = setting.default
            if setting.name in file_values:
                raw = file_values[setting.name]
            env_name = f"PAPERBOY_{setting.name.upper()}"
            if env.get(env_name) not in (None, ""):
                raw = env[env_name]
            if setting.name in overrides and overrides[setting.name] is not None:
                raw = overrides[setting.name]
            values[setting.name] = _parse(setting, raw)
        values["data_dir"] = Path(values["data_dir"]).expanduser()
        return cls(values)

    def replace(self, **changes: Any) -> Settings:
        by_name = {s.name: s for s in SETTINGS}
        new = dict(self.values)
        for name, raw in changes.items():
            new[name] = _parse(by_name[name], raw)
        return Settings(new)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'paperboy.db'}"


def settings_markdown() -> str:
    """The settings table as Markdown, for docs/settings.md and `paperboy settings`."""
    lines = [
        "# Settings",
        "",
        "Set each as an environment variable `PAPERBOY_<NAME>` or in a TOML file named by `PAPERBOY_CONFIG`.",
        "Generated from `paperboy/settings.py` by `paperboy settings --markdown`.",
        "",
        "| name | environment variable | type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        default = "(empty)" if s.default == "" else f"`{s.default}`"
        lines.append(f"| {s.name} | `PAPERBOY_{s.name.upper()}` | {s.type.__name__} | {default} | {s.help} |")
    return "\n".join(lines) + "\n"
