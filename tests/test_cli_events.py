"""`pipetop events setup` / `teardown` as a user runs them: output, exit codes, the config file
remembering the queue, and the app's watcher reading that queue."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws.moto_server import free_port
from tests.endpoint import Endpoint
from tui.app.contexts import watch_contexts
from tui.app.settings import load_settings
from tui.aws.feed import FeedMode
from tui.aws.session import ConnectionSettings
from tui.aws.watch import Watcher
from tui.cli import main

QUEUE = "pipetop-events-alice-laptop"
CONFIG = """\
# pipetop settings
theme = "nord"   # the dark one

[poll]
interval = 5  # seconds
"""


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def queue_url_of(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("Queue URL: ")]
    return line.removeprefix("Queue URL: ")


async def test_setup_in_a_real_process_remembers_the_queue_the_app_then_reads(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    env = {"PIPETOP_CONFIG": str(config)}
    first = await asyncio.to_thread(
        run_cli, "events", "setup", "--endpoint-url", endpoint.url, "--queue-name", QUEUE, env=env
    )
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    out = first.stdout
    assert out.startswith(f"pipetop events setup: region us-east-1, {endpoint.url}\n")
    created = [line for line in out.splitlines() if line.strip().startswith("created")]
    assert [line.split()[1] for line in created] == ["queue", "rule", "queue", "rule", "config"]
    url = queue_url_of(out)
    assert url == endpoint.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]

    # The config keeps the user's comments, keys and tables, and now holds the queue.
    text = config.read_text()
    assert "# pipetop settings" in text
    assert 'theme = "nord"   # the dark one' in text
    assert "interval = 5  # seconds" in text
    settings = load_settings(path=config, environ={})
    assert settings.events_queue == url
    assert settings.theme == "nord"
    assert settings.poll.interval == 5

    # Again: nothing created, everything found, the config untouched.
    second = await asyncio.to_thread(
        run_cli, "events", "setup", "--endpoint-url", endpoint.url, "--queue-name", QUEUE, env=env
    )
    assert second.returncode == 0, second.stderr
    assert not [ln for ln in second.stdout.splitlines() if ln.strip().startswith("created")]
    assert len([ln for ln in second.stdout.splitlines() if ln.strip().startswith("exists")]) == 5
    assert queue_url_of(second.stdout) == url
    assert config.read_text() == text

    # The app's watcher, given what the app reads from the settings, goes live on that queue.
    statuses: list[FeedMode] = []
    watcher = Watcher(
        ConnectionSettings(endpoint_url=endpoint.url, max_attempts=1),
        events_queue=settings.events_queue,
        on_status=lambda status: statuses.append(status.feed_mode),
    )
    task = asyncio.ensure_future(watcher.run())
    try:
        for _ in range(500):
            if watcher.feed is not None and watcher.feed.status.live:
                break
            await asyncio.sleep(0.02)
        assert watcher.feed is not None
        assert watcher.feed.status.live
        assert watcher.feed.status.queue_url == url
    finally:
        await watcher.close()
        await task


def test_dry_run_prints_the_plan_and_changes_nothing(
    endpoint: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    code = main(
        [
            "events",
            "setup",
            "--dry-run",
            "--endpoint-url",
            endpoint.url,
            "--queue-name",
            QUEUE,
            "--pipeline",
            "web",
            "--pipeline",
            "api",
            "--config",
            str(config),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "(dry run)" in out.splitlines()[0]
    would = [line for line in out.splitlines() if "would create" in line]
    assert len(would) == 5
    assert "CodePipeline events of pipelines api, web" in out
    assert "Queue URL: known once the queue exists" in out
    assert not config.exists()
    assert endpoint.client("sqs").list_queues().get("QueueUrls", []) == []
    assert endpoint.client("events").list_rules()["Rules"] == []


def test_teardown_forgets_the_queue_and_keeps_the_rest_of_the_config(
    endpoint: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    common = ["--endpoint-url", endpoint.url, "--queue-name", QUEUE, "--config", str(config)]
    assert main(["events", "setup", *common]) == 0
    url = queue_url_of(capsys.readouterr().out)
    assert load_settings(path=config, environ={}).events_queue == url

    assert main(["events", "teardown", "--dry-run", *common]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if "would remove" in line]) == 4
    assert load_settings(path=config, environ={}).events_queue == url

    assert main(["events", "teardown", *common]) == 0
    out = capsys.readouterr().out
    removed = [line.split()[1] for line in out.splitlines() if line.strip().startswith("removed")]
    assert removed == ["rule", "rule", "queue", "config"]
    assert config.read_text() == CONFIG
    assert endpoint.client("sqs").list_queues().get("QueueUrls", []) == []

    assert main(["events", "teardown", *common]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if line.strip().startswith("absent")]) == 4


def test_a_config_remembering_another_queue_is_updated(
    endpoint: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    old = "https://sqs.eu-west-1.amazonaws.com/123456789012/old"
    config.write_text(f'events_queue = "{old}"\n' + CONFIG)
    args = ["--endpoint-url", endpoint.url, "--queue-name", QUEUE, "--config", str(config)]
    assert main(["events", "setup", *args]) == 0
    out = capsys.readouterr().out
    assert "updated       config" in out
    assert load_settings(path=config, environ={}).events_queue == queue_url_of(out)
    # Teardown forgets only the queue it removed; another one would be left alone.
    config.write_text(f'events_queue = "{old}"\n' + CONFIG)
    assert main(["events", "teardown", *args]) == 0
    assert load_settings(path=config, environ={}).events_queue == old


def test_bad_input_is_refused_before_anything_happens(
    endpoint: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in (
        (["--queue-name", "has space"], "SQS queue name"),
        (["--queue-name", "orders.fifo"], "FIFO"),
        (["--rule-name", "r" * 65], "rule name"),
        (["--pipeline", "no/slash"], "pipeline name"),
        (["--endpoint-url", "not-a-url"], "not an http(s) URL"),
    ):
        with pytest.raises(SystemExit) as caught:
            main(["events", "setup", "--endpoint-url", endpoint.url, *args])
        assert caught.value.code == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["events", "teardown", "--pipeline", "web"])
    assert "unrecognized arguments" in capsys.readouterr().err

    # One account and region at a time: a queue and a rule belong to one of each.
    code = main(
        [
            "events",
            "setup",
            "--endpoint-url",
            endpoint.url,
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
        ]
    )
    assert code == 2
    assert "one account and region" in capsys.readouterr().err

    # A config file setup could not write back is refused before AWS is touched.
    broken = tmp_path / "broken.toml"
    broken.write_text("theme = \n")
    assert main(["events", "setup", "--endpoint-url", endpoint.url, "--config", str(broken)]) == 1
    assert "not valid TOML" in capsys.readouterr().err
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'red'\n")
    assert main(["events", "setup", "--endpoint-url", endpoint.url, "--config", str(unknown)]) == 1
    assert "unknown.toml" in capsys.readouterr().err
    assert endpoint.client("sqs").list_queues().get("QueueUrls", []) == []
    assert unknown.read_text() == "colour = 'red'\n"


def test_an_unreachable_endpoint_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["events", "setup", "--endpoint-url", url, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pipetop: events setup failed: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not config.exists()


def test_a_foreign_rule_is_refused_with_exit_1(
    endpoint: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    endpoint.client("events").put_rule(Name=QUEUE, EventPattern=json.dumps({"source": ["x"]}))
    code = main(
        [
            "events",
            "setup",
            "--endpoint-url",
            endpoint.url,
            "--queue-name",
            QUEUE,
            "--config",
            str(tmp_path / "c.toml"),
        ]
    )
    assert code == 1
    assert "--rule-name" in capsys.readouterr().err
    assert not (tmp_path / "c.toml").exists()


# Several contexts ---------------------------------------------------------------------------

BETA_REGION = "eu-west-1"
BETA_ACCOUNT = "111111111111"


@pytest.fixture
def beta(tmp_path: Path) -> Iterator[Endpoint]:
    """A second endpoint: another account in another region."""
    other = Endpoint(tmp_path / "beta", region=BETA_REGION, account=BETA_ACCOUNT).start()
    try:
        yield other
    finally:
        other.stop()


def two_contexts(alpha: Endpoint, beta: Endpoint) -> str:
    return f"""\
