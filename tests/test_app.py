"""The composition root."""

from __future__ import annotations

from paperboy.app import Paperboy
from paperboy.settings import Settings


def test_secret_key_is_generated_once_and_kept(settings: Settings) -> None:
    first = Paperboy(settings).secret_key
    assert len(first) >= 32
    assert Paperboy(settings).secret_key == first
    assert (settings.data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Paperboy(settings.replace(secret_key="configured")).secret_key == b"configured"
