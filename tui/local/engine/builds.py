"""CodeBuild projects and builds, in the shared SQLite database.

This is the state behind CodeBuild's project and build read APIs (`tui.local.api.codebuild`).
Projects are created through the API; builds are created and advanced only by the CodeBuild
action provider (`start_build`, `enter_phase`, `fail_phase`, `finish_build`), and every read
(`batch_get_builds`, `list_builds*`) leaves them as they are.

Every dict going in or out is in botocore's shapes (`Project`, `Build`), with timestamps as
epoch seconds (the JSON 1.1 wire form, millisecond precision), so the API layer passes them
through untouched.

Decisions recorded here:

- Each project and each build is one row holding its whole shape as JSON, plus the columns
  the listings sort and filter on. A build is rewritten as a whole when it advances; builds are
  small and advance a dozen times, so this is simpler than a table per phase.
- Build ids are `<project>:<uuid4>`, ARNs `arn:aws:codebuild:<region>:<account>:build/<id>`,
  project ARNs `arn:aws:codebuild:<region>:<account>:project/<name>` (AWS's forms).
- `buildNumber` counts from 1 per project (kept in the project row). Deleting a project keeps
  its builds (AWS: "When you delete a project, its builds are not deleted"); they stay
  readable by id and in ListBuilds. [I] A project created again under the same name finds
  them again in ListBuildsForProject, and its numbering continues after them.
- Phases: the open (current) phase has only `phaseType` and `startTime`, as AWS shows an
  in-progress phase. Closing it adds `phaseStatus`, `endTime`, `durationInSeconds` (whole
  seconds, rounded down) and `contexts`: `[{"statusCode": "", "message": ""}]` for a phase
  that succeeded (what AWS returns), `[{"statusCode": <code>, "message": <message>}]` for one
  that did not. The final `COMPLETED` phase has neither status nor end time.
- [I] `fail_phase` statuses are StatusType's failure values (FAILED, FAULT, TIMED_OUT, STOPPED)
  plus CLIENT_ERROR, which AWS reports as a phase status for errors in the build's inputs
  (e.g. a source that cannot be downloaded) though botocore's enum does not list it. The
  default context status codes are AWS's: COMMAND_EXECUTION_ERROR (FAILED), BUILD_TIMED_OUT,
  BUILD_STOPPED, CLIENT_ERROR, and FAULT; a caller may pass its own `status_code`.
- `finish_build` closes a phase that is still open. TIMED_OUT, STOPPED and FAULT interrupt
  it, so it gets that status; with SUCCEEDED or FAILED it closes as SUCCEEDED, because the
  phase that failed a FAILED build was closed by `fail_phase` and the phases after it
  (POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING) run to their own end, as in CodeBuild. Finishing a finished build is an InvalidInputException
  (a provider bug, surfaced rather than hidden).
- Logs: by default the group is `/aws/codebuild/<project>` and the stream the build's uuid.
  [I] A project's `logsConfig.cloudWatchLogs.groupName` replaces the group, and its
  `streamName` is a prefix: the stream becomes `<streamName>/<uuid>` (CodeBuild's rule). With
  CloudWatch Logs disabled the build's `logs` carries only `cloudWatchLogs: {status: DISABLED}`
  and the `deepLink` AWS gives then. The store does not create the log stream itself: whoever
  runs the build writes it (`LogStore.ensure_stream`) under the names in `build["logs"]`.
- `start_build` merges `environment_variables` (the build's overrides) over
  `environment["environmentVariables"]` by name, keeping their order, so passing an already
  merged environment is harmless.
- `recover()` (called once at start-up) finishes every build still IN_PROGRESS as FAILED, its
  open phase FAILED with a context `{"statusCode": "INTERRUPTED", "message": "interrupted: the
  local endpoint stopped while the build was running"}`: the process that ran it is gone.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from typing import Any

from tui.local.clock import Clock
from tui.local.engine.db import transaction
from tui.local.engine.logs import stream_arn
from tui.model.errors import AwsError, ResourceNotFoundException

SCHEMA = """
CREATE TABLE IF NOT EXISTS codebuild_projects (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    last_build_number INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS codebuild_builds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS codebuild_builds_by_project ON codebuild_builds (project, seq);
CREATE INDEX IF NOT EXISTS codebuild_builds_by_status ON codebuild_builds (status);
"""

PHASE_TYPES = (
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
)
BUILD_END_STATUSES = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED")
PHASE_FAILURE_CODES = {
    "FAILED": "COMMAND_EXECUTION_ERROR",
    "FAULT": "FAULT",
    "TIMED_OUT": "BUILD_TIMED_OUT",
    "STOPPED": "BUILD_STOPPED",
    "CLIENT_ERROR": "CLIENT_ERROR",
}
INTERRUPTED_CODE = "INTERRUPTED"
INTERRUPTED_MESSAGE = "interrupted: the local endpoint stopped while the build was running"

DEFAULT_TIMEOUT_MINUTES = 60
DEFAULT_QUEUED_TIMEOUT_MINUTES = 480


class InvalidInputException(AwsError):
    code = "InvalidInputException"


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"


def project_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:codebuild:{region}:{account}:project/{name}"


def build_arn(region: str, account: str, build_id: str) -> str:
    return f"arn:aws:codebuild:{region}:{account}:build/{build_id}"


def logs_deep_link(region: str, group: str | None, stream: str | None) -> str:
    return (
        f"https://console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEvent:group={'null' if group is None else group};"
        f"stream={'null' if stream is None else stream}"
    )


def _seconds(ms: int) -> float:
    return ms / 1000


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


# Project members a request may set, in the order the Project shape lists them.
_PROJECT_MEMBERS = (
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "secondarySourceVersions",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "logsConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "concurrentBuildLimit",
    "autoRetryLimit",
)


class BuildStore:
    def __init__(self, db: sqlite3.Connection, clock: Clock, region: str, account: str) -> None:
        self._db = db
        self._clock = clock
        self.region = region
        self.account = account
        db.executescript(SCHEMA)

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # --- projects ---------------------------------------------------------------------

    def project_arn(self, name: str) -> str:
        return project_arn(self.region, self.account, name)

    def _project_name(self, name_or_arn: str) -> str | None:
        """The project name an identifier names here (None: an ARN of another place)."""
        if not name_or_arn.startswith("arn:"):
            return name_or_arn
        prefix = f"arn:aws:codebuild:{self.region}:{self.account}:project/"
        return name_or_arn[len(prefix) :] if name_or_arn.startswith(prefix) else None

    def _load_project(self, name_or_arn: str) -> tuple[str, dict[str, Any], int] | None:
        name = self._project_name(name_or_arn)
        if name is None:
            return None
        row = self._db.execute(
            "SELECT name, body, last_build_number FROM codebuild_projects WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        return str(row[0]), json.loads(row[1]), int(row[2])

    def _check_project(self, project: dict[str, Any]) -> None:
        """The cross-member rules CodeBuild enforces beyond the model's constraints."""
        source_type = project["source"]["type"]
        artifacts_type = project["artifacts"]["type"]
        if (source_type == "CODEPIPELINE") != (artifacts_type == "CODEPIPELINE"):
            raise InvalidInputException(
                "Source type CODEPIPELINE must be used with artifacts type CODEPIPELINE, "
                f"got source type {source_type} and artifacts type {artifacts_type}"
            )
        if source_type == "NO_SOURCE" and not project["source"].get("buildspec"):
            raise InvalidInputException("A buildspec must be provided for source type NO_SOURCE")
        if source_type not in ("CODEPIPELINE", "NO_SOURCE") and not project["source"].get(
            "location"
        ):
            raise InvalidInputException(
                f"Source location is required for source type {source_type}"
            )
        if artifacts_type == "S3" and not project["artifacts"].get("location"):
            raise InvalidInputException("Artifacts location is required for artifacts type S3")
        for index, artifact in enumerate(project.get("secondaryArtifacts") or [], 1):
            if not artifact.get("artifactIdentifier"):
                raise InvalidInputException(
                    f"Secondary artifact {index} must have an artifactIdentifier"
                )
        for index, source in enumerate(project.get("secondarySources") or [], 1):
            if not source.get("sourceIdentifier"):
                raise InvalidInputException(
                    f"Secondary source {index} must have a sourceIdentifier"
                )
        env = project["environment"]
        names = [v["name"] for v in env.get("environmentVariables") or []]
        reserved = sorted({n for n in names if n.startswith("CODEBUILD_")})
        if reserved:
            raise InvalidInputException(
                f"Environment variable names starting with CODEBUILD_ are reserved: {', '.join(reserved)}"
            )

    def _with_defaults(self, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A Project shape from a request's members, with the defaults AWS fills in."""
        project: dict[str, Any] = {"name": name, "arn": self.project_arn(name)}
        for member in _PROJECT_MEMBERS:
            if fields.get(member) is not None:
                project[member] = _copy(fields[member])
        project.setdefault("secondarySources", [])
        project.setdefault("secondarySourceVersions", [])
        project.setdefault("secondaryArtifacts", [])
        project.setdefault("cache", {"type": "NO_CACHE"})
        project.setdefault("timeoutInMinutes", DEFAULT_TIMEOUT_MINUTES)
        project.setdefault("queuedTimeoutInMinutes", DEFAULT_QUEUED_TIMEOUT_MINUTES)
        project.setdefault(
            "encryptionKey", f"arn:aws:kms:{self.region}:{self.account}:alias/aws/s3"
        )
        project.setdefault("tags", [])
        project.setdefault("fileSystemLocations", [])
        env = project.get("environment")
        if env is not None:
            env.setdefault("environmentVariables", [])
            env.setdefault("privilegedMode", False)
            env.setdefault("imagePullCredentialsType", "CODEBUILD")
        logs_config = project.setdefault("logsConfig", {})
        logs_config.setdefault("cloudWatchLogs", {"status": "ENABLED"})
        logs_config.setdefault("s3Logs", {"status": "DISABLED", "encryptionDisabled": False})
        if "badgeEnabled" in fields and fields["badgeEnabled"] is not None:
            project["badge"] = {"badgeEnabled": bool(fields["badgeEnabled"])}
        project.setdefault("badge", {"badgeEnabled": False})
        project.setdefault("projectVisibility", "PRIVATE")
        return project

    def _save_project(
        self, project: dict[str, Any], created_ms: int, modified_ms: int, insert: bool
    ) -> dict[str, Any]:
        body = dict(project)
        body.pop("created", None)
        body.pop("lastModified", None)
        if insert:
            self._db.execute(
                "INSERT INTO codebuild_projects (name, created_ms, modified_ms, body) "
                "VALUES (?, ?, ?, ?)",
                (project["name"], created_ms, modified_ms, json.dumps(body)),
            )
        else:
            self._db.execute(
                "UPDATE codebuild_projects SET modified_ms = ?, body = ? WHERE name = ?",
                (modified_ms, json.dumps(body), project["name"]),
            )
        return self._render_project(body, created_ms, modified_ms)

    @staticmethod
    def _render_project(body: dict[str, Any], created_ms: int, modified_ms: int) -> dict[str, Any]:
        project = dict(body)
        project["created"] = _seconds(created_ms)
        project["lastModified"] = _seconds(modified_ms)
        return project

    def create_project(self, request: dict[str, Any]) -> dict[str, Any]:
        """CreateProject: the new Project; ResourceAlreadyExistsException if the name is taken."""
        name = request["name"]
        for member in ("source", "artifacts", "environment", "serviceRole"):
            if request.get(member) is None:
                raise InvalidInputException(f"{member} is required")
        project = self._with_defaults(name, request)
        self._check_project(project)
        exists = self._db.execute(
            "SELECT 1 FROM codebuild_projects WHERE name = ?", (name,)
        ).fetchone()
        if exists is not None:
            raise ResourceAlreadyExistsException(
                f"Project already exists: {self.project_arn(name)}"
            )
        now = self._now_ms()
        saved = self._save_project(project, now, now, insert=True)
        self._db.execute(
            "UPDATE codebuild_projects SET last_build_number = "
            "(SELECT COUNT(*) FROM codebuild_builds WHERE project = ?) WHERE name = ?",
            (name, name),
        )
        return saved

    def update_project(self, request: dict[str, Any]) -> dict[str, Any]:
        """UpdateProject: members present in the request replace the project's."""
        loaded = self._load_project(request["name"])
        if loaded is None:
            raise ResourceNotFoundException(
                f"Project cannot be found: {self._arn_for_message(request['name'])}"
            )
        name, body, _ = loaded
        fields = {m: body[m] for m in _PROJECT_MEMBERS if m in body}
        for member in _PROJECT_MEMBERS:
            if request.get(member) is not None:
                fields[member] = request[member]
        project = self._with_defaults(name, fields)
        if request.get("badgeEnabled") is not None:
            project["badge"] = {"badgeEnabled": bool(request["badgeEnabled"])}
        elif "badge" in body:
            project["badge"] = body["badge"]
        self._check_project(project)
        row = self._db.execute(
            "SELECT created_ms FROM codebuild_projects WHERE name = ?", (name,)
        ).fetchone()
        return self._save_project(project, int(row[0]), self._now_ms(), insert=False)

    def _arn_for_message(self, name_or_arn: str) -> str:
        return name_or_arn if name_or_arn.startswith("arn:") else self.project_arn(name_or_arn)

    def get_project(self, name: str) -> dict[str, Any] | None:
        """The Project shape, by name or ARN; None if there is no such project."""
        project_name = self._project_name(name)
        if project_name is None:
            return None
        row = self._db.execute(
            "SELECT body, created_ms, modified_ms FROM codebuild_projects WHERE name = ?",
            (project_name,),
        ).fetchone()
        if row is None:
            return None
        return self._render_project(json.loads(row[0]), int(row[1]), int(row[2]))

    def batch_get_projects(self, names: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """(projects found, identifiers not found), each in request order, duplicates once."""
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for name in dict.fromkeys(names):
            project = self.get_project(name)
            if project is None:
                missing.append(name)
            else:
                found.append(project)
        return found, missing

    def list_projects(self, sort_by: str | None, sort_order: str | None) -> list[str]:
        """Project names; [I] by NAME, ASCENDING unless told otherwise."""
        column = {"CREATED_TIME": "created_ms", "LAST_MODIFIED_TIME": "modified_ms"}.get(
            sort_by or "NAME", "name"
        )
        direction = "DESC" if sort_order == "DESCENDING" else "ASC"
        rows = self._db.execute(
            f"SELECT name FROM codebuild_projects ORDER BY {column} {direction}, name {direction}"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def delete_project(self, name: str) -> None:
        """DeleteProject; [I] deleting a project that does not exist succeeds (the model lists
        no ResourceNotFoundException for it). The project's builds are kept."""
        project_name = self._project_name(name)
        if project_name is not None:
            self._db.execute("DELETE FROM codebuild_projects WHERE name = ?", (project_name,))

    # --- builds -----------------------------------------------------------------------

    def start_build(
        self,
        project: str,
        *,
        initiator: str,
        source_version: str | None,
        resolved_source_version: str | None,
        environment_variables: list[dict[str, str]],
        timeout_in_minutes: int,
        source: dict[str, Any],
        secondary_sources: list[dict[str, Any]],
        secondary_source_versions: list[dict[str, str]],
        environment: dict[str, Any],
    ) -> dict[str, Any]:
        """Creates a build of `project` (name or ARN) in its SUBMITTED phase; returns the Build.

        ResourceNotFoundException when the project does not exist.
        """
        loaded = self._load_project(project)
        if loaded is None:
            raise ResourceNotFoundException(
                f"Project cannot be found: {self._arn_for_message(project)}"
            )
        name, body, last_number = loaded
        build_uuid = str(uuid.uuid4())
        build_id = f"{name}:{build_uuid}"
        now = self._now_ms()
        build_env = _copy(environment)
        build_env["environmentVariables"] = _merge_variables(
            build_env.get("environmentVariables") or [], environment_variables
        )
        build: dict[str, Any] = {
            "id": build_id,
            "arn": build_arn(self.region, self.account, build_id),
            "buildNumber": last_number + 1,
            "startTime": _seconds(now),
            "currentPhase": "SUBMITTED",
            "buildStatus": "IN_PROGRESS",
        }
        if source_version is not None:
            build["sourceVersion"] = source_version
        if resolved_source_version is not None:
            build["resolvedSourceVersion"] = resolved_source_version
        build["projectName"] = name
        build["phases"] = [{"phaseType": "SUBMITTED", "startTime": _seconds(now)}]
        build["source"] = _copy(source)
        build["secondarySources"] = _copy(secondary_sources)
        build["secondarySourceVersions"] = _copy(secondary_source_versions)
        build["secondaryArtifacts"] = []
        build["cache"] = _copy(body.get("cache") or {"type": "NO_CACHE"})
        build["environment"] = build_env
        if body.get("serviceRole"):
            build["serviceRole"] = body["serviceRole"]
        build["logs"] = self._logs_location(name, build_uuid, body.get("logsConfig") or {})
        build["timeoutInMinutes"] = timeout_in_minutes
        build["queuedTimeoutInMinutes"] = body.get(
            "queuedTimeoutInMinutes", DEFAULT_QUEUED_TIMEOUT_MINUTES
        )
        build["buildComplete"] = False
        build["initiator"] = initiator
        if body.get("encryptionKey"):
            build["encryptionKey"] = body["encryptionKey"]
        build["fileSystemLocations"] = _copy(body.get("fileSystemLocations") or [])
        with transaction(self._db):
            self._db.execute(
                "UPDATE codebuild_projects SET last_build_number = ? WHERE name = ?",
                (last_number + 1, name),
            )
            self._db.execute(
                "INSERT INTO codebuild_builds (id, project, status, body) VALUES (?, ?, ?, ?)",
                (build_id, name, "IN_PROGRESS", json.dumps(build)),
            )
        return build

    def _logs_location(
        self, project: str, build_uuid: str, logs_config: dict[str, Any]
    ) -> dict[str, Any]:
        cloudwatch = logs_config.get("cloudWatchLogs") or {"status": "ENABLED"}
        s3_logs = logs_config.get("s3Logs") or {"status": "DISABLED", "encryptionDisabled": False}
        if cloudwatch.get("status") == "DISABLED":
            return {
                "deepLink": logs_deep_link(self.region, None, None),
                "cloudWatchLogs": _copy(cloudwatch),
                "s3Logs": _copy(s3_logs),
            }
        group = cloudwatch.get("groupName") or f"/aws/codebuild/{project}"
        prefix = cloudwatch.get("streamName")
        stream = f"{prefix}/{build_uuid}" if prefix else build_uuid
        return {
            "groupName": group,
            "streamName": stream,
            "deepLink": logs_deep_link(self.region, group, stream),
            "cloudWatchLogsArn": stream_arn(self.region, self.account, group, stream),
            "cloudWatchLogs": _copy(cloudwatch),
            "s3Logs": _copy(s3_logs),
        }

    def _load_build(self, build_id: str) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT body FROM codebuild_builds WHERE id = ?", (build_id,)
        ).fetchone()
        if row is None:
            raise ResourceNotFoundException(f"Build {build_id} does not exist")
        build: dict[str, Any] = json.loads(row[0])
        return build

    def _load_running_build(self, build_id: str) -> dict[str, Any]:
        build = self._load_build(build_id)
        if build.get("buildComplete"):
            raise InvalidInputException(f"Build {build_id} is already complete")
        return build

    def _save_build(self, build: dict[str, Any]) -> None:
        self._db.execute(
            "UPDATE codebuild_builds SET status = ?, body = ? WHERE id = ?",
            (build["buildStatus"], json.dumps(build), build["id"]),
        )

    @staticmethod
    def _close_phase(
        phase: dict[str, Any], now_ms: int, status: str, code: str, message: str
    ) -> None:
        phase["phaseStatus"] = status
        phase["endTime"] = _seconds(now_ms)
        phase["durationInSeconds"] = max(0, (now_ms - round(phase["startTime"] * 1000)) // 1000)
        phase["contexts"] = [{"statusCode": code, "message": message}]

    def enter_phase(self, build_id: str, phase_type: str) -> None:
        """Closes the current phase as SUCCEEDED (unless already closed) and opens `phase_type`."""
        if phase_type not in PHASE_TYPES or phase_type == "COMPLETED":
            raise ValueError(f"not a phase a build can enter: {phase_type!r}")
        build = self._load_running_build(build_id)
        now = self._now_ms()
        current = build["phases"][-1]
        if "phaseStatus" not in current:
            self._close_phase(current, now, "SUCCEEDED", "", "")
        build["phases"].append({"phaseType": phase_type, "startTime": _seconds(now)})
        build["currentPhase"] = phase_type
        self._save_build(build)

    def fail_phase(
        self, build_id: str, status: str, message: str | None, *, status_code: str | None = None
    ) -> None:
        """Closes the current phase with a failure status and a context {statusCode, message}.

        `status` is FAILED, FAULT, TIMED_OUT, STOPPED or CLIENT_ERROR; `status_code` defaults
        to the code AWS uses for it (PHASE_FAILURE_CODES). A phase already closed is closed
        again with the new outcome (the later verdict wins).
        """
        if status not in PHASE_FAILURE_CODES:
            raise ValueError(f"not a phase failure status: {status!r}")
        build = self._load_running_build(build_id)
        current = build["phases"][-1]
        end_ms = self._now_ms()
        self._close_phase(
            current, end_ms, status, status_code or PHASE_FAILURE_CODES[status], message or ""
        )
        self._save_build(build)

    def finish_build(
        self,
        build_id: str,
        status: str,
        *,
        exported_variables: list[dict[str, str]],
        artifacts: dict[str, Any] | None,
        secondary_artifacts: list[dict[str, Any]],
    ) -> None:
        """Ends the build with `status` (SUCCEEDED, FAILED, FAULT, TIMED_OUT or STOPPED)."""
        if status not in BUILD_END_STATUSES:
            raise ValueError(f"not a final build status: {status!r}")
        build = self._load_running_build(build_id)
        self._finish(build, status, exported_variables, artifacts, secondary_artifacts)
        self._save_build(build)

    def _finish(
        self,
        build: dict[str, Any],
        status: str,
        exported_variables: list[dict[str, str]],
        artifacts: dict[str, Any] | None,
        secondary_artifacts: list[dict[str, Any]],
    ) -> None:
        now = self._now_ms()
        current = build["phases"][-1]
        if "phaseStatus" not in current:
            if status in ("SUCCEEDED", "FAILED"):
                self._close_phase(current, now, "SUCCEEDED", "", "")
            else:
                self._close_phase(current, now, status, PHASE_FAILURE_CODES[status], "")
        build["phases"].append({"phaseType": "COMPLETED", "startTime": _seconds(now)})
        build["currentPhase"] = "COMPLETED"
        build["buildStatus"] = status
        build["endTime"] = _seconds(now)
        build["buildComplete"] = True
        build["exportedEnvironmentVariables"] = _copy(exported_variables)
        if artifacts is not None:
            build["artifacts"] = _copy(artifacts)
        build["secondaryArtifacts"] = _copy(secondary_artifacts)

    def recover(self) -> list[str]:
        """Finishes as FAILED every build left IN_PROGRESS by a stopped process; their ids."""
        rows = self._db.execute(
            "SELECT body FROM codebuild_builds WHERE status = 'IN_PROGRESS' ORDER BY seq"
        ).fetchall()
        recovered: list[str] = []
        with transaction(self._db):
            for row in rows:
                build = json.loads(row[0])
                current = build["phases"][-1]
                now = self._now_ms()
                if "phaseStatus" not in current:
                    self._close_phase(current, now, "FAILED", INTERRUPTED_CODE, INTERRUPTED_MESSAGE)
                self._finish(build, "FAILED", [], None, build.get("secondaryArtifacts") or [])
                self._save_build(build)
                recovered.append(build["id"])
        return recovered

    def get_build(self, build_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT body FROM codebuild_builds WHERE id = ?", (build_id,)
        ).fetchone()
        if row is None:
            return None
        build: dict[str, Any] = json.loads(row[0])
        return build

    def batch_get_builds(self, ids: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """(builds found, ids not found), each in request order, duplicates once.

        [I] A build may also be named by its ARN, as CodeBuild accepts.
        """
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        arn_prefix = f"arn:aws:codebuild:{self.region}:{self.account}:build/"
        for ident in dict.fromkeys(ids):
            build_id = ident[len(arn_prefix) :] if ident.startswith(arn_prefix) else ident
            build = self.get_build(build_id)
            if build is None:
                missing.append(ident)
            else:
                found.append(build)
        return found, missing

    def list_builds_for_project(self, project: str, sort_order: str | None) -> list[str]:
        """Build ids of a project, newest first unless ASCENDING; ResourceNotFoundException
        when the project does not exist."""
        loaded = self._load_project(project)
        if loaded is None:
            raise ResourceNotFoundException(
                f"The provided project arn:aws:codebuild:{self.region}:{self.account}:project/"
                f"{self._project_name(project) or project} does not exist"
            )
        direction = "ASC" if sort_order == "ASCENDING" else "DESC"
        rows = self._db.execute(
            f"SELECT id FROM codebuild_builds WHERE project = ? ORDER BY seq {direction}",
            (loaded[0],),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def list_builds(self, sort_order: str | None) -> list[str]:
        """Every build id, newest first unless ASCENDING."""
        direction = "ASC" if sort_order == "ASCENDING" else "DESC"
        rows = self._db.execute(f"SELECT id FROM codebuild_builds ORDER BY seq {direction}")
        return [str(r[0]) for r in rows.fetchall()]


def _merge_variables(
    base: Iterable[dict[str, str]], overrides: Iterable[dict[str, str]]
) -> list[dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for variable in (*base, *overrides):
        merged[variable["name"]] = dict(variable)
    return list(merged.values())
