"""Which contexts pipetop watches: repeated --profile/--region, [[contexts]] in the config
file, how they combine, and the errors for what cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.app.contexts import WatchContext, label_of, watch_contexts
from tui.app.settings import Settings, SettingsError, load_settings
from tui.cli import (
    ConnectionOptionsError,
    _given,
    build_parser,
    connection_settings,
    main,
)
from tui.model.fleet import ContextPlace, FleetView, scoped, split_key
from tui.model.state import PipelineSummary
from tui.model.view import WorkspaceView


def places(contexts: list[WatchContext]) -> list[tuple[str, str | None, str | None, str | None]]:
    return [
        (c.label, c.connection.profile, c.connection.region, c.connection.endpoint_url)
        for c in contexts
    ]


def contexts_of(argv: list[str], settings: Settings | None = None) -> list[WatchContext]:
    args = build_parser().parse_args(argv)
    return watch_contexts(
        settings or Settings(),
        profiles=_given(args, "profile"),
        regions=_given(args, "region"),
        endpoint_url=args.endpoint_url,
    )


def test_repeated_profiles_and_regions_make_every_profile_in_every_region() -> None:
    argv = ["--profile", "dev", "--profile", "prod", "--region", "eu-west-1"]
    argv += ["--region", "us-east-1"]
    assert places(contexts_of(argv)) == [
        ("dev/eu-west-1", "dev", "eu-west-1", None),
        ("dev/us-east-1", "dev", "us-east-1", None),
        ("prod/eu-west-1", "prod", "eu-west-1", None),
        ("prod/us-east-1", "prod", "us-east-1", None),
    ]


def test_one_option_repeated_alone_and_duplicates_counted_once() -> None:
    assert places(contexts_of(["--region", "eu-west-1", "--region", "eu-west-1"])) == [
        ("eu-west-1", None, "eu-west-1", None)
    ]
    argv = ["--profile", "a", "--profile", "b", "--endpoint-url", "http://127.0.0.1:4599"]
    assert places(contexts_of(argv)) == [
        ("a", "a", None, "http://127.0.0.1:4599"),
        ("b", "b", None, "http://127.0.0.1:4599"),
    ]
    # Nothing given: the one default context, the app as it always was.
    assert places(contexts_of([])) == [("default", None, None, None)]


def test_options_after_a_subcommand_still_parse_and_one_account_commands_refuse_two() -> None:
    args = build_parser().parse_args(["events", "setup", "--profile", "a", "--region", "eu-west-1"])
    connection = connection_settings(args)
    assert (connection.profile, connection.region) == ("a", "eu-west-1")
    two = build_parser().parse_args(["events", "setup", "--profile", "a", "--profile", "b"])
    with pytest.raises(ConnectionOptionsError, match="--profile was given 2 times"):
        connection_settings(two)


def test_a_one_account_command_with_two_profiles_exits_2_before_touching_aws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    argv = ["events", "setup", "--dry-run", "--config", str(config)]
    argv += [
        "--region",
        "eu-west-1",
        "--region",
        "us-east-1",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--region was given 2 times (eu-west-1, us-east-1)" in err
    assert not config.exists()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


CONFIG = """
read_only = false
[profiles.prod-admin]
production = true

[[contexts]]
name = "dev"
profile = "dev"
region = "eu-west-1"
events_queue = "https://sqs.eu-west-1.amazonaws.com/111111111111/pipetop-events"

[[contexts]]
profile = "prod-admin"
region = "us-east-1"
read_only = true

