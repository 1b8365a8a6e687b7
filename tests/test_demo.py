"""`pipetop demo` and the app's command line: the demo's setup against a real child endpoint,
its failures (one line, exit 1, nothing left behind), and the options of the bare `pipetop`."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.endpoint import CLIENT_CONFIG
from tui.cli import build_parser, connection_options, connection_settings, main
from tui.demo import (
    DEMO_QUEUE_NAME,
    REVISION_SUMMARY,
    RULE_NAME,
    DemoError,
    EndpointProcess,
    run_demo,
    set_up,
)
from tui.local.samples import SOURCE_BUCKET, demo_samples
from tui.model.events import parse_event


def client(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=CLIENT_CONFIG,
    )


def demo_processes(data_dir: Path) -> list[int]:
    """Processes whose command line names `data_dir` (a child the demo left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data_dir) in command:
            found.append(int(entry.name))
    return found


def test_the_setup_loads_the_samples_and_subscribes_the_queue_first(tmp_path: Path) -> None:
    endpoint = EndpointProcess(tmp_path / "data")
    (tmp_path / "data").mkdir()
    try:
        url = endpoint.start()
        assert url.startswith("http://127.0.0.1:")
        samples = demo_samples()
        queue_url = asyncio.run(set_up(url, samples))
        codepipeline = client(url, "codepipeline")
        names = sorted(p["name"] for p in codepipeline.list_pipelines()["pipelines"])
        assert names == sorted(s.name for s in samples)
        for sample in samples:
            executions = codepipeline.list_pipeline_executions(pipelineName=sample.name)
            assert len(executions["pipelineExecutionSummaries"]) == 1 + sample.extra_executions
        s3 = client(url, "s3")
        for sample in samples:
            for key, (_, summary) in sample.sources.items():
                head = s3.head_object(Bucket=SOURCE_BUCKET, Key=key)
                assert head["Metadata"][REVISION_SUMMARY] == summary
        sqs = client(url, "sqs")
        assert queue_url == sqs.get_queue_url(QueueName=DEMO_QUEUE_NAME)["QueueUrl"]
        events = client(url, "events")
        targets = events.list_targets_by_rule(Rule=RULE_NAME)["Targets"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        assert [t["Arn"] for t in targets] == [queue_arn]
        # The rule was there before the pipelines: their very first events are queued.
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5
        )["Messages"]
        parsed = [parse_event(m["Body"]) for m in received]
        assert {e.detail.pipeline for e in parsed} <= set(names)
        started = [
            e
            for e in parsed
            if e.detail_type == "CodePipeline Pipeline Execution State Change"
            and e.detail.state == "STARTED"
        ]
        assert started
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"][
                "Policy"
            ]
        )
        assert policy["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    finally:
        assert endpoint.stop() == 0
    assert demo_processes(tmp_path / "data") == []


def test_an_endpoint_that_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = EndpointProcess(data)
    first.start()
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = EndpointProcess(second_dir)
    second.data_dir = data  # the same data dir: the second server is refused
    try:
        with pytest.raises(DemoError) as caught:
            second.start()
        message = str(caught.value)
        assert message.startswith("the local endpoint did not start (it exited with code 2)")
        assert "\n" not in message
        assert "in use" in second.log_path.read_text()
    finally:
        second.stop()
        first.stop()


def test_broken_settings_stop_the_demo_with_one_line_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    config = tmp_path / "config.toml"
    config.write_text("theme = \n")
    assert run_demo(config=config) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"pipetop demo: {config} is not valid TOML")
    assert list(temp.iterdir()) == []
    assert demo_processes(temp) == []


def test_keep_leaves_the_data_dir_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    config = tmp_path / "config.toml"
    config.write_text("theme = \n")
    assert run_demo(keep=True, config=config) == 1
    kept = list(temp.iterdir())
    assert len(kept) == 1
    assert (kept[0] / "serve.log").exists()
    assert f"The demo's data is kept in {kept[0]}" in capsys.readouterr().err
    assert demo_processes(temp) == []


def test_the_bare_command_opens_the_app_with_connection_and_app_options() -> None:
    args = build_parser().parse_args(
        [
            "--profile",
            "dev",
            "--region",
            "eu-west-1",
            "--endpoint-url",
            "http://127.0.0.1:4599",
            "--events-queue",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/pipetop-events",
            "--read-only",
        ]
    )
    assert args.handler.__name__ == "_run_app"
    connection = connection_settings(args)
    assert (connection.profile, connection.region, connection.endpoint_url) == (
        "dev",
        "eu-west-1",
        "http://127.0.0.1:4599",
    )
    assert args.read_only
    assert args.events_queue.endswith("/pipetop-events")
    demo = build_parser().parse_args(["demo", "--keep", "--read-only"])
    assert demo.handler.__name__ == "_run_demo"
    assert demo.keep
    assert demo.read_only


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--region", "Europe"], "not an AWS region name"),
        (["--endpoint-url", "127.0.0.1:4599"], "not an http(s) URL"),
        (["--events-queue", "pipetop-events"], "not an http(s) URL"),
    ],
)
def test_bad_options_are_refused(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    assert caught.value.code == 2
    assert complaint in capsys.readouterr().err


def test_a_broken_config_file_stops_pipetop_before_the_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[poll]\ninterval = 0\n")
    assert main(["--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"pipetop: {config}: poll.interval: Input should be greater than 0"
    )


def test_connection_options_work_after_a_subcommand_name() -> None:
    parser = argparse.ArgumentParser(prog="pipetop")
    parser.add_argument("--region")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("watch", parents=[connection_options()])
    after = parser.parse_args(["watch", "--region", "eu-west-1", "--endpoint-url", "http://x:1"])
    assert connection_settings(after).region == "eu-west-1"
    assert connection_settings(after).endpoint_url == "http://x:1"
    # A value given before the subcommand is not reset by the subcommand's defaults.
    before = parser.parse_args(["--region", "us-west-2", "watch"])
    assert connection_settings(before).region == "us-west-2"
