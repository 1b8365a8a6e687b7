from __future__ import annotations

import asyncio
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tui.local.clock import Clock, ManualClock
from tui.local.engine.db import open_database
from tui.local.engine.logs import LogStore, stream_arn
from tui.local.engine.providers.commands import PRIVATE_DIR, CommandsProvider
from tui.local.engine.providers.job import ActionJob, ActionOutcome
from tui.model.declaration import (
    ActionDeclaration,
    ActionTypeId,
    EnvironmentVariable,
    InputArtifact,
    OutputArtifact,
)

GROUP = "/aws/codepipeline/demo"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@dataclass
class Harness:
    tmp_path: Path
    clock: Clock = field(default_factory=lambda: ManualClock(start=START))
    provider: CommandsProvider = field(
        default_factory=lambda: CommandsProvider(kill_grace_seconds=1.0)
    )

    def __post_init__(self) -> None:
        self.logs = LogStore(open_database(self.tmp_path / "data"), self.clock)
        self.workspace = self.tmp_path / "workspace"
        self.stream = "run-1"

    def job(
        self,
        commands: list[str],
        *,
        inputs: dict[str, dict[str, str]] | None = None,
        files: list[str] | None = None,
        output_variables: list[str] | None = None,
        environment: list[EnvironmentVariable] | None = None,
        env: dict[str, str] | None = None,
    ) -> ActionJob:
        self.workspace.mkdir(exist_ok=True)
        input_dirs: dict[str, Path] = {}
        for name, contents in (inputs or {}).items():
            directory = self.workspace / "inputs" / name
            directory.mkdir(parents=True)
            for rel, text in contents.items():
                (directory / rel).parent.mkdir(parents=True, exist_ok=True)
                (directory / rel).write_text(text)
            input_dirs[name] = directory
        declaration = ActionDeclaration(
            name="Build",
            action_type_id=ActionTypeId(
                category="Compute", owner="AWS", provider="Commands", version="1"
            ),
            commands=commands,
            input_artifacts=[InputArtifact(name=n) for n in input_dirs],
            output_artifacts=[OutputArtifact(name="BuildOutput", files=files)]
            if files is not None
            else [],
            output_variables=output_variables,
            environment_variables=environment,
        )
        self.logs.ensure_stream(GROUP, self.stream)
        return ActionJob(
            pipeline_name="demo",
            pipeline_arn="arn:aws:codepipeline:us-east-1:000000000000:demo",
            pipeline_version=1,
            stage_name="Build",
            action_name="Build",
            execution_id="exec-1",
            action_execution_id="run-1",
            region="eu-west-1",
            account="000000000000",
            declaration=declaration,
            configuration={},
            workspace=self.workspace,
            input_dirs=input_dirs,
            input_artifacts=[],
            log=lambda line: self.logs.append(GROUP, self.stream, line),
            clock=self.clock,
            log_group=GROUP,
            log_stream=self.stream,
            env=env or {},
            build_number=7,
        )

    async def run(self, commands: list[str], **kwargs: object) -> ActionOutcome:
        return await self.provider.run(self.job(commands, **kwargs))  # type: ignore[arg-type]

    def lines(self) -> list[str]:
        return [e.message for e in self.logs.read(GROUP, self.stream)]

    def output(self) -> list[str]:
        """The commands' own output, without the provider's [Container] lines."""
        return [line for line in self.lines() if not line.startswith("[Container] ")]


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(name))
    return members


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


async def wait_for_file(path: Path) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


# --- running commands ------------------------------------------------------------------


