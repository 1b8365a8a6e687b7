"""What the engine hands an action provider, and what the provider hands back.

The engine owns everything around a run: the action execution record, variable resolution,
downloading and unzipping input artifacts into the workspace, uploading output zips to the
artifact store, events, timeouts and cancellation. A provider only does the work.

Cancellation: on stop-and-abandon or a timeout the engine cancels the provider's task; a
provider that started processes must kill their whole process group before it lets the
`asyncio.CancelledError` propagate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from tui.local.clock import Clock
from tui.model.declaration import ActionDeclaration


@dataclass(frozen=True)
class ArtifactLocation:
    """An artifact zip in the artifact store."""

    name: str
    bucket: str
    key: str


@dataclass(frozen=True)
class SourceRevision:
    """What a source action ran on (becomes an ArtifactRevision / currentRevision)."""

    revision_id: str
    change_identifier: str
    summary: str | None = None
    created: float | None = None
    url: str | None = None


@dataclass
class ActionJob:
    pipeline_name: str
    pipeline_arn: str
    pipeline_version: int
    stage_name: str
    action_name: str
    execution_id: str
    action_execution_id: str
    region: str
    account: str
    declaration: ActionDeclaration
    # Configuration after `#{...}` variables were resolved.
    configuration: dict[str, str]
    # A fresh, empty directory that belongs to this run alone.
    workspace: Path
    # Input artifacts unzipped, in declaration order (the first is the primary source).
    input_dirs: dict[str, Path]
    input_artifacts: list[ArtifactLocation]
    # Appends one line of output, stamped with the engine clock's time, to the action's log.
    log: Callable[[str], None]
    clock: Clock
    # CloudWatch Logs group and stream this run logs to (the engine creates them).
    log_group: str
    log_stream: str
    # Pipeline-level environment the provider may pass on (never the server's own secrets).
    env: dict[str, str] = field(default_factory=dict)
    # How many times this action has run, this run included (CodeBuild's build number).
    build_number: int = 1
    # The pipeline's artifact bucket (for providers whose workers upload outputs themselves).
    artifact_bucket: str = ""
    # Tells the engine the run's externalExecutionId and URL before the run ends.
    report_external: Callable[[str, str | None], None] = field(default=lambda _id, _url: None)


@dataclass
class ActionOutcome:
    status: Literal["Succeeded", "Failed"]
    summary: str | None = None
    # errorDetails.code on failure: "JobFailed" unless the provider knows better.
    error_code: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    output_variables: dict[str, str] = field(default_factory=dict)
    # Output artifact name -> a zip file the provider wrote (inside its workspace).
    output_artifacts: dict[str, Path] = field(default_factory=dict)
    revision: SourceRevision | None = None
    log_stream_arn: str | None = None
    # Output artifacts already in the artifact store (a job worker or function put them there).
    uploaded_artifacts: dict[str, ArtifactLocation] = field(default_factory=dict)


class ActionProvider(Protocol):
    """Runs one action. Raises nothing for an ordinary failure: returns a Failed outcome."""

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None: ...

    async def run(self, job: ActionJob) -> ActionOutcome: ...
