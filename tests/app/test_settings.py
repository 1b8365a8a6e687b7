"""Settings: defaults < config file < environment < flags, clear errors, and the keymap and
theme reaching the running app."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.notifications import Notify

from tests.app.support import app_for, app_settings, wait_until
from tests.endpoint import Endpoint
from tests.local.pipelines import commands, pipeline, stage, upload_source
from tui.app.screens.pipeline import PipelineScreen
from tui.app.settings import Settings, SettingsError, default_config_path, load_settings

SIZE = (120, 36)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(path=tmp_path / "missing.toml", environ={})
    assert settings == Settings()
    assert settings.poll.interval == 10.0
    assert settings.notifications
    assert settings.events_queue is None


def test_each_layer_overrides_the_one_before_field_by_field(tmp_path: Path) -> None:
    config = write(
        tmp_path / "config.toml",
        """
        theme = "nord"
        events_queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/from-file"
        [poll]
        interval = 20
        visible = 2
        [keymap]
        logs = "L"
        """.replace("\n        ", "\n"),
    )
    environ = {
        "PIPETOP_POLL__INTERVAL": "7",
        "PIPETOP_NOTIFICATIONS": "false",
        "PIPETOP_KEYMAP__HISTORY": "H",
        "PIPETOP_SOMETHING_ELSE": "ignored: another tool's variable",
    }
    settings = load_settings(
        path=config,
        environ=environ,
        flags={"events_queue": "https://sqs.eu-west-1.amazonaws.com/1/from-flag", "theme": None},
    )
    assert settings.theme == "nord"  # file (the flag was not given)
    assert settings.poll.interval == 7.0  # environment over file
    assert settings.poll.visible == 2.0  # file, next to an environment value in the table
    assert not settings.notifications  # environment
    assert settings.keymap == {"logs": "L", "history": "H"}  # merged
    assert settings.events_queue == "https://sqs.eu-west-1.amazonaws.com/1/from-flag"


def test_the_config_path_follows_pipetop_config_then_xdg(tmp_path: Path) -> None:
    assert default_config_path({"PIPETOP_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    assert (
        default_config_path({"XDG_CONFIG_HOME": str(tmp_path)})
        == tmp_path / "pipetop" / "config.toml"
    )
    assert default_config_path({"XDG_CONFIG_HOME": "relative"}).parts[-3:] == (
        ".config",
        "pipetop",
        "config.toml",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("theme = ", "is not valid TOML"),
        ('colour = "blue"', "colour: Extra inputs are not permitted"),
        ("[poll]\ninterval = -1", "poll.interval: Input should be greater than 0"),
        ('events_queue = "pipetop-events"', "events_queue must be a queue URL"),
        ('[keymap]\nlogs = " "', "keymap.logs has no key"),
    ],
)
def test_a_broken_file_is_one_clear_error_naming_it(
    tmp_path: Path, text: str, message: str
) -> None:
    config = write(tmp_path / "config.toml", text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path=config, environ={})
    assert str(caught.value).startswith(str(config))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_environment_value_names_the_environment(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^environment PIPETOP_\*: poll.interval"):
        load_settings(path=tmp_path / "none.toml", environ={"PIPETOP_POLL__INTERVAL": "soon"})


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(path=tmp_path, environ={})


async def test_the_keymap_remaps_bindings_by_id(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    endpoint.client("codepipeline").create_pipeline(
        pipeline=pipeline("web", stage("Build", commands("Compile", ["true"])))
    )
    app = app_for(endpoint, app_settings(keymap={"open": "o", "back": "b", "sort": "ctrl+s"}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.workspace.pipeline("web") is not None)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, PipelineScreen)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen))
        await pilot.press("escape")
        assert isinstance(app.screen, PipelineScreen)
        await pilot.press("b")
        assert not isinstance(app.screen, PipelineScreen)


async def test_the_theme_applies_and_an_unknown_one_is_a_warning(endpoint: Endpoint) -> None:
    app = app_for(endpoint, app_settings(theme="nord"))
    async with app.run_test(size=SIZE):
        assert app.theme == "nord"
    app = app_for(endpoint, app_settings(theme="no-such-theme"))
    messages: list[object] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        warnings = [
            m.notification for m in messages if isinstance(m, Notify) and m.notification.title
        ]
        assert [(n.title, n.severity) for n in warnings] == [("Settings", "warning")]
        assert "Unknown theme 'no-such-theme'" in warnings[0].message