async def test_shell_state_carries_over_between_commands(h: Harness) -> None:
    outcome = await h.run(
        [
            "mkdir -p sub/dir && cd sub",
            "export FOO=bar",
            "LOCAL=kept",
            "cd dir",
            'echo "$(pwd | sed "s|.*/sub|sub|") $FOO $LOCAL"',
        ],
        inputs={"Src": {"readme.txt": "hi"}},
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output() == ["sub/dir bar kept"]


async def test_commands_run_in_the_primary_input_and_see_every_input(h: Harness) -> None:
    outcome = await h.run(
        [
            "cat readme.txt",
            'cat "$CODEBUILD_SRC_DIR_Other/other.txt"',
            'test "$CODEBUILD_SRC_DIR" = "$PWD" && echo same',
        ],
        inputs={"Src": {"readme.txt": "primary"}, "Other": {"other.txt": "secondary"}},
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output() == ["primary", "secondary", "same"]


async def test_first_failing_command_stops_the_rest(h: Harness) -> None:
    outcome = await h.run(["echo before", "sh -c 'exit 3'", "echo after"])
    assert outcome.status == "Failed"
    assert outcome.error_code == "JobFailed"
    assert outcome.summary == "Error while executing command: sh -c 'exit 3'. Reason: exit status 3"
    assert h.output() == ["before"]
    lines = h.lines()
    assert any(
        "Command did not exit successfully sh -c 'exit 3' exit status 3" in line for line in lines
    )
    assert lines[-2].endswith("Phase complete: BUILD State: FAILED")
    assert not any("Running command echo after" in line for line in lines)


async def test_a_syntax_error_fails_with_the_shells_message(h: Harness) -> None:
    outcome = await h.run(["if then", "echo never"])
    assert outcome.status == "Failed"
    assert outcome.summary == "Error while executing command: if then. Reason: exit status 2"
    assert any("syntax error" in line for line in h.output())


async def test_stdout_and_stderr_are_merged_in_order(h: Harness) -> None:
    outcome = await h.run(
        ["echo out1; echo err1 >&2; echo out2; echo err2 >&2", "ls /no/such/path"]
    )
    assert outcome.status == "Failed"
    output = h.output()
    assert output[:4] == ["out1", "err1", "out2", "err2"]
    assert "No such file or directory" in output[4]


async def test_log_lines_carry_headers_timestamps_and_odd_output(h: Harness) -> None:
    outcome = await h.run(
        [
            "echo hi",
            "printf 'no newline'",
            "printf '\\377\\376bytes\\n'",
            "head -c 300000 /dev/zero | tr '\\0' a; echo",
            "printf 'crlf\\r\\n'",
            "echo",
            "printf 'last without newline'",
        ]
    )
    assert outcome.status == "Succeeded", outcome.summary
    lines = h.lines()
    header = "[Container] 2026/01/01 00:00:00.000000 Running command echo hi"
    assert lines[lines.index(header) + 1] == "hi"
    assert h.output() == [
        "hi",
        "no newline",
        "\ufffd\ufffdbytes",
        "a" * 300_000,
        "crlf",
        "",
        "last without newline",
    ]
    # The partial line is flushed before the next command's header.
    assert lines[lines.index("no newline") + 1].endswith(
        "Running command printf '\\377\\376bytes\\n'"
    )
    assert all(e.timestamp_ms == int(START * 1000) for e in h.logs.read(GROUP, h.stream))
    assert (
        lines[-1] == "[Container] 2026/01/01 00:00:00.000000 Phase complete: BUILD State: SUCCEEDED"
    )


async def test_lines_are_logged_as_they_are_printed(tmp_path: Path) -> None:
    h = Harness(tmp_path, clock=Clock())
    outcome = await h.run(["echo one", "sleep 0.4", "echo two"])
    assert outcome.status == "Succeeded", outcome.summary
    events = {e.message: e for e in h.logs.read(GROUP, h.stream)}
    assert events["two"].timestamp_ms - events["one"].timestamp_ms >= 350


async def test_stdin_is_empty(h: Harness) -> None:
    outcome = await asyncio.wait_for(h.run(["cat", "read x || echo eof"]), 10)
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output() == ["eof"]


async def test_a_command_that_exits_the_shell(h: Harness) -> None:
    outcome = await h.run(["echo a", "exit 4", "echo b"])
    assert outcome.status == "Failed"
    assert outcome.summary == "Error while executing command: exit 4. Reason: exit status 4"
    assert h.output() == ["a"]


async def test_exit_zero_before_the_last_command_is_a_failure(h: Harness) -> None:
    outcome = await h.run(["exit 0", "echo b"])
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "exit 0" in outcome.summary
    assert "1 command(s) after it did not run" in outcome.summary


async def test_exit_zero_as_the_last_command_succeeds(h: Harness) -> None:
    outcome = await h.run(["echo a", "exit 0"])
    assert outcome.status == "Succeeded", outcome.summary


async def test_plain_sh_works_too(tmp_path: Path) -> None:
    h = Harness(tmp_path, provider=CommandsProvider(shell="/bin/sh"))
    outcome = await h.run(["cd /", "export V=1", "echo $PWD $V", "false", "echo never"])
    assert outcome.status == "Failed"
    assert outcome.summary == "Error while executing command: false. Reason: exit status 1"
    assert h.output() == ["/ 1"]


# --- environment -----------------------------------------------------------------------


async def test_the_servers_environment_does_not_leak(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret-value")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVER")
    monkeypatch.setenv("SERVER_ONLY_SETTING", "server-only")
    outcome = await h.run(
        ["env"],
        inputs={"Src": {}, "Lib": {}},
        environment=[
            EnvironmentVariable(name="STAGE", value="prod", type="PLAINTEXT"),
            EnvironmentVariable(name="UNTYPED", value="u"),
        ],
        env={"CODEBUILD_RESOLVED_SOURCE_VERSION": "abc123", "PIPETOP_SOURCE_REVISION": "internal"},
    )
    assert outcome.status == "Succeeded", outcome.summary
    env = dict(line.split("=", 1) for line in h.output() if "=" in line)
    dump = "\n".join(h.lines())
    assert "server-secret-value" not in dump
    assert "AKIASERVER" not in dump
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "SERVER_ONLY_SETTING" not in env
    assert "PIPETOP_SOURCE_REVISION" not in env
    assert env["STAGE"] == "prod"
    assert env["UNTYPED"] == "u"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["LANG"] == "C.UTF-8"
    assert env["HOME"].startswith(str(h.workspace))
    assert env["TMPDIR"].startswith(str(h.workspace))
    assert env["CODEBUILD_SRC_DIR"] == str(h.workspace / "inputs" / "Src")
    assert env["CODEBUILD_SRC_DIR_Src"] == str(h.workspace / "inputs" / "Src")
    assert env["CODEBUILD_SRC_DIR_Lib"] == str(h.workspace / "inputs" / "Lib")
    assert env["CODEBUILD_INITIATOR"] == "codepipeline/demo"
    assert env["CODEBUILD_BUILD_NUMBER"] == "7"
    assert env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == "abc123"
    assert env["CODEBUILD_BUILD_ID"] == outcome.external_execution_id
    assert env["CODEBUILD_BUILD_ID"].startswith("demo-Build:")
    assert (
        env["CODEBUILD_BUILD_ARN"]
        == f"arn:aws:codebuild:eu-west-1:000000000000:build/{env['CODEBUILD_BUILD_ID']}"
    )
    assert env["CODEBUILD_LOG_PATH"] == h.stream


async def test_secrets_manager_variables_fail_the_action_naming_them(h: Harness) -> None:
    outcome = await h.run(
        ["touch ran"],
        environment=[
            EnvironmentVariable(name="OK", value="1", type="PLAINTEXT"),
            EnvironmentVariable(
                name="DB_PASSWORD", value="prod/db:password", type="SECRETS_MANAGER"
            ),
        ],
    )
    assert outcome.status == "Failed"
    assert outcome.error_code == "JobFailed"
    assert outcome.summary is not None
    assert "DB_PASSWORD" in outcome.summary
    assert "SECRETS_MANAGER" in outcome.summary
    assert not (h.workspace / "ran").exists()
    assert any("DB_PASSWORD" in line for line in h.lines())


async def test_reserved_codebuild_names_are_refused(h: Harness) -> None:
    outcome = await h.run(
        ["true"], environment=[EnvironmentVariable(name="CODEBUILD_BUILD_ID", value="fake")]
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "CODEBUILD_BUILD_ID" in outcome.summary


# --- output variables and artifacts --------------------------------------------------


async def test_output_variables_are_read_from_the_session(h: Harness) -> None:
    outcome = await h.run(
        ["export A=1", "B=$(printf 'line1\\nline2\\n')", "SPACES='  padded  '", "unset NEVER"],
        output_variables=["A", "B", "SPACES", "NEVER", "CODEBUILD_BUILD_ID"],
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert outcome.output_variables == {
        "A": "1",
        "B": "line1\nline2",
        "SPACES": "  padded  ",
        "NEVER": "",
        "CODEBUILD_BUILD_ID": outcome.external_execution_id,
    }


async def test_output_variables_are_not_exported_after_a_failure(h: Harness) -> None:
    outcome = await h.run(["export A=1", "false"], output_variables=["A"])
    assert outcome.status == "Failed"
    assert outcome.output_variables == {}


async def test_output_variables_over_the_size_limit_fail(h: Harness) -> None:
    outcome = await h.run(
        ["BIG=$(head -c 130000 /dev/zero | tr '\\0' x)"], output_variables=["BIG"]
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "122880" in outcome.summary


async def test_output_artifact_is_zipped_from_the_primary_directory(h: Harness) -> None:
    outcome = await h.run(
        [
            "mkdir -p build/bin",
            "echo app > build/app.txt",
            "printf '#!/bin/sh\\n' > build/bin/run && chmod 755 build/bin/run",
        ],
        inputs={"Src": {"src/main.c": "int main;"}},
        files=["build/**/*"],
    )
    assert outcome.status == "Succeeded", outcome.summary
    zip_path = outcome.output_artifacts["BuildOutput"]
    assert zip_path.is_relative_to(h.workspace)
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.namelist() == ["build/app.txt", "build/bin/run"]
        assert zf.read("build/app.txt") == b"app\n"
        assert (zf.getinfo("build/bin/run").external_attr >> 16) & 0o777 == 0o755


async def test_without_inputs_the_workspace_is_used_and_the_providers_files_stay_out(
    h: Harness,
) -> None:
    outcome = await h.run(["echo x > made.txt", "echo cache > $HOME/.cache-file"], files=["**/*"])
    assert outcome.status == "Succeeded", outcome.summary
    with zipfile.ZipFile(outcome.output_artifacts["BuildOutput"]) as zf:
        assert zf.namelist() == ["made.txt"]
    assert not any(name.startswith(PRIVATE_DIR) for name in zf.namelist())


async def test_no_matching_artifact_files_fails(h: Harness) -> None:
    outcome = await h.run(["true"], inputs={"Src": {"a.txt": "a"}}, files=["dist/*"])
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "no matching artifact paths found" in outcome.summary
    assert outcome.output_artifacts == {}


async def test_outcome_points_at_the_persisted_log(h: Harness, tmp_path: Path) -> None:
    outcome = await h.run(["echo persisted"])
    assert outcome.log_stream_arn == stream_arn("eu-west-1", "000000000000", GROUP, h.stream)
    reopened = LogStore(open_database(tmp_path / "data"), h.clock)
    assert "persisted" in [e.message for e in reopened.read(GROUP, h.stream)]


def test_default_timeout_is_55_minutes(h: Harness) -> None:
    assert h.provider.default_timeout_seconds(h.job(["true"]).declaration) == 55 * 60


# --- processes -------------------------------------------------------------------------


async def wait_for_members(pgid: int, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(group_members(pgid)) < count:
        assert time.monotonic() < deadline, group_members(pgid)
        await asyncio.sleep(0.02)


async def test_cancellation_kills_the_whole_process_group(h: Harness) -> None:
    pids = h.workspace / "pids"
    job = h.job([f"echo $$ > {pids}.shell", f"sleep 1000 & echo $! > {pids}.bg", "sleep 1000"])
    task = asyncio.create_task(h.provider.run(job))
    try:
        shell = int(await wait_for_file(Path(f"{pids}.shell")))
        background = int(await wait_for_file(Path(f"{pids}.bg")))
        # The shell, the background sleep and the foreground sleep.
        await wait_for_members(shell, 3)
        assert is_running(background)
    finally:
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert time.monotonic() - started < 5
    assert group_members(shell) == []
    assert not is_running(background)
    assert any("The action was stopped" in line for line in h.lines())


def processes_with_home(home: Path) -> list[int]:
    """Live processes whose environment has HOME=home (the provider's shell and children)."""
    needle = f"HOME={home}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or not is_running(int(name)):
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(name))
    return found


async def test_cancellation_while_the_shell_is_starting_still_kills_it(h: Harness) -> None:
    job = h.job(["sleep 1000 &", "sleep 1000"])
    home = h.workspace / PRIVATE_DIR / "home"
    task = asyncio.create_task(h.provider.run(job))
    # A few loop steps: the shell is forked, asyncio is still connecting its pipes.
    for _ in range(20):
        await asyncio.sleep(0)
        if processes_with_home(home):
            break
    try:
        # Block the loop (so the start cannot complete) while the shell starts its sleeps.
        time.sleep(0.3)  # noqa: ASYNC251
        started = processes_with_home(home)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
    assert len(started) >= 3
    assert processes_with_home(home) == []


async def test_cancellation_kills_processes_that_ignore_sigterm(tmp_path: Path) -> None:
    h = Harness(tmp_path, provider=CommandsProvider(kill_grace_seconds=0.3))
    pid_file = tmp_path / "shell.pid"
    job = h.job([f"echo $$ > {pid_file}", "trap '' TERM; sleep 1000"])
    task = asyncio.create_task(h.provider.run(job))
    try:
        shell = int(await wait_for_file(pid_file))
        await wait_for_members(shell, 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert group_members(shell) == []


async def test_background_processes_do_not_outlive_the_action(h: Harness) -> None:
    pid_file = h.tmp_path / "bg.pid"
    started = time.monotonic()
    outcome = await asyncio.wait_for(h.run([f"sleep 1000 & echo $! > {pid_file}", "echo done"]), 15)
    assert outcome.status == "Succeeded", outcome.summary
    assert time.monotonic() - started < 10
    assert not is_running(int(pid_file.read_text()))
    assert "done" in h.output()


async def test_a_process_that_leaves_the_group_cannot_hold_the_action_open(tmp_path: Path) -> None:
    h = Harness(tmp_path, provider=CommandsProvider(kill_grace_seconds=0.3, drain_seconds=0.3))
    pid_file = tmp_path / "escaped.pid"
    started = time.monotonic()
    outcome = await asyncio.wait_for(
        h.run(
            [
                f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 30' &",
                f"while [ ! -s {pid_file} ]; do sleep 0.01; done",
                "echo done",
            ]
        ),
        10,
    )
    try:
        assert outcome.status == "Succeeded", outcome.summary
        assert time.monotonic() - started < 5
        assert "done" in h.output()
        assert any("stopped reading it" in line for line in h.lines())
    finally:
        os.kill(int(pid_file.read_text()), 9)
