from __future__ import annotations

import asyncio
import json
import os
import shutil
import textwrap
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tui.local.clock import ManualClock
from tui.local.config import LocalConfig
from tui.local.engine.builds import BuildStore
from tui.local.engine.db import open_database
from tui.local.engine.logs import LogStore
from tui.local.engine.providers.codebuild import PRIVATE_DIR, CodeBuildProvider
from tui.local.engine.providers.job import ActionJob, ActionOutcome, ArtifactLocation
from tui.model.declaration import ActionDeclaration, ActionTypeId, InputArtifact, OutputArtifact

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
REGION = "eu-west-1"
ACCOUNT = "000000000000"


@dataclass
class Harness:
    tmp_path: Path
    config: LocalConfig = field(default_factory=LocalConfig)

    def __post_init__(self) -> None:
        self.clock = ManualClock(start=START)
        db = open_database(self.tmp_path / "data")
        self.logs = LogStore(db, self.clock)
        self.builds = BuildStore(db, self.clock, REGION, ACCOUNT)
        self.provider = CodeBuildProvider(
            self.builds, self.logs, self.config, kill_grace_seconds=1.0, drain_seconds=0.5
        )
        self.workspace = self.tmp_path / "workspace"

    def project(
        self,
        name: str = "app",
        *,
        buildspec: str | None = None,
        timeout: int | None = None,
        variables: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        source: dict[str, Any] = {"type": "CODEPIPELINE"}
        if buildspec is not None:
            source["buildspec"] = buildspec
        request: dict[str, Any] = {
            "name": name,
            "source": source,
            "artifacts": {"type": "CODEPIPELINE"},
            "environment": {
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                "computeType": "BUILD_GENERAL1_SMALL",
                "environmentVariables": variables or [],
            },
            "serviceRole": f"arn:aws:iam::{ACCOUNT}:role/build",
        }
        if timeout is not None:
            request["timeoutInMinutes"] = timeout
        return self.builds.create_project(request)

    def job(
        self,
        buildspec: str | None = None,
        *,
        files: dict[str, str] | None = None,
        inputs: dict[str, dict[str, str]] | None = None,
        outputs: tuple[str, ...] = (),
        configuration: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> ActionJob:
        if inputs is None:
            source = dict(files or {})
            if buildspec is not None:
                source["buildspec.yml"] = textwrap.dedent(buildspec)
            inputs = {"Src": source}
        self.workspace.mkdir(exist_ok=True)
        input_dirs: dict[str, Path] = {}
        for name, contents in inputs.items():
            directory = self.workspace / "inputs" / name
            directory.mkdir(parents=True, exist_ok=True)
            for rel, text in contents.items():
                (directory / rel).parent.mkdir(parents=True, exist_ok=True)
                (directory / rel).write_text(text)
            input_dirs[name] = directory
        config = {"ProjectName": "app"} if configuration is None else configuration
        declaration = ActionDeclaration(
            name="Build",
            action_type_id=ActionTypeId(
                category="Build", owner="AWS", provider="CodeBuild", version="1"
            ),
            configuration=config,
            input_artifacts=[InputArtifact(name=n) for n in input_dirs],
            output_artifacts=[OutputArtifact(name=n) for n in outputs],
        )
        return ActionJob(
            pipeline_name="demo",
            pipeline_arn=f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:demo",
            pipeline_version=1,
            stage_name="Build",
            action_name="Build",
            execution_id="exec-1",
            action_execution_id="run-1",
            region=REGION,
            account=ACCOUNT,
            declaration=declaration,
            configuration=config,
            workspace=self.workspace,
            input_dirs=input_dirs,
            input_artifacts=[
                ArtifactLocation(n, "codepipeline-bucket", f"demo/{n}/abc1234") for n in input_dirs
            ],
            log=lambda line: pytest.fail(f"wrote to the Commands log: {line}"),
            clock=self.clock,
            log_group="/aws/codepipeline/demo",
            log_stream="run-1",
            env=env or {},
            build_number=3,
        )

    async def run(self, buildspec: str | None = None, **kwargs: Any) -> ActionOutcome:
        return await self.provider.run(self.job(buildspec, **kwargs))

    def build(self, outcome: ActionOutcome) -> dict[str, Any]:
        assert outcome.external_execution_id is not None
        build = self.builds.get_build(outcome.external_execution_id)
        assert build is not None
        return build

    def phases(self, outcome: ActionOutcome) -> list[tuple[str, str | None]]:
        return [(p["phaseType"], p.get("phaseStatus")) for p in self.build(outcome)["phases"]]

    def phase(self, outcome: ActionOutcome, phase_type: str) -> dict[str, Any]:
        found = [p for p in self.build(outcome)["phases"] if p["phaseType"] == phase_type]
        assert len(found) == 1, found
        return dict(found[0])

    def lines(self, outcome: ActionOutcome) -> list[str]:
        logs = self.build(outcome)["logs"]
        return [e.message for e in self.logs.read(logs["groupName"], logs["streamName"])]

    def output(self, outcome: ActionOutcome) -> list[str]:
        """The commands' own output, without the [Container] lines."""
        return [line for line in self.lines(outcome) if not line.startswith("[Container] ")]


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    harness.project()
    return harness


ALL_PHASES = [
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
]


def succeeded_through(*phases: str) -> list[tuple[str, str | None]]:
    return [(p, "SUCCEEDED") for p in phases] + [("COMPLETED", None)]


# --- phases ----------------------------------------------------------------------------


async def test_a_build_runs_every_phase_and_records_it(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          install:
            commands: [echo installing]
          pre_build:
            commands: [echo pre]
          build:
            commands:
              - echo building
          post_build:
            commands: [echo post]
        """
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert outcome.summary is None
    build = h.build(outcome)
    assert outcome.external_execution_id == build["id"]
    assert build["id"].startswith("app:")
    assert outcome.external_execution_url == (
        f"https://console.aws.amazon.com/codebuild/home?region={REGION}#/builds/{build['id']}/view/new"
    )
    assert outcome.log_stream_arn is None
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["buildComplete"] is True
    assert build["initiator"] == "codepipeline/demo"
    assert build["sourceVersion"] == "arn:aws:s3:::codepipeline-bucket/demo/Src/abc1234"
    assert build["source"]["type"] == "CODEPIPELINE"
    assert build["timeoutInMinutes"] == 60
    assert h.phases(outcome) == succeeded_through(*ALL_PHASES[:-1])
    assert build["logs"]["groupName"] == "/aws/codebuild/app"
    assert build["logs"]["streamName"] == build["id"].split(":", 1)[1]
    assert h.output(outcome) == ["installing", "pre", "building", "post"]
    lines = h.lines(outcome)
    header = "[Container] 2026/01/01 00:00:00.000000 "
    assert lines.index(header + "Entering phase INSTALL") < lines.index(
        header + "Running command echo installing"
    )
    assert lines[lines.index(header + "Running command echo building") + 1] == "building"
    assert header + "Phase complete: BUILD State: SUCCEEDED" in lines
    assert header + "Phase context status code:  Message: " in lines
    assert header + "Phases found in YAML: 4" in lines


async def test_shell_state_carries_over_between_commands_and_phases(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          install:
            commands:
              - mkdir -p sub/dir && cd sub
              - export FROM_INSTALL=1
          pre_build:
            commands:
              - LOCAL=kept
              - cd dir
          build:
            commands:
              - echo "$(pwd | sed 's|.*/sub|sub|') $FROM_INSTALL $LOCAL"
          post_build:
            commands:
              - 'test "$(basename "$PWD")" = dir && echo still-in-dir'
        """
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["sub/dir 1 kept", "still-in-dir"]


@pytest.mark.parametrize("shell", ["bash", "/bin/sh"])
async def test_env_shell_is_the_shell_every_command_runs_in(h: Harness, shell: str) -> None:
    program = shutil.which(shell)
    assert program is not None
    outcome = await h.run(
        f"""\
        version: 0.2
        env:
          shell: {shell}
        phases:
          install:
            commands: ['readlink /proc/$$/exe']
          build:
            commands: ['echo "bash:${{BASH_VERSION:+yes}}"', 'readlink /proc/$$/exe']
        """
    )
    assert outcome.status == "Succeeded", outcome.summary
    # One session for the whole build, and it is the shell the buildspec names: /bin/sh is
    # whatever the machine links it to (dash here), not bash.
    real = os.path.realpath(program)
    is_bash = Path(real).name == "bash"
    assert h.output(outcome) == [real, f"bash:{'yes' if is_bash else ''}", real]


async def test_a_failing_build_command_still_runs_finally_and_post_build(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands:
              - echo before
              - sh -c 'exit 3'
              - echo never
            finally:
              - echo cleanup
              - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
          post_build:
            commands:
              - echo "post succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        artifacts:
          files: ['**/*']
        """,
        outputs=("BuildOut",),
    )
    assert outcome.status == "Failed"
    assert outcome.error_code == "JobFailed"
    assert outcome.summary == (
        "Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR, "
        "Message: Error while executing command: sh -c 'exit 3'. Reason: exit status 3"
    )
    assert outcome.output_artifacts == {}
    # CODEBUILD_BUILD_SUCCEEDING turns 0 once the phase has failed, not while it runs.
    assert h.output(outcome) == ["before", "cleanup", "succeeding=1", "post succeeding=0"]
    assert h.phases(outcome) == [
        *[(p, "SUCCEEDED") for p in ALL_PHASES[:6]],
        ("BUILD", "FAILED"),
        ("POST_BUILD", "SUCCEEDED"),
        ("UPLOAD_ARTIFACTS", "SUCCEEDED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert h.phase(outcome, "BUILD")["contexts"] == [
        {
            "statusCode": "COMMAND_EXECUTION_ERROR",
            "message": "Error while executing command: sh -c 'exit 3'. Reason: exit status 3",
        }
    ]
    assert h.build(outcome)["buildStatus"] == "FAILED"
    lines = h.lines(outcome)
    assert any(
        line.endswith("Command did not exit successfully sh -c 'exit 3' exit status 3")
        for line in lines
    )
    assert any(line.endswith("Phase complete: BUILD State: FAILED") for line in lines)
    assert any(
        line.endswith(
            "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing "
            "command: sh -c 'exit 3'. Reason: exit status 3"
        )
        for line in lines
    )


async def test_a_failing_finally_command_fails_the_phase(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          pre_build:
            commands: [echo ok]
            finally: [false, echo never]
          build:
            commands: [echo not-reached]
        """
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "Phase: PRE_BUILD" in outcome.summary
    assert "Error while executing command: false. Reason: exit status 1" in outcome.summary
    assert h.output(outcome) == ["ok"]


@pytest.mark.parametrize("phase", ["install", "pre_build"])
async def test_a_failure_in_install_or_pre_build_skips_to_finalizing(
    h: Harness, phase: str
) -> None:
    outcome = await h.run(
        f"""\
        version: 0.2
        phases:
          {phase}:
            commands: [echo first, exit 2]
          build:
            commands: [echo not-reached]
          post_build:
            commands: [echo not-reached]
        artifacts:
          files: ['**/*']
        """,
        outputs=("BuildOut",),
    )
    assert outcome.status == "Failed"
    upper = phase.upper()
    phases = h.phases(outcome)
    assert phases[: ALL_PHASES.index(upper)] == [
        (p, "SUCCEEDED") for p in ALL_PHASES[: ALL_PHASES.index(upper)]
    ]
    assert phases[ALL_PHASES.index(upper) :] == [
        (upper, "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert h.output(outcome) == ["first"]
    assert outcome.summary is not None
    assert f"Phase: {upper}" in outcome.summary
    assert "Reason: exit status 2" in outcome.summary


async def test_on_failure_continue_goes_on_to_the_next_phase(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          pre_build:
            on-failure: CONTINUE
            commands: [false]
          build:
            commands: [echo built anyway]
        """
    )
    assert outcome.status == "Failed"
    assert h.output(outcome) == ["built anyway"]
    assert ("PRE_BUILD", "FAILED") in h.phases(outcome)
    assert ("BUILD", "SUCCEEDED") in h.phases(outcome)
    assert h.build(outcome)["buildStatus"] == "FAILED"


async def test_on_failure_abort_in_build_skips_post_build_and_upload(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            on-failure: ABORT
            commands: [false]
            finally: [echo finally-runs]
          post_build:
            commands: [echo not-reached]
        """
    )
    assert outcome.status == "Failed"
    assert h.output(outcome) == ["finally-runs"]
    assert [p for p, _ in h.phases(outcome)][-4:] == [
        "PRE_BUILD",
        "BUILD",
        "FINALIZING",
        "COMPLETED",
    ]


async def test_a_post_build_failure_still_attempts_the_upload(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands: [echo out > out.txt]
          post_build:
            commands: [exit 7]
        artifacts:
          files: [out.txt]
        """,
        outputs=("BuildOut",),
    )
    assert outcome.status == "Failed"
    assert ("POST_BUILD", "FAILED") in h.phases(outcome)
    assert ("UPLOAD_ARTIFACTS", "SUCCEEDED") in h.phases(outcome)
    build = h.build(outcome)
    assert build["artifacts"]["artifactIdentifier"] == "BuildOut"
    assert len(build["artifacts"]["sha256sum"]) == 64


async def test_a_command_that_ends_the_shell_gets_a_fresh_session(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands:
              - export LOST=1 && cd /
              - exit 0
              - 'echo "[$LOST] $(test "$PWD" = "$CODEBUILD_SRC_DIR" && echo back-in-src)"'
        """
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["[] back-in-src"]
    assert any("the next command runs in a new one" in line for line in h.lines(outcome))


async def test_version_0_1_runs_each_command_in_a_fresh_shell(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.1
        phases:
          build:
            commands:
              - cd / && export ONLY_HERE=1
              - 'echo "[$ONLY_HERE] $(test "$PWD" = "$CODEBUILD_SRC_DIR" && echo src)"'
        """
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["[] src"]


async def test_stdin_is_empty_and_odd_output_is_kept(h: Harness) -> None:
    outcome = await asyncio.wait_for(
        h.run(
            """\
            version: 0.2
            phases:
              build:
                commands:
                  - cat
                  - read x || echo eof
                  - printf 'no newline'
                  - echo err >&2
                  - |
                    for i in 1 2; do
                      echo "loop $i"
                    done
            """
        ),
        15,
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["eof", "no newline", "err", "loop 1", "loop 2"]


async def test_notes_for_what_does_not_run_locally(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          install:
            runtime-versions:
              python: 3.12
        cache:
          paths: [/root/.cache/**/*]
        """
    )
    assert outcome.status == "Succeeded", outcome.summary
    dump = "\n".join(h.lines(outcome))
    assert "runtime-versions (python 3.12) are not installed locally" in dump
    assert "cache is ignored locally" in dump
    assert "not in the image aws/codebuild/amazonlinux-x86_64-standard:5.0" in dump


# --- buildspec sources and errors -----------------------------------------------------


async def test_a_missing_buildspec_fails_download_source_like_codebuild(h: Harness) -> None:
    outcome = await h.run(None, files={"README.md": "no buildspec"})
    assert outcome.status == "Failed"
    path = h.workspace / "inputs" / "Src" / "buildspec.yml"
    assert outcome.summary == (
        "Build terminated with state: FAILED. Phase: DOWNLOAD_SOURCE, Code: YAML_FILE_ERROR, "
        f"Message: stat {path.resolve()}: no such file or directory"
    )
    assert h.phases(outcome) == [
        *[(p, "SUCCEEDED") for p in ALL_PHASES[:3]],
        ("DOWNLOAD_SOURCE", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert h.phase(outcome, "DOWNLOAD_SOURCE")["contexts"][0]["statusCode"] == "YAML_FILE_ERROR"


async def test_an_invalid_buildspec_names_the_key_and_line(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands:
              - echo key: value
        """
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "Phase: DOWNLOAD_SOURCE, Code: YAML_FILE_ERROR" in outcome.summary
    assert "phases.build.commands[0]" in outcome.summary
    assert "(line 5)" in outcome.summary
    assert any(
        "Phase context status code: YAML_FILE_ERROR Message: phases.build.commands[0]" in line
        for line in h.lines(outcome)
    )


async def test_the_projects_inline_buildspec_overrides_the_sources(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.project(buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - echo inline\n")
    outcome = await h.run("version: 0.2\nphases:\n  build:\n    commands: [echo from-source]\n")
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["inline"]
    assert h.build(outcome)["source"]["buildspec"].startswith("version: 0.2")


async def test_the_projects_buildspec_path_is_read_from_the_source(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.project(buildspec="ci/build.yml")
    outcome = await h.run(
        None,
        files={"ci/build.yml": "version: 0.2\nphases:\n  build:\n    commands: [echo from-ci]\n"},
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["from-ci"]


async def test_a_buildspec_path_may_not_leave_the_source(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.project(buildspec="../../../etc/passwd")
    outcome = await h.run(None, files={"a": "b"})
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "must be relative to the primary source and stay inside it" in outcome.summary


async def test_an_unknown_project_is_created_with_defaults(h: Harness) -> None:
    outcome = await h.run(
        "version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n",
        configuration={"ProjectName": "never-created"},
    )
    assert outcome.status == "Succeeded", outcome.summary
    build = h.build(outcome)
    assert build["projectName"] == "never-created"
    assert build["timeoutInMinutes"] == 60
    project = h.builds.get_project("never-created")
    assert project is not None
    assert project["source"]["type"] == "CODEPIPELINE"
    assert any(
        "does not exist locally: created it with defaults" in line for line in h.lines(outcome)
    )


async def test_batch_builds_are_refused(h: Harness) -> None:
    outcome = await h.run(
        "version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n",
        configuration={"ProjectName": "app", "BatchEnabled": "true"},
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "batch builds need AWS CodeBuild" in outcome.summary
    assert h.builds.list_builds(None) == []


# --- environment ------------------------------------------------------------------------


async def test_codebuild_variables_and_isolation_from_the_server(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret-value")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "server-session-token")
    monkeypatch.setenv("SERVER_ONLY_SETTING", "server-only")
    outcome = await h.run(
        inputs={
            "Src": {
                "buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands: [env]\n",
            },
            "Lib": {"lib.txt": "lib"},
        },
        configuration={"ProjectName": "app", "PrimarySource": "Src"},
        env={"CODEBUILD_RESOLVED_SOURCE_VERSION": "v-123", "PIPETOP_SOURCE_REVISION": "internal"},
    )
    assert outcome.status == "Succeeded", outcome.summary
    env = dict(line.split("=", 1) for line in h.output(outcome) if "=" in line)
    dump = "\n".join(h.lines(outcome))
    for leaked in ("AKIASERVERKEY", "server-secret-value", "server-session-token", "server-only"):
        assert leaked not in dump
    assert not any(
        name.startswith("AWS_") and name not in ("AWS_REGION", "AWS_DEFAULT_REGION") for name in env
    )
    assert "PIPETOP_SOURCE_REVISION" not in env
    build = h.build(outcome)
    assert env["CODEBUILD_BUILD_ID"] == build["id"]
    assert env["CODEBUILD_BUILD_ARN"] == f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build['id']}"
    assert env["CODEBUILD_BUILD_NUMBER"] == str(build["buildNumber"]) == "1"
    assert env["CODEBUILD_BUILD_IMAGE"] == "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    assert env["CODEBUILD_BUILD_SUCCEEDING"] == "1"
    assert env["CODEBUILD_INITIATOR"] == "codepipeline/demo"
    assert env["CODEBUILD_LOG_PATH"] == build["logs"]["streamName"]
    assert env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == "v-123"
    assert env["CODEBUILD_START_TIME"] == str(int(START * 1000))
    assert env["CODEBUILD_SRC_DIR"] == str(h.workspace / "inputs" / "Src")
    assert env["CODEBUILD_SRC_DIR_Lib"] == str(h.workspace / "inputs" / "Lib")
    assert env["CODEBUILD_SOURCE_VERSION"] == "arn:aws:s3:::codepipeline-bucket/demo/Src/abc1234"
    assert (
        env["CODEBUILD_SOURCE_VERSION_Lib"] == "arn:aws:s3:::codepipeline-bucket/demo/Lib/abc1234"
    )
    assert env["CODEBUILD_KMS_KEY_ID"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/s3"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["HOME"].startswith(str(h.workspace / PRIVATE_DIR))
    assert env["TMPDIR"].startswith(str(h.workspace / PRIVATE_DIR))
    assert env["LANG"] == "C.UTF-8"
    assert env["PWD"] == env["CODEBUILD_SRC_DIR"]
    assert build["secondarySources"] == [{"type": "CODEPIPELINE", "sourceIdentifier": "Lib"}]
    assert build["secondarySourceVersions"] == [
        {
            "sourceIdentifier": "Lib",
            "sourceVersion": "arn:aws:s3:::codepipeline-bucket/demo/Lib/abc1234",
        }
    ]
    assert build["resolvedSourceVersion"] == "v-123"


async def test_primary_source_picks_the_build_directory(h: Harness) -> None:
    spec = "version: 0.2\nphases:\n  build:\n    commands: [cat which.txt]\n"
    outcome = await h.run(
        inputs={"A": {"which.txt": "a"}, "B": {"which.txt": "b", "buildspec.yml": spec}},
        configuration={"ProjectName": "app", "PrimarySource": "B"},
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["b"]


async def test_several_inputs_need_a_primary_source(h: Harness) -> None:
    outcome = await h.run(inputs={"A": {}, "B": {}})
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "PrimarySource is required" in outcome.summary
    outcome = await Harness(h.tmp_path / "other").run(
        inputs={"A": {}}, configuration={"ProjectName": "app", "PrimarySource": "Nope"}
    )
    assert outcome.summary is not None
    assert "PrimarySource Nope is not an input artifact" in outcome.summary


async def test_variable_precedence_action_over_project_over_buildspec(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.project(
        variables=[
            {"name": "LEVEL", "value": "project", "type": "PLAINTEXT"},
            {"name": "FROM_PROJECT", "value": "p", "type": "PLAINTEXT"},
        ]
    )
    outcome = await h.run(
        """\
        version: 0.2
        env:
          variables:
            LEVEL: buildspec
            FROM_BUILDSPEC: b
            PATH: /literal/path
        phases:
          build:
            commands:
              - /bin/echo "$LEVEL $FROM_PROJECT $FROM_BUILDSPEC $FROM_ACTION $PATH"
        """,
        configuration={
            "ProjectName": "app",
            "EnvironmentVariables": json.dumps(
                [
                    {"name": "LEVEL", "value": "action", "type": "PLAINTEXT"},
                    {"name": "FROM_ACTION", "value": "a"},
                ]
            ),
        },
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert h.output(outcome) == ["action p b a /literal/path"]
    variables = h.build(outcome)["environment"]["environmentVariables"]
    assert {"name": "LEVEL", "value": "action", "type": "PLAINTEXT"} in variables


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("not json", "is not valid JSON"),
        ('{"name": "A"}', "must be a JSON array"),
        ('[{"name": "CODEBUILD_X", "value": "1"}]', "CODEBUILD_X is reserved"),
        ('[{"name": "A", "value": "1", "type": "VAULT"}]', "has the type 'VAULT'"),
        ('[{"name": "A B", "value": "1"}]', "no valid name"),
    ],
)
async def test_bad_action_environment_variables_fail_before_a_build(
    h: Harness, value: str, words: str
) -> None:
    outcome = await h.run(
        "version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n",
        configuration={"ProjectName": "app", "EnvironmentVariables": value},
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert words in outcome.summary
    assert h.builds.list_builds(None) == []


SECRETS_SPEC = """\
    version: 0.2
    env:
      parameter-store:
        DB_HOST: /app/db-host
      secrets-manager:
        DB_PASSWORD: prod/db:password
        API_TOKEN: "arn:aws:secretsmanager:eu-west-1:000000000000:secret:api-AbCdEf:token::"
        WHOLE: plain-secret
    phases:
      build:
        commands:
          - echo "host=$DB_HOST"
          - echo "password=$DB_PASSWORD token=$API_TOKEN whole=$WHOLE"
          - test "$DB_PASSWORD" = "s3cr3t-pw" && test "$API_TOKEN" = "tok-123" && echo values-ok
          - echo "action=$FROM_SSM"
"""


async def test_parameter_store_and_secrets_manager_come_from_the_config(tmp_path: Path) -> None:
    config = LocalConfig(
        parameters={"/app/db-host": "localhost", "/app/other": "from-ssm"},
        secrets={
            "prod/db": json.dumps({"password": "s3cr3t-pw", "user": "app"}),
            "arn:aws:secretsmanager:eu-west-1:000000000000:secret:api-AbCdEf:token": "tok-123",
            "plain-secret": "whole-value",
        },
    )
    h = Harness(tmp_path, config=config)
    h.project()
    outcome = await h.run(
        SECRETS_SPEC,
        configuration={
            "ProjectName": "app",
            "EnvironmentVariables": json.dumps(
                [{"name": "FROM_SSM", "value": "/app/other", "type": "PARAMETER_STORE"}]
            ),
        },
    )
    assert outcome.status == "Succeeded", outcome.summary
    # Secret values are masked in the log; parameters are not secrets.
    assert h.output(outcome) == [
        "host=localhost",
        "password=*** token=*** whole=***",
        "values-ok",
        "action=from-ssm",
    ]
    dump = "\n".join(h.lines(outcome))
    assert "s3cr3t-pw" not in dump
    assert "tok-123" not in dump


async def test_a_parameter_missing_from_the_config_fails_naming_it(h: Harness) -> None:
    outcome = await h.run(SECRETS_SPEC)
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "Phase: DOWNLOAD_SOURCE, Code: Decrypted Variables Error" in outcome.summary
    assert "env.parameter-store.DB_HOST (line 4)" in outcome.summary
    assert "/app/db-host" in outcome.summary
    assert "[parameters]" in outcome.summary
    assert ("DOWNLOAD_SOURCE", "CLIENT_ERROR") in h.phases(outcome)
    assert not any(line == "host=" for line in h.output(outcome))


async def test_a_secret_missing_from_the_config_fails_naming_it(tmp_path: Path) -> None:
    config = LocalConfig(parameters={"/app/db-host": "localhost"}, secrets={"prod/db": "not json"})
    h = Harness(tmp_path, config=config)
    h.project()
    outcome = await h.run(SECRETS_SPEC)
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "Code: Secrets Manager Error" in outcome.summary
    assert "env.secrets-manager.DB_PASSWORD (line 6)" in outcome.summary
    assert "asks for the key password of the secret prod/db" in outcome.summary

    config.secrets["prod/db"] = '{"user": "app"}'
    outcome = await Harness(tmp_path / "again", config=config).run(SECRETS_SPEC)
    assert outcome.summary is not None
    assert "the secret prod/db has no key password" in outcome.summary

    config.secrets["prod/db:password"] = "pw"
    outcome = await Harness(tmp_path / "third", config=config).run(SECRETS_SPEC)
    assert outcome.summary is not None
    assert "API_TOKEN" in outcome.summary
    assert "[secrets]" in outcome.summary


# --- exported variables and artifacts --------------------------------------------------


@pytest.mark.parametrize(
    ("env", "action_type"),
    [
        ("  secrets-manager:\n    TOKEN: api-token\n", None),
        ("", "SECRETS_MANAGER"),
        ("", "PARAMETER_STORE"),
    ],
)
async def test_secret_values_cannot_be_exported(
    tmp_path: Path, env: str, action_type: str | None
) -> None:
    h = Harness(
        tmp_path, config=LocalConfig(secrets={"api-token": "t0k3n"}, parameters={"api-token": "p"})
    )
    h.project()
    configuration = {"ProjectName": "app"}
    if action_type is not None:
        configuration["EnvironmentVariables"] = json.dumps(
            [{"name": "TOKEN", "value": "api-token", "type": action_type}]
        )
    outcome = await h.run(
        "version: 0.2\nenv:\n" + env + "  exported-variables: [TOKEN]\n"
        "phases:\n  build:\n    commands: [touch ran]\n",
        configuration=configuration,
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "env.exported-variables: TOKEN cannot be exported" in outcome.summary
    assert not (h.workspace / "inputs" / "Src" / "ran").exists()


async def test_exported_variables_take_their_values_at_the_end_of_post_build(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        env:
          variables:
            VERSION: "0.0"
          exported-variables: [VERSION, MULTI, NEVER_SET, CODEBUILD_BUILD_ID]
        phases:
          build:
            commands:
              - export VERSION=1.0
              - MULTI="$(printf 'a\\nb')"
          post_build:
            commands:
              - VERSION=2.0
        """
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert outcome.output_variables == {
        "VERSION": "2.0",
        "MULTI": "a\nb",
        "NEVER_SET": "",
        "CODEBUILD_BUILD_ID": outcome.external_execution_id,
    }
    assert h.build(outcome)["exportedEnvironmentVariables"][0] == {
        "name": "VERSION",
        "value": "2.0",
    }


async def test_a_failed_build_exports_to_the_build_but_not_the_action(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        env:
          exported-variables: [RESULT]
        phases:
          build:
            commands: [RESULT=partial, false]
        """
    )
    assert outcome.status == "Failed"
    assert outcome.output_variables == {}
    assert h.build(outcome)["exportedEnvironmentVariables"] == [
        {"name": "RESULT", "value": "partial"}
    ]


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


async def test_artifacts_glob_with_base_directory_discard_paths_and_exclusions(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist/js dist/css
              - echo app > dist/js/app.js && echo map > dist/js/app.js.map
              - echo site > dist/css/site.css && echo top > dist/index.html
        artifacts:
          base-directory: dist
          files:
            - '**/*'
          exclude-paths:
            - '**/*.map'
          discard-paths: yes
        """,
        files={"src/main.py": "print()"},
        outputs=("Site",),
    )
    assert outcome.status == "Succeeded", outcome.summary
    path = outcome.output_artifacts["Site"]
    assert path.is_relative_to(h.workspace)
    assert zip_names(path) == ["app.js", "index.html", "site.css"]
    assert any("Found 3 file(s) for output artifact Site" in line for line in h.lines(outcome))


async def test_artifacts_keep_paths_without_discard_paths(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands: [mkdir -p out/bin, echo x > out/bin/tool, echo y > out/readme]
        artifacts:
          files: [out/**/*]
        """,
        outputs=("Out",),
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert zip_names(outcome.output_artifacts["Out"]) == ["out/bin/tool", "out/readme"]


async def test_several_outputs_come_from_secondary_artifacts(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands: [mkdir docs bin, echo d > docs/index.html, echo b > bin/app]
        artifacts:
          files: ['**/*']
          secondary-artifacts:
            Docs:
              base-directory: docs
              files: ['**/*']
            Binaries:
              files: [bin/app]
              discard-paths: yes
        """,
        outputs=("Docs", "Binaries"),
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert zip_names(outcome.output_artifacts["Docs"]) == ["index.html"]
    assert zip_names(outcome.output_artifacts["Binaries"]) == ["app"]
    build = h.build(outcome)
    assert build["artifacts"]["artifactIdentifier"] == "Docs"
    assert [a["artifactIdentifier"] for a in build["secondaryArtifacts"]] == ["Binaries"]


async def test_an_output_without_its_secondary_artifact_fails_clearly(h: Harness) -> None:
    outcome = await h.run(
        """\
        version: 0.2
        phases:
          build:
            commands: [echo x > x]
        artifacts:
          files: [x]
          secondary-artifacts:
            Docs:
              files: [x]
        """,
        outputs=("Docs", "Binaries"),
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "Phase: UPLOAD_ARTIFACTS, Code: CLIENT_ERROR" in outcome.summary
    assert "missing: Binaries (secondary-artifacts: Docs)" in outcome.summary
    assert ("UPLOAD_ARTIFACTS", "FAILED") in h.phases(outcome)
    assert outcome.output_artifacts == {}


@pytest.mark.parametrize(
    ("artifacts", "words"),
    [
        ("", "the buildspec has no artifacts section"),
        ("artifacts:\n  files: [dist/*]\n", "no matching artifact paths found"),
        ("artifacts:\n  files: ['*']\n  base-directory: nowhere\n", "base directory"),
    ],
)
async def test_artifact_problems_fail_the_upload(h: Harness, artifacts: str, words: str) -> None:
    outcome = await h.run(
        "version: 0.2\nphases:\n  build:\n    commands: [echo x > x]\n" + artifacts,
        outputs=("Out",),
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "Phase: UPLOAD_ARTIFACTS" in outcome.summary
    assert words in outcome.summary


# --- timeouts and cancellation ---------------------------------------------------------


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


async def wait_for_file(path: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def sleeping_spec(pid_file: Path) -> str:
    return f"""\
        version: 0.2
        phases:
          install:
            commands:
              - sleep 1000 &
              - echo $! > {pid_file}.bg
          build:
            commands:
              - echo $$ > {pid_file}
              - sleep 1000
          post_build:
            commands: [echo not-reached]
        """


async def test_the_projects_timeout_ends_the_build_timed_out(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.project(timeout=5)
    assert h.provider.default_timeout_seconds(h.job("x").declaration) == 5 * 60 + 5 * 60
    pid_file = tmp_path / "shell.pid"
    task = asyncio.create_task(h.run(sleeping_spec(pid_file)))
    shell = await wait_for_file(pid_file)
    background = await wait_for_file(Path(f"{pid_file}.bg"))
    h.clock.advance(4 * 60)
    await asyncio.sleep(0.1)
    assert not task.done()
    h.clock.advance(60)
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.status == "Failed"
    assert outcome.summary == (
        "Build terminated with state: TIMED_OUT. Phase: BUILD, Code: BUILD_TIMED_OUT, "
        "Message: Build has timed out after 5 minutes."
    )
    assert not is_running(shell)
    assert not is_running(background)
    build = h.build(outcome)
    assert build["buildStatus"] == "TIMED_OUT"
    assert h.phases(outcome)[-2:] == [("BUILD", "TIMED_OUT"), ("COMPLETED", None)]
    assert h.phase(outcome, "BUILD")["contexts"][0]["statusCode"] == "BUILD_TIMED_OUT"
    assert "not-reached" not in h.output(outcome)
    assert any("The build timed out after 5 minutes" in line for line in h.lines(outcome))


async def test_cancellation_kills_the_build_and_records_it_stopped(h: Harness) -> None:
    pid_file = h.tmp_path / "shell.pid"
    task = asyncio.create_task(h.run(sleeping_spec(pid_file)))
    shell = await wait_for_file(pid_file)
    background = await wait_for_file(Path(f"{pid_file}.bg"))
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5
    assert not is_running(shell)
    assert not is_running(background)
    (build_id,) = h.builds.list_builds(None)
    build = h.builds.get_build(build_id)
    assert build is not None
    assert build["buildStatus"] == "STOPPED"
    assert build["phases"][-2]["phaseType"] == "BUILD"
    assert build["phases"][-2]["phaseStatus"] == "STOPPED"
    logs = build["logs"]
    lines = [e.message for e in h.logs.read(logs["groupName"], logs["streamName"])]
    assert any("The action was stopped: ending the build's processes" in line for line in lines)


async def test_the_default_timeout_without_a_project_is_an_hour(h: Harness) -> None:
    job = h.job("x", configuration={"ProjectName": "unknown"})
    assert h.provider.default_timeout_seconds(job.declaration) == 65 * 60
