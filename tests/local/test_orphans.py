"""Process groups a crashed endpoint left running: recorded while they run, ended at the next
start only when they are still the very processes recorded (orphans.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
    zip_bytes,
)
from tests.local.sources import EndpointStarter, lambda_invoke
from tests.process import ServerProcess
from tui.local.engine.db import DATABASE_NAME
from tui.local.engine.orphans import GroupIdentity, ProcessGroups, identify


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def group_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[2])


def recorded_in(data: Path) -> list[tuple[GroupIdentity, str]]:
    """The records as another process sees them in the data dir's database."""
    db = sqlite3.connect(data / DATABASE_NAME, isolation_level=None)
    try:
        return ProcessGroups(db).recorded()
    finally:
        db.close()


@contextlib.contextmanager
def ended_afterwards(pid_file: Path) -> Iterator[None]:
    """Whatever happens in the test, the group whose leader wrote `pid_file` does not outlive it."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text())
            # Only while that pid is still the shell running our script (it names the file).
            if str(pid_file).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def strangers() -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts `sleep 30` processes, each leading a group of its own; kills what is left."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(["sleep", "30"], start_new_session=True)
        started.append(process)
        wait_for(lambda: identify(process.pid) is not None)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.slow
def test_a_command_left_running_by_a_sigkill_is_ended_at_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pid_file = tmp_path / "pid"
    with ended_afterwards(pid_file):
        with ServerProcess(data) as server:
            s3 = server.client("s3")
            s3.create_bucket(Bucket="source-bucket")
            s3.put_bucket_versioning(
                Bucket="source-bucket", VersioningConfiguration={"Status": "Enabled"}
            )
            s3.put_object(Bucket="source-bucket", Key="app.zip", Body=zip_bytes({"a.txt": "a"}))
            server.client("codepipeline").create_pipeline(
                pipeline=pipeline(
                    "forever",
                    stage(
                        "Build",
                        commands(
                            "Loop",
                            [
                                # Written atomically: the test never reads half a pid.
                                f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file}",
                                "while true; do sleep 0.05; done",
                            ],
                        ),
                    ),
                )
            )
            wait_for(pid_file.exists)
            pid = int(pid_file.read_text())
            # The shell leads its own group, and that group is on record while it runs (the
            # shell may write its pid before the server has finished starting it).
            assert group_of(pid) == pid
            ((identity, owner),) = wait_for(lambda: recorded_in(data))
            assert identity == identify(pid)
            assert "forever/Build/Loop" in owner
            server.kill()

        # Nothing ended it: the crash orphaned it.
        assert alive(pid)
        with ServerProcess(data) as server:
            wait_for(lambda: not alive(pid), timeout=5)
            lines = [
                line for line in server.stderr_text().splitlines() if "ended process group" in line
            ]
            assert len(lines) == 1
            assert f"process group {pid} of action forever/Build/Loop" in lines[0]
            assert recorded_in(data) == []
            # The action it belonged to ended as interrupted.
            cp = server.client("codepipeline")
            action = cp.get_pipeline_state(name="forever")["stageStates"][1]["actionStates"][0]
            assert action["latestExecution"]["status"] == "Failed"
            assert "interrupted" in action["latestExecution"]["summary"].lower()


def test_only_groups_still_led_by_the_recorded_process_are_ended(
    tmp_path: Path, strangers: Callable[[], subprocess.Popen[bytes]]
) -> None:
    data = tmp_path / "data"
    ours = strangers()
    reused = strangers()
    other_boot = strangers()
    exited = strangers()
    exited_identity = identify(exited.pid)
    exited.kill()
    exited.wait()
    ours_identity = identify(ours.pid)
    reused_identity = identify(reused.pid)
    other_boot_identity = identify(other_boot.pid)
    assert ours_identity is not None
    assert reused_identity is not None
    assert other_boot_identity is not None
    assert exited_identity is not None

    data.mkdir()
    db = sqlite3.connect(data / DATABASE_NAME, isolation_level=None)
    groups = ProcessGroups(db)
    groups.remember(ours_identity, "action ours")
    # The pid now belongs to a process that started at another time: a reused pid.
    groups.remember(
        GroupIdentity(reused.pid, reused_identity.start_time + 1, reused_identity.boot_id),
        "action reused",
    )
    groups.remember(
        GroupIdentity(other_boot.pid, other_boot_identity.start_time, "another-boot"),
        "action other-boot",
    )
    groups.remember(exited_identity, "action exited")
    db.close()

    with ServerProcess(data) as server:
        # The start ends what it must before it listens.
        assert ours.wait(timeout=5) == -signal.SIGTERM
        assert reused.poll() is None
        assert other_boot.poll() is None
        lines = [
            line for line in server.stderr_text().splitlines() if "ended process group" in line
        ]
        assert len(lines) == 1
        assert f"process group {ours.pid} of action ours" in lines[0]
        # Every record is dropped, matched or not.
        assert recorded_in(data) == []


def test_a_group_that_survives_sigterm_gets_sigkill(tmp_path: Path) -> None:
    stubborn = subprocess.Popen(
        ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.05; done"],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    try:
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline() == b"ready\n"
        identity = identify(stubborn.pid)
        assert identity is not None
        db = sqlite3.connect(tmp_path / "db", isolation_level=None)
        groups = ProcessGroups(db)
        groups.remember(identity, "action stubborn")
        assert groups.end_leftovers(grace=0.2) == [identity]
        assert stubborn.wait(timeout=5) == -signal.SIGKILL
        assert groups.recorded() == []
        db.close()
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
        stubborn.wait()
        assert stubborn.stdout is not None
        stubborn.stdout.close()


BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - {command}
"""


