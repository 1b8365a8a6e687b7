"""`pipetop watch` as a real process against a real endpoint: lines, exit codes, signals."""

from __future__ import annotations

import os
import pty
import re
import signal
import socket
import subprocess
from typing import Any

import pytest

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    stage_state,
    upload_source,
    wait_approval_token,
    wait_status,
)
from tests.scripts.run import one_line_error, pipetop, spawn

FAST = ("--interval", "0.1", "--exit-status")
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \S+ +\S+")


def create(endpoint: Endpoint, name: str, *stages: dict[str, Any], mode: str | None = None) -> Any:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline(name, *stages, mode=mode))
    return cp


def gated(endpoint: Endpoint, name: str, mode: str | None = None) -> Any:
    return create(
        endpoint,
        name,
        stage("Approve", approval("Gate")),
        stage("Deploy", commands("Ship", ["true"])),
        mode=mode,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out, err


def test_a_succeeding_execution_prints_each_change_and_exits_0(endpoint: Endpoint) -> None:
    cp = gated(endpoint, "green")
    execution_id = latest_execution_id(cp, "green")
    token = wait_approval_token(cp, "green", "Approve", "Gate", execution_id)
    watcher = spawn("watch", "green", "--execution", execution_id, *FAST, url=endpoint.url)
    assert watcher.stdout is not None
    header = watcher.stdout.readline()
    assert execution_id in header
    cp.put_approval_result(
        pipelineName="green",
        stageName="Approve",
        actionName="Gate",
        token=token,
        result={"status": "Approved", "summary": "go"},
    )
    code, out, err = finish(watcher)
    assert code == 0, err
    lines = [header.rstrip("\n"), *out.splitlines()]
    assert "\x1b" not in "".join(lines)
    assert all(LINE.match(line) for line in lines), lines
    subjects = [tuple(line.split()[1:3]) for line in lines]
    assert subjects[0] == ("execution", "InProgress")
    assert subjects[-1] == ("execution", "Succeeded")
    order = [
        ("Approve/Gate", "Succeeded"),
        ("Approve", "Succeeded"),
        ("Deploy/Ship", "Succeeded"),
        ("Deploy", "Succeeded"),
    ]
    assert [subjects.index(s) for s in order] == sorted(subjects.index(s) for s in order)
    # (Deploy may run between two polls: its InProgress is then never seen, by design.)
    # One line per change: no subject repeats a status.
    assert len(subjects) == len(set(subjects))
    assert "go" in lines[subjects.index(("Approve/Gate", "Succeeded"))]

    # Watching it again once it has ended: announced, its stages, its outcome last.
    again = pipetop("watch", "green", *FAST, url=endpoint.url)
    assert again.returncode == 0, again.stderr
    ended = [tuple(line.split()[1:3]) for line in again.stdout.splitlines()]
    assert ended[0] == ended[-1] == ("execution", "Succeeded")
    assert ("Deploy", "Succeeded") in ended


def test_a_failure_exits_1_naming_the_action(endpoint: Endpoint) -> None:
    cp = create(endpoint, "red", stage("Build", commands("Compile", ["exit 3"])))
    execution_id = latest_execution_id(cp, "red")
    done = pipetop("watch", "red", *FAST, url=endpoint.url)
    assert done.returncode == 1, done.stderr
    assert execution_id in done.stdout.splitlines()[0]
    last = done.stdout.splitlines()[-1]
    assert "execution" in last
    assert "Failed" in last
    assert "Compile" in last
    # Without --exit-status the end is reported, the status is 0.
    report = pipetop("watch", "red", "--interval", "0.1", url=endpoint.url)
    assert report.returncode == 0
    assert "Failed" in report.stdout


def test_a_stop_exits_5_and_ctrl_c_exits_130(endpoint: Endpoint) -> None:
    cp = gated(endpoint, "halt")
    execution_id = latest_execution_id(cp, "halt")
    wait_approval_token(cp, "halt", "Approve", "Gate", execution_id)

    interrupted = spawn("watch", "halt", *FAST, url=endpoint.url)
    wait_for(lambda: interrupted.stdout is not None and interrupted.stdout.readline() != "")
    interrupted.send_signal(signal.SIGINT)
    code, _, err = finish(interrupted)
    assert code == 130
    assert one_line_error(err) == "pipetop watch: interrupted"

    watcher = spawn("watch", "halt", *FAST, url=endpoint.url)
    wait_for(lambda: watcher.stdout is not None and watcher.stdout.readline() != "")
    cp.stop_pipeline_execution(pipelineName="halt", pipelineExecutionId=execution_id, abandon=True)
    code, out, err = finish(watcher)
    assert code == 5, err
    assert "Approve/Gate" in out
    assert "Abandoned" in out
    assert out.splitlines()[-1].split()[1:3] == ["execution", "Stopped"]


@pytest.mark.parametrize(("ending", "code"), [("superseded", 6), ("cancelled", 7)])
def test_superseded_and_cancelled(endpoint: Endpoint, ending: str, code: int) -> None:
    cp = gated(endpoint, "line")
    first = latest_execution_id(cp, "line")
    wait_approval_token(cp, "line", "Approve", "Gate", first)
    waiting = cp.start_pipeline_execution(name="line")["pipelineExecutionId"]
    wait_for(
        lambda: (
            stage_state(cp, "line", "Approve")
            .get("inboundExecution", {})
            .get("pipelineExecutionId")
            == waiting
        )
    )
    # Without --execution: the newest in flight, the waiting one.
    watcher = spawn("watch", "line", *FAST, url=endpoint.url)
    assert watcher.stdout is not None
    header = wait_for(lambda: watcher.stdout.readline() if watcher.stdout else None)
    assert waiting in header
    if ending == "superseded":
        newest = cp.start_pipeline_execution(name="line")["pipelineExecutionId"]
        assert wait_status(cp, "line", waiting) == "Superseded"
        assert newest
    else:
        cp.update_pipeline(pipeline=cp.get_pipeline(name="line")["pipeline"])
        assert wait_status(cp, "line", waiting) == "Cancelled"
    status, out, err = finish(watcher)
    assert status == code, err
    assert out.splitlines()[-1].split()[2] == ending.capitalize()


def on_a_terminal(endpoint: Endpoint, name: str, **env: str) -> str:
    """What `pipetop watch` writes when its stdout is a terminal (a pty)."""
    leader, follower = pty.openpty()
    chunks = []
    try:
        process = spawn(
            "watch", name, *FAST, url=endpoint.url, stdout=follower, env={**os.environ, **env}
        )
        os.close(follower)
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        code, _, err = finish(process)
    finally:
        os.close(leader)
    assert code == 0, err
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_without_no_color(endpoint: Endpoint) -> None:
    cp = create(endpoint, "tty", stage("Build", commands("Compile", ["true"])))
    execution_id = latest_execution_id(cp, "tty")
    assert wait_status(cp, "tty", execution_id) == "Succeeded"
    assert "\x1b[32mSucceeded\x1b[0m" in on_a_terminal(endpoint, "tty")
    plain = on_a_terminal(endpoint, "tty", NO_COLOR="1")
    assert "Succeeded" in plain
    assert "\x1b" not in plain
    piped = pipetop("watch", "tty", *FAST, url=endpoint.url)
    assert "Succeeded" in piped.stdout
    assert "\x1b" not in piped.stdout + piped.stderr


def test_missing_things_bad_arguments_and_a_dead_endpoint(endpoint: Endpoint) -> None:
    gone = pipetop("watch", "nothing", *FAST, url=endpoint.url)
    assert gone.returncode == 3
    assert "Pipeline not found" in one_line_error(gone.stderr)

    cp = create(endpoint, "here", stage("Build", commands("Compile", ["true"])))
    assert cp
    unknown = pipetop(
        "watch", "here", "--execution", "00000000-0000-4000-8000-000000000000", *FAST,
        url=endpoint.url,
    )  # fmt: skip
    assert unknown.returncode == 3
    assert "Execution not found" in one_line_error(unknown.stderr)

    zero = pipetop("watch", "here", "--interval", "0", url=endpoint.url)
    assert zero.returncode == 2
    assert "the interval must be a positive number of seconds" in zero.stderr
    bad_id = pipetop("watch", "here", "--execution", "latest", url=endpoint.url)
    assert bad_id.returncode == 2
    assert "not a pipeline execution id" in bad_id.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    down = pipetop("watch", "here", *FAST, url=dead)
    assert down.returncode == 4
    assert "Endpoint unreachable" in one_line_error(down.stderr)
