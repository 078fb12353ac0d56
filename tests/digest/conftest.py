"""Digest fixtures: real archive days in the store, subscribers, a settings object pointed at the test SMTP server.

``smtp_server`` (tests/smtp.py) is a real aiosmtpd server that records every message it accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperboy.app import Paperboy
from paperboy.digest import subscriptions
from paperboy.digest.subscriptions import Preferences, Subscriber
from paperboy.settings import Settings
from tests.smtp import SmtpServer
from tests.web.conftest import load_days

DAYS = ("2024-05-27", "2024-05-28", "2024-05-29", "2024-05-30", "2024-05-31")
NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)  # after every period the tests plan, so every row is due


def digest_settings(settings: Settings, smtp_url: str, **changes: object) -> Settings:
    base: dict[str, object] = {
        "smtp_url": smtp_url,
        "mail_from": "paperboy <digest@paperboy.test>",
        "public_url": "https://papers.example.org",
        "secret_key": "test-secret",
        "digest_retry_seconds": 0,
        "digest_smtp_connections": 2,
        "digest_batch_size": 7,
    }
    base.update(changes)
    return settings.replace(**base)


@pytest.fixture
def digest_pb(settings: Settings, smtp_server: SmtpServer) -> Iterator[Paperboy]:
    pb = Paperboy(digest_settings(settings, smtp_server.url))
    yield pb
    pb.close()


@pytest.fixture
def loaded_pb(digest_pb: Paperboy, shared_data: Path) -> Paperboy:
    """Five real weekdays of the HF archive (2024-05-27 .. 2024-05-31) in the store."""
    load_days(digest_pb.store, shared_data, *DAYS)
    return digest_pb


AddSubscriber = Callable[..., Subscriber]


@pytest.fixture
def add_subscriber(digest_pb: Paperboy) -> AddSubscriber:
    """A confirmed subscriber with the given preferences."""

    def add(email: str, frequency: str = "daily", **prefs: object) -> Subscriber:
        sub = subscriptions.subscribe(digest_pb, email, "daily" if frequency == "off" else frequency)
        sub = subscriptions.confirm(digest_pb, sub)
        preferences = Preferences(**prefs)  # type: ignore[arg-type]
        return subscriptions.update(digest_pb, sub, frequency, 7, "UTC", preferences)

    return add


def day(text: str) -> date:
    return date.fromisoformat(text)