def _commands_action(command: str) -> dict[str, Any]:
    return commands("Work", [command])


def _codebuild_action(command: str) -> dict[str, Any]:
    return {
        "name": "Work",
        "actionTypeId": {
            "category": "Build",
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
        },
        "configuration": {"ProjectName": "proj"},
        "inputArtifacts": [{"name": "SourceOut"}],
    }


def _lambda_action(command: str) -> dict[str, Any]:
    return lambda_invoke("Work", "waiter")


@pytest.mark.parametrize("kind", ["commands", "codebuild", "lambda"])
def test_a_group_is_on_record_while_it_runs_and_struck_off_when_it_ends(
    tmp_path: Path, kind: str
) -> None:
    pid_file = tmp_path / "pid"
    gate = tmp_path / "gate"
    command = (
        f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file}; "
        f"while [ ! -f {gate} ]; do sleep 0.05; done"
    )
    config = textwrap.dedent(
        f"""\
        [functions.waiter]
        command = ["sh", "-c", "{command}"]
        """
    )
    starter = EndpointStarter(tmp_path / "data")
    try:
        endpoint: Endpoint = starter(config if kind == "lambda" else None)
        upload_source(endpoint, {"buildspec.yml": BUILDSPEC.format(command=command)})
        if kind == "codebuild":
            endpoint.client("codebuild").create_project(
                name="proj",
                source={"type": "CODEPIPELINE"},
                artifacts={"type": "CODEPIPELINE"},
                environment={
                    "type": "LINUX_CONTAINER",
                    "image": "aws/codebuild/standard:7.0",
                    "computeType": "BUILD_GENERAL1_SMALL",
                },
                serviceRole="arn:aws:iam::000000000000:role/codebuild",
            )
        action = {
            "commands": _commands_action,
            "codebuild": _codebuild_action,
            "lambda": _lambda_action,
        }[kind](command)
        client = endpoint.client("codepipeline")
        client.create_pipeline(pipeline=pipeline("recorded", stage("Run", action)))
        execution_id = latest_execution_id(client, "recorded")
        wait_for(pid_file.exists)
        pid = int(pid_file.read_text())
        groups = wait_for(
            lambda: endpoint.call(lambda: ProcessGroups(endpoint.backend.db).recorded())
        )
        assert [(identity, "recorded/Run/Work" in owner) for identity, owner in groups] == [
            (identify(pid), True)
        ]
        gate.touch()
        assert wait_status(client, "recorded", execution_id) == "Succeeded"
        assert endpoint.call(lambda: ProcessGroups(endpoint.backend.db).recorded()) == []
        assert not alive(pid)
    finally:
        starter.stop_all()
