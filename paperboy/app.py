"""The composition root: ``Paperboy(settings)`` builds the store and the services on it.

The CLI, the web app, workers and tests all start here, so each component is wired one way only.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from typing import TYPE_CHECKING

from paperboy.settings import Settings
from paperboy.sources.http import Fetcher
from paperboy.store import Store

if TYPE_CHECKING:
    from paperboy.index.service import SearchService
    from paperboy.mail import Mailer


class Paperboy:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.load()

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.resolved_database_url)

    @cached_property
    def secret_key(self) -> bytes:
        """The key for signed tokens: the setting, or one generated once and kept in the data directory."""
        if self.settings.secret_key:
            return self.settings.secret_key.encode()
        path = self.settings.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip().encode()

    @cached_property
    def search(self) -> SearchService:
        """Hybrid search over indexes derived from the store (opened lazily; see paperboy.index.service)."""
        from paperboy.index.service import SearchService

        return SearchService(self.store, self.settings)

    @cached_property
    def mailer(self) -> Mailer:
        """The SMTP mailer of ``smtp_url``; one per process (each send opens its own connection, so it is shared)."""
        from paperboy.mail import Mailer

        return Mailer.from_settings(self.settings)

    def fetcher(self) -> Fetcher:
        """A new polite HTTP client for one network ingest run."""
        return Fetcher.from_settings(self.settings)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
