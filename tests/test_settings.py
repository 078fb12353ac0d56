"""The settings table: environment, TOML file, errors that name the setting, and docs that stay current."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperboy.settings import SETTINGS, Settings, settings_markdown

REPO = Path(__file__).resolve().parent.parent


def test_defaults_and_environment_override(tmp_path: Path) -> None:
    settings = Settings.load(environ={"PAPERBOY_DATA_DIR": str(tmp_path), "PAPERBOY_REQUEST_PAUSE_SECONDS": "0"})
    assert settings.data_dir == tmp_path
    assert settings.request_pause_seconds == 0.0
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'paperboy.db'}"
    assert settings.timezone == "UTC"


def test_toml_file_and_environment_precedence(tmp_path: Path) -> None:
    config = tmp_path / "paperboy.toml"
    config.write_text('port = 9000\ntimezone = "Europe/Paris"\n')
    settings = Settings.load(environ={"PAPERBOY_CONFIG": str(config), "PAPERBOY_PORT": "9100"})
    assert (settings.port, settings.timezone) == (9100, "Europe/Paris")


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PAPERBOY_PORT"):
        Settings.load(environ={"PAPERBOY_PORT": "eighty"})
    config = tmp_path / "bad.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="unknown settings"):
        Settings.load(environ={"PAPERBOY_CONFIG": str(config)})


def test_every_setting_is_documented_and_the_docs_are_current() -> None:
    assert all(s.help.strip() for s in SETTINGS)
    assert (REPO / "docs" / "settings.md").read_text() == settings_markdown(), (
        "docs/settings.md is stale: run `make docs`"
    )