[[contexts]]
name = "local"
endpoint_url = "http://127.0.0.1:4599"
"""


def test_config_contexts_with_their_labels_flags_and_profile_tables(tmp_path: Path) -> None:
    settings = load_settings(path=write_config(tmp_path, CONFIG), environ={})
    contexts = contexts_of([], settings)
    assert places(contexts) == [
        ("dev", "dev", "eu-west-1", None),
        ("prod-admin/us-east-1", "prod-admin", "us-east-1", None),
        ("local", None, None, "http://127.0.0.1:4599"),
    ]
    dev, prod, local = contexts
    assert dev.events_queue is not None
    assert dev.events_queue.endswith("/pipetop-events")
    assert (dev.read_only, dev.production) == (False, False)
    # The context's read_only and the profile's production ([profiles.prod-admin]).
    assert (prod.read_only, prod.production) == (True, True)
    assert (local.read_only, local.production) == (False, False)


def test_a_read_only_flag_holds_for_every_context(tmp_path: Path) -> None:
    path = write_config(tmp_path, CONFIG)
    settings = load_settings(path=path, environ={}, flags={"read_only": True})
    assert all(context.read_only for context in contexts_of([], settings))


def test_connection_flags_replace_the_config_contexts(tmp_path: Path) -> None:
    settings = load_settings(path=write_config(tmp_path, CONFIG), environ={})
    assert places(contexts_of(["--profile", "ops"], settings)) == [("ops", "ops", None, None)]
    argv = ["--endpoint-url", "http://127.0.0.1:4599"]
    assert places(contexts_of(argv, settings)) == [("default", None, None, "http://127.0.0.1:4599")]


def test_two_contexts_with_one_label_are_refused(tmp_path: Path) -> None:
    text = '[[contexts]]\nprofile = "dev"\n\n[[contexts]]\nname = "dev"\nregion = "eu-west-1"\n'
    settings = load_settings(path=write_config(tmp_path, text), environ={})
    with pytest.raises(SettingsError, match="two contexts are both called 'dev'"):
        contexts_of([], settings)


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ('profile = "dev"\nregoin = "eu-west-1"', "contexts.0.regoin: Extra inputs"),
        ('endpoint_url = "127.0.0.1:4599"', "must be an http(s) URL"),
        ('name = "  "', "a context's name cannot be blank"),
        ('events_queue = "pipetop-events"', "must be an http(s) URL"),
    ],
)
def test_a_broken_context_entry_names_the_file_and_the_key(
    tmp_path: Path, entry: str, complaint: str
) -> None:
    path = write_config(tmp_path, f"[[contexts]]\n{entry}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path=path, environ={})
    assert str(caught.value).startswith(f"{path}: contexts.0")
    assert complaint in str(caught.value)


def test_the_app_command_prints_a_context_error_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '[[contexts]]\nname = "x"\nprofile = "a"\n\n[[contexts]]\nname = "x"\nprofile = "b"\n'
    path = write_config(tmp_path, text)
    assert main(["--config", str(path)]) == 2
    assert "two contexts are both called 'x'" in capsys.readouterr().err


def test_labels() -> None:
    assert label_of("dev", "eu-west-1") == "dev/eu-west-1"
    assert label_of(None, "eu-west-1") == "eu-west-1"
    assert label_of("dev", None, "Development") == "Development"
    assert label_of(None, None) == "default"


def summary(name: str) -> PipelineSummary:
    return PipelineSummary.model_validate({"name": name, "version": 1})


def test_a_fleet_keys_pipelines_by_context_and_name() -> None:
    dev = WorkspaceView().with_pipelines([summary("web-app"), summary("api")])
    prod = WorkspaceView().with_pipelines([summary("web-app")])
    fleet = FleetView.of(
        {"dev/eu-west-1": dev, "prod": prod}, {"prod": ContextPlace("222222222222", "us-east-1")}
    )
    assert scoped("dev/eu-west-1", "web-app") == "dev/eu-west-1/web-app"
    # A label may hold the separator: a key splits at its last one (names never hold it).
    assert split_key("dev/eu-west-1/web-app") == ("dev/eu-west-1", "web-app")
    assert split_key("web-app") is None
    assert sorted(fleet.pipelines) == ["dev/eu-west-1/api", "dev/eu-west-1/web-app", "prod/web-app"]
    assert fleet.pipeline("prod/web-app") is prod.pipeline("web-app")
    assert fleet.pipeline("dev/eu-west-1/web-app") is dev.pipeline("web-app")
    assert fleet.pipeline("web-app") is None
    assert fleet.pipeline("staging/web-app") is None
    assert fleet.keys_of("prod") == ["prod/web-app"]
    assert fleet.place("prod") == ContextPlace("222222222222", "us-east-1")
    assert fleet.place("dev/eu-west-1") == ContextPlace()
    assert fleet.counts == {"Idle": 3}
