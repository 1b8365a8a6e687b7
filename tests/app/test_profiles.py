"""Profiles in the config file (`[profiles.<name>]`): production and read-only per AWS
profile, folded into the settings when the app is made for that profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.app.app import make_app
from tui.app.settings import Settings, SettingsError, load_settings
from tui.aws.session import ConnectionSettings

CONFIG = """
[profiles.prod]
production = true

[profiles.audit]
read_only = true
"""


def settings_from(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path=path, environ={})


def test_a_production_profile_is_production_and_others_are_not(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, CONFIG)
    assert not settings.production
    prod = make_app(settings, ConnectionSettings(profile="prod"))
    assert prod.settings.production
    assert not prod.settings.read_only
    assert not prod.watcher.client.read_only
    dev = make_app(settings, ConnectionSettings(profile="dev"))
    assert not dev.settings.production


def test_a_read_only_profile_refuses_in_the_client_layer(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, CONFIG)
    audit = make_app(settings, ConnectionSettings(profile="audit"))
    assert audit.settings.read_only
    assert audit.watcher.client.read_only
    assert audit.watcher.status.read_only


def test_the_profile_comes_from_aws_profile_without_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod")
    app = make_app(settings_from(tmp_path, CONFIG), ConnectionSettings())
    assert app.settings.production


def test_a_profile_cannot_lift_read_only_given_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.prod]\nread_only = false\n")
    settings = load_settings(path=path, environ={}, flags={"read_only": True})
    assert settings.for_profile("prod").read_only


def test_an_unknown_key_in_a_profile_names_the_file_and_the_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from(tmp_path, "[profiles.prod]\nproduktion = true\n")
    assert "config.toml" in str(caught.value)
    assert "profiles.prod.produktion" in str(caught.value)