# two accounts
theme = "nord"

[[contexts]]
name = "alpha"   # the first one
region = "us-east-1"
endpoint_url = "{alpha.url}"

[[contexts]]
name = "beta"
region = "{BETA_REGION}"
endpoint_url = "{beta.url}"
production = true  # careful
"""


def context_queues(config: Path) -> dict[str, str | None]:
    settings = load_settings(path=config, environ={})
    assert settings.events_queue is None
    return {context.label: context.events_queue for context in watch_contexts(settings)}


def queues_of(endpoint: Endpoint) -> list[str]:
    return list(endpoint.client("sqs").list_queues().get("QueueUrls", []))


def test_setup_with_a_context_connects_as_it_and_remembers_the_queue_in_its_entry(
    endpoint: Endpoint, beta: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    original = two_contexts(endpoint, beta)
    config.write_text(original)
    common = ["--queue-name", QUEUE, "--config", str(config)]

    assert main(["events", "setup", "--context", "beta", *common]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"pipetop events setup: context beta, region {BETA_REGION}, {beta.url}")
    assert "events_queue of context beta" in out
    beta_url = queue_url_of(out)
    assert f"/{BETA_ACCOUNT}/{QUEUE}" in beta_url
    assert queues_of(beta) == [beta_url]
    assert queues_of(endpoint) == []
    assert context_queues(config) == {"alpha": None, "beta": beta_url}
    text = config.read_text()
    for kept in (
        "# two accounts",
        'name = "alpha"   # the first one',
        "production = true  # careful",
    ):
        assert kept in text

    assert main(["events", "setup", "--context", "alpha", *common]) == 0
    alpha_url = queue_url_of(capsys.readouterr().out)
    assert queues_of(endpoint) == [alpha_url]
    assert context_queues(config) == {"alpha": alpha_url, "beta": beta_url}

    # Teardown of one context forgets only its queue, in its account only.
    assert main(["events", "teardown", "--context", "beta", *common]) == 0
    out = capsys.readouterr().out
    assert "removed       config" in out
    assert queues_of(beta) == []
    assert queues_of(endpoint) == [alpha_url]
    assert context_queues(config) == {"alpha": alpha_url, "beta": None}

    assert main(["events", "teardown", "--context", "alpha", *common]) == 0
    capsys.readouterr()
    assert config.read_text() == original


def test_with_contexts_the_queue_must_be_placed_or_the_command_is_refused(
    endpoint: Endpoint, beta: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    original = two_contexts(endpoint, beta)
    config.write_text(original)
    common = ["--queue-name", QUEUE, "--config", str(config)]
    for args, message in (
        ([], "watches several contexts (alpha, beta); name the one whose queue this is"),
        (["--context", "gamma"], "has no context 'gamma' (its contexts: alpha, beta)"),
        (["--context", "alpha", "--region", "eu-west-1"], "drop --region"),
    ):
        for command in ("setup", "teardown"):
            assert main(["events", command, *args, *common]) == 2
            err = capsys.readouterr().err
            assert message in err, err
    assert queues_of(endpoint) == []
    assert queues_of(beta) == []
    assert config.read_text() == original

    # Connection options without --context: that connection, the top-level key.
    assert main(["events", "setup", "--endpoint-url", endpoint.url, *common]) == 0
    url = queue_url_of(capsys.readouterr().out)
    settings = load_settings(path=config, environ={})
    assert settings.events_queue == url
    assert [entry.events_queue for entry in settings.contexts] == [None, None]

    # A config without contexts has none to name.
    plain = tmp_path / "plain.toml"
    plain.write_text(CONFIG)
    code = main(["events", "setup", "--context", "alpha", "--config", str(plain)])
    assert code == 2
    assert "has no context 'alpha' (its contexts: none)" in capsys.readouterr().err
    assert plain.read_text() == CONFIG

    # Two entries with one label: which one is meant cannot be told.
    doubled = tmp_path / "doubled.toml"
    doubled.write_text('[[contexts]]\nname = "x"\n\n[[contexts]]\nname = "x"\n')
    assert main(["events", "setup", "--context", "x", "--config", str(doubled)]) == 1
    assert "two contexts share a name" in capsys.readouterr().err
