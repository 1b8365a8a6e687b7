"""CodeBuild over the endpoint: project CRUD through boto3, and builds made through the build
store (as the CodeBuild action provider makes them) read back through BatchGetBuilds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.endpoint import Endpoint
from tui.local.engine.builds import BuildStore, InvalidInputException
from tui.model.errors import ResourceNotFoundException

ROLE = "arn:aws:iam::000000000000:role/codebuild"
ENVIRONMENT = {
    "type": "LINUX_CONTAINER",
    "image": "aws/codebuild/standard:7.0",
    "computeType": "BUILD_GENERAL1_SMALL",
    "environmentVariables": [{"name": "STAGE", "value": "dev", "type": "PLAINTEXT"}],
}
START = datetime(2026, 1, 1, tzinfo=UTC)  # the ManualClock's start


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(START.timestamp() + seconds, UTC)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def create(codebuild: Any, name: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "name": name,
        "source": {"type": "CODEPIPELINE", "buildspec": "version: 0.2"},
        "artifacts": {"type": "CODEPIPELINE"},
        "environment": ENVIRONMENT,
        "serviceRole": ROLE,
        **overrides,
    }
    return dict(codebuild.create_project(**request)["project"])


def builds_of(endpoint: Endpoint) -> BuildStore:
    store = endpoint.backend.builds
    assert isinstance(store, BuildStore)
    return store


def start(endpoint: Endpoint, project: str, **overrides: Any) -> dict[str, Any]:
    store = builds_of(endpoint)
    arguments: dict[str, Any] = {
        "initiator": "codepipeline/app",
        "source_version": "arn:aws:s3:::artifacts/app/SourceOut/abc1234",
        "resolved_source_version": "3f2a9c1",
        "environment_variables": [{"name": "EXTRA", "value": "1", "type": "PLAINTEXT"}],
        "timeout_in_minutes": 30,
        "source": {"type": "CODEPIPELINE", "buildspec": "version: 0.2"},
        "secondary_sources": [],
        "secondary_source_versions": [],
        "environment": ENVIRONMENT,
        **overrides,
    }
    return endpoint.call(lambda: store.start_build(project, **arguments))


@pytest.fixture
def codebuild(endpoint: Endpoint) -> Any:
    return endpoint.client("codebuild")


# --- projects -----------------------------------------------------------------------------


def test_create_project_fills_in_aws_defaults(codebuild: Any) -> None:
    project = create(codebuild, "web", description="the web app")
    assert project["arn"] == "arn:aws:codebuild:us-east-1:000000000000:project/web"
    assert project["created"] == START
    assert project["lastModified"] == START
    assert project["timeoutInMinutes"] == 60
    assert project["queuedTimeoutInMinutes"] == 480
    assert project["encryptionKey"] == "arn:aws:kms:us-east-1:000000000000:alias/aws/s3"
    assert project["cache"] == {"type": "NO_CACHE"}
    assert project["logsConfig"]["cloudWatchLogs"] == {"status": "ENABLED"}
    assert project["badge"] == {"badgeEnabled": False}
    assert project["environment"]["privilegedMode"] is False
    assert project["environment"]["environmentVariables"] == ENVIRONMENT["environmentVariables"]
    assert project["description"] == "the web app"

    response = codebuild.batch_get_projects(names=["web", project["arn"], "ghost"])
    assert [p["name"] for p in response["projects"]] == ["web", "web"]
    assert response["projectsNotFound"] == ["ghost"]


def test_create_project_errors(codebuild: Any) -> None:
    create(codebuild, "web")
    with pytest.raises(ClientError) as excinfo:
        create(codebuild, "web")
    assert error_of(excinfo) == (
        "ResourceAlreadyExistsException",
        "Project already exists: arn:aws:codebuild:us-east-1:000000000000:project/web",
    )
    with pytest.raises(ClientError) as excinfo:
        create(codebuild, "mixed", artifacts={"type": "S3", "location": "bucket"})
    assert error_of(excinfo)[0] == "InvalidInputException"
    assert "CODEPIPELINE" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        create(
            codebuild,
            "nolocation",
            source={"type": "GITHUB"},
            artifacts={"type": "NO_ARTIFACTS"},
        )
    assert error_of(excinfo)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as excinfo:
        create(
            codebuild,
            "reserved",
            environment={
                **ENVIRONMENT,
                "environmentVariables": [{"name": "CODEBUILD_X", "value": "1"}],
            },
        )
    assert "CODEBUILD_X" in error_of(excinfo)[1]
    names = codebuild.list_projects()["projects"]
    assert names == ["web"]


def test_update_project_replaces_only_what_it_is_given(endpoint: Endpoint, codebuild: Any) -> None:
    create(codebuild, "web", description="before", timeoutInMinutes=20)
    endpoint.advance(30)
    updated = codebuild.update_project(name="web", description="after", badgeEnabled=True)[
        "project"
    ]
    assert updated["description"] == "after"
    assert updated["timeoutInMinutes"] == 20
    assert updated["badge"] == {"badgeEnabled": True}
    assert updated["created"] == START
    assert updated["lastModified"] == at(30)
    again = codebuild.batch_get_projects(names=["web"])["projects"][0]
    assert again == updated
    with pytest.raises(ClientError) as excinfo:
        codebuild.update_project(name="ghost", description="x")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "Project cannot be found: arn:aws:codebuild:us-east-1:000000000000:project/ghost",
    )
    with pytest.raises(ClientError) as excinfo:
        codebuild.update_project(name="web", artifacts={"type": "NO_ARTIFACTS"})
    assert error_of(excinfo)[0] == "InvalidInputException"


def test_list_projects_sorts_and_pages(endpoint: Endpoint, codebuild: Any) -> None:
    store = builds_of(endpoint)

    def make_many() -> None:
        for i in range(105):
            store.create_project(
                {
                    "name": f"p{104 - i:03d}",
                    "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"},
                    "artifacts": {"type": "NO_ARTIFACTS"},
                    "environment": ENVIRONMENT,
                    "serviceRole": ROLE,
                }
            )
            endpoint.clock.advance(1)  # type: ignore[attr-defined]

    endpoint.call(make_many)
    first = codebuild.list_projects()
    assert len(first["projects"]) == 100
    rest = codebuild.list_projects(nextToken=first["nextToken"])
    assert "nextToken" not in rest
    assert first["projects"] + rest["projects"] == [f"p{i:03d}" for i in range(105)]
    newest = codebuild.list_projects(sortBy="CREATED_TIME", sortOrder="DESCENDING")["projects"]
    assert newest[:3] == ["p000", "p001", "p002"]
    oldest = codebuild.list_projects(sortBy="CREATED_TIME", sortOrder="ASCENDING")["projects"]
    assert oldest[:2] == ["p104", "p103"]
    codebuild.update_project(name="p050", description="touched")
    touched = codebuild.list_projects(sortBy="LAST_MODIFIED_TIME", sortOrder="DESCENDING")
    assert touched["projects"][0] == "p050"
    with pytest.raises(ClientError) as excinfo:
        codebuild.list_projects(nextToken="not-a-token")
    assert error_of(excinfo)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as excinfo:
        # A token is tied to its sort order.
        codebuild.list_projects(sortBy="CREATED_TIME", nextToken=first["nextToken"])
    assert error_of(excinfo)[0] == "InvalidInputException"


def test_delete_project_keeps_its_builds(endpoint: Endpoint, codebuild: Any) -> None:
    create(codebuild, "web")
    build = start(endpoint, "web")
    codebuild.delete_project(name="web")
    codebuild.delete_project(name="web")  # deleting again is not an error
    assert codebuild.batch_get_projects(names=["web"])["projectsNotFound"] == ["web"]
    assert codebuild.batch_get_builds(ids=[build["id"]])["builds"][0]["id"] == build["id"]
    assert codebuild.list_builds()["ids"] == [build["id"]]
    with pytest.raises(ClientError) as excinfo:
        codebuild.list_builds_for_project(projectName="web")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    # Created again, the project finds its old builds and keeps counting after them.
    create(codebuild, "web")
    second = start(endpoint, "web")
    assert second["buildNumber"] == 2
    assert codebuild.list_builds_for_project(projectName="web")["ids"] == [
        second["id"],
        build["id"],
    ]


# --- builds -------------------------------------------------------------------------------


def test_a_build_reads_back_with_everything_the_tui_shows(
    endpoint: Endpoint, codebuild: Any
) -> None:
    create(codebuild, "web")
    build = start(endpoint, "web")
    store = builds_of(endpoint)
    build_id = build["id"]
    project, uuid = build_id.split(":")
    assert project == "web"
    assert len(uuid) == 36

    endpoint.advance(2)
    endpoint.call(lambda: store.enter_phase(build_id, "PROVISIONING"))
    endpoint.advance(3)
    endpoint.call(lambda: store.enter_phase(build_id, "BUILD"))
    endpoint.advance(1.5)

    running = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
    assert running["buildStatus"] == "IN_PROGRESS"
    assert running["currentPhase"] == "BUILD"
    assert running["buildComplete"] is False
    assert "endTime" not in running
    assert [p["phaseType"] for p in running["phases"]] == ["SUBMITTED", "PROVISIONING", "BUILD"]
    assert running["phases"][-1] == {"phaseType": "BUILD", "startTime": at(5)}
    # Reading never moves a build along.
    assert codebuild.batch_get_builds(ids=[build_id])["builds"][0] == running

    endpoint.call(
        lambda: store.fail_phase(
            build_id, "FAILED", "Error while executing command: make. Reason: exit status 2"
        )
    )
    endpoint.call(lambda: store.enter_phase(build_id, "POST_BUILD"))
    endpoint.advance(1)
    endpoint.call(lambda: store.enter_phase(build_id, "FINALIZING"))
    endpoint.call(
        lambda: store.finish_build(
            build_id,
            "FAILED",
            exported_variables=[{"name": "VERSION", "value": "1.2.3"}],
            artifacts={"location": "arn:aws:s3:::artifacts/app/BuildOut/xyz9876"},
            secondary_artifacts=[],
        )
    )

    response = codebuild.batch_get_builds(ids=[build_id, "web:nope"])
    assert response["buildsNotFound"] == ["web:nope"]
    done = response["builds"][0]
    assert done["id"] == build_id
    assert done["arn"] == f"arn:aws:codebuild:us-east-1:000000000000:build/{build_id}"
    assert done["buildNumber"] == 1
    assert done["projectName"] == "web"
    assert done["buildStatus"] == "FAILED"
    assert done["currentPhase"] == "COMPLETED"
    assert done["buildComplete"] is True
    assert done["startTime"] == START
    assert done["endTime"] == at(7.5)
    assert done["initiator"] == "codepipeline/app"
    assert done["sourceVersion"] == "arn:aws:s3:::artifacts/app/SourceOut/abc1234"
    assert done["resolvedSourceVersion"] == "3f2a9c1"
    assert done["timeoutInMinutes"] == 30
    assert done["exportedEnvironmentVariables"] == [{"name": "VERSION", "value": "1.2.3"}]
    assert done["artifacts"] == {"location": "arn:aws:s3:::artifacts/app/BuildOut/xyz9876"}
    assert done["environment"]["environmentVariables"] == [
        {"name": "STAGE", "value": "dev", "type": "PLAINTEXT"},
        {"name": "EXTRA", "value": "1", "type": "PLAINTEXT"},
    ]
    phases = {p["phaseType"]: p for p in done["phases"]}
    assert list(phases) == [
        "SUBMITTED",
        "PROVISIONING",
        "BUILD",
        "POST_BUILD",
        "FINALIZING",
        "COMPLETED",
    ]
    assert phases["SUBMITTED"]["phaseStatus"] == "SUCCEEDED"
    assert phases["SUBMITTED"]["endTime"] == at(2)
    assert phases["SUBMITTED"]["durationInSeconds"] == 2
    assert phases["PROVISIONING"]["durationInSeconds"] == 3
    assert phases["BUILD"]["phaseStatus"] == "FAILED"
    assert phases["BUILD"]["durationInSeconds"] == 1  # 1.5 s, whole seconds
    assert phases["BUILD"]["contexts"] == [
        {
            "statusCode": "COMMAND_EXECUTION_ERROR",
            "message": "Error while executing command: make. Reason: exit status 2",
        }
    ]
    assert phases["POST_BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert phases["FINALIZING"]["phaseStatus"] == "SUCCEEDED"
    assert phases["COMPLETED"] == {"phaseType": "COMPLETED", "startTime": at(7.5)}

    logs = done["logs"]
    assert logs["groupName"] == "/aws/codebuild/web"
    assert logs["streamName"] == uuid
    assert logs["cloudWatchLogsArn"] == (
        f"arn:aws:logs:us-east-1:000000000000:log-group:/aws/codebuild/web:log-stream:{uuid}"
    )
    assert logs["deepLink"].endswith(f"#logEvent:group=/aws/codebuild/web;stream={uuid}")
    assert logs["cloudWatchLogs"]["status"] == "ENABLED"


def test_build_logs_follow_the_projects_logs_config(endpoint: Endpoint, codebuild: Any) -> None:
    create(
        codebuild,
        "custom",
        logsConfig={
            "cloudWatchLogs": {"status": "ENABLED", "groupName": "/ci", "streamName": "web"}
        },
    )
    create(codebuild, "quiet", logsConfig={"cloudWatchLogs": {"status": "DISABLED"}})
    custom = start(endpoint, "custom")["logs"]
    uuid = custom["cloudWatchLogsArn"].rsplit("/", 1)[-1]
    assert custom["groupName"] == "/ci"
    assert custom["streamName"] == f"web/{uuid}"
    quiet = start(endpoint, "quiet")["logs"]
    assert "groupName" not in quiet
    assert "cloudWatchLogsArn" not in quiet
    assert quiet["cloudWatchLogs"] == {"status": "DISABLED"}


def test_timeouts_stops_and_client_errors_close_the_open_phase(
    endpoint: Endpoint, codebuild: Any
) -> None:
    create(codebuild, "web")
    store = builds_of(endpoint)
    timed_out = start(endpoint, "web")["id"]
    endpoint.call(lambda: store.enter_phase(timed_out, "BUILD"))
    endpoint.call(
        lambda: store.finish_build(
            timed_out, "TIMED_OUT", exported_variables=[], artifacts=None, secondary_artifacts=[]
        )
    )
    client_error = start(endpoint, "web")["id"]
    endpoint.call(lambda: store.enter_phase(client_error, "DOWNLOAD_SOURCE"))
    endpoint.call(lambda: store.fail_phase(client_error, "CLIENT_ERROR", "no such object"))
    endpoint.call(
        lambda: store.finish_build(
            client_error, "FAILED", exported_variables=[], artifacts=None, secondary_artifacts=[]
        )
    )
    builds = codebuild.batch_get_builds(ids=[timed_out, client_error])["builds"]
    assert builds[0]["buildStatus"] == "TIMED_OUT"
    assert builds[0]["phases"][-2]["phaseStatus"] == "TIMED_OUT"
    assert builds[0]["phases"][-2]["contexts"][0]["statusCode"] == "BUILD_TIMED_OUT"
    assert builds[1]["phases"][-2]["phaseStatus"] == "CLIENT_ERROR"
    assert builds[1]["phases"][-2]["contexts"] == [
        {"statusCode": "CLIENT_ERROR", "message": "no such object"}
    ]


def test_the_store_refuses_what_a_provider_must_not_do(endpoint: Endpoint, codebuild: Any) -> None:
    create(codebuild, "web")
    store = builds_of(endpoint)
    with pytest.raises(ResourceNotFoundException, match="Project cannot be found"):
        start(endpoint, "ghost")
    build_id = start(endpoint, "web")["id"]
    with pytest.raises(ValueError, match="COMPLETED"):
        endpoint.call(lambda: store.enter_phase(build_id, "COMPLETED"))
    with pytest.raises(ValueError, match="IN_PROGRESS"):
        endpoint.call(
            lambda: store.finish_build(
                build_id,
                "IN_PROGRESS",
                exported_variables=[],
                artifacts=None,
                secondary_artifacts=[],
            )
        )

    def finish() -> None:
        store.finish_build(
            build_id, "SUCCEEDED", exported_variables=[], artifacts=None, secondary_artifacts=[]
        )

    endpoint.call(finish)
    with pytest.raises(InvalidInputException, match="already complete"):
        endpoint.call(finish)
    with pytest.raises(ResourceNotFoundException):
        endpoint.call(lambda: store.enter_phase("web:missing", "BUILD"))


def test_build_listings_are_newest_first_and_page(endpoint: Endpoint, codebuild: Any) -> None:
    create(codebuild, "web")
    create(codebuild, "api")
    web = [start(endpoint, "web")["id"] for _ in range(102)]
    api = start(endpoint, "api")["id"]
    numbers = [b["buildNumber"] for b in codebuild.batch_get_builds(ids=web[:3])["builds"]]
    assert numbers == [1, 2, 3]

    first = codebuild.list_builds_for_project(projectName="web")
    assert first["ids"] == list(reversed(web))[:100]
    # A build started between two pages does not shift the next page.
    start(endpoint, "web")
    rest = codebuild.list_builds_for_project(projectName="web", nextToken=first["nextToken"])
    assert rest["ids"] == [web[1], web[0]]
    assert "nextToken" not in rest
    ascending = codebuild.list_builds_for_project(projectName="web", sortOrder="ASCENDING")
    assert ascending["ids"][:2] == web[:2]

    everything = codebuild.list_builds()
    assert everything["ids"][1] == api
    with pytest.raises(ClientError) as excinfo:
        codebuild.list_builds(nextToken=first["nextToken"])
    assert error_of(excinfo)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as excinfo:
        codebuild.list_builds_for_project(projectName="ghost")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The provided project arn:aws:codebuild:us-east-1:000000000000:project/ghost does not exist",
    )


def test_start_and_stop_build_say_builds_run_in_pipelines(codebuild: Any) -> None:
    create(codebuild, "web")
    with pytest.raises(ClientError) as started:
        codebuild.start_build(projectName="web")
    with pytest.raises(ClientError) as stopped:
        codebuild.stop_build(id="web:x")
    for excinfo, operation in ((started, "StartBuild"), (stopped, "StopBuild")):
        code, message = error_of(excinfo)
        assert code == "UnknownOperationException"
        assert message.startswith(f"{operation} is not supported")
        assert "pipeline" in message
    assert codebuild.list_builds()["ids"] == []


def test_a_restart_keeps_everything_and_fails_interrupted_builds(tmp_path: Path) -> None:
    first = Endpoint(tmp_path / "data").start()
    try:
        codebuild = first.client("codebuild")
        create(codebuild, "web", description="kept")
        finished = start(first, "web")["id"]
        store = builds_of(first)
        first.call(
            lambda: store.finish_build(
                finished,
                "SUCCEEDED",
                exported_variables=[{"name": "V", "value": "1"}],
                artifacts=None,
                secondary_artifacts=[],
            )
        )
        running = start(first, "web")["id"]
        first.call(lambda: store.enter_phase(running, "BUILD"))
        before = codebuild.batch_get_builds(ids=[finished])["builds"][0]
    finally:
        first.stop()
    second = Endpoint(tmp_path / "data").start()
    try:
        codebuild = second.client("codebuild")
        assert codebuild.batch_get_projects(names=["web"])["projects"][0]["description"] == "kept"
        after, interrupted = codebuild.batch_get_builds(ids=[finished, running])["builds"]
        assert after == before
        assert interrupted["buildStatus"] == "FAILED"
        assert interrupted["buildComplete"] is True
        assert interrupted["currentPhase"] == "COMPLETED"
        build_phase = interrupted["phases"][-2]
        assert build_phase["phaseType"] == "BUILD"
        assert build_phase["phaseStatus"] == "FAILED"
        assert "interrupted" in build_phase["contexts"][0]["message"]
        assert codebuild.list_builds_for_project(projectName="web")["ids"] == [running, finished]
        # Numbering goes on after a restart.
        assert start(second, "web")["buildNumber"] == 3
    finally:
        second.stop()
