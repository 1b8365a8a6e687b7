"""The demo pipelines run on the endpoint and end where the demo needs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import action_executions, latest_execution_id, wait_status
from tui.local.clock import Clock
from tui.local.samples import ARTIFACT_BUCKET, SOURCE_BUCKET, demo_samples

pytestmark = pytest.mark.slow


@pytest.fixture
def live_endpoint(tmp_path: Path) -> Any:
    ep = Endpoint(tmp_path / "live", clock=Clock()).start()
    yield ep
    ep.stop()


def test_demo_samples_do_real_work(live_endpoint: Endpoint) -> None:
    s3 = live_endpoint.client("s3")
    cp = live_endpoint.client("codepipeline")
    s3.create_bucket(Bucket=SOURCE_BUCKET)
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    samples = {s.name: s for s in demo_samples()}
    for sample in samples.values():
        for key, (body, summary) in sample.sources.items():
            s3.put_object(
                Bucket=SOURCE_BUCKET,
                Key=key,
                Body=body,
                Metadata={"codepipeline-artifact-revision-summary": summary},
            )
        cp.create_pipeline(pipeline=sample.declaration)
        for _ in range(sample.extra_executions):
            cp.start_pipeline_execution(name=sample.name)

    # web-app builds, tests in parallel, and waits for its release approval.
    web = latest_execution_id(cp, "web-app")

    def approval_pending() -> bool:
        state = cp.get_pipeline_state(name="web-app")["stageStates"][3]["actionStates"][0]
        return "token" in state.get("latestExecution", {})

    wait_for(approval_pending, timeout=60)
    runs = {d["actionName"]: d for d in action_executions(cp, "web-app", web)}
    assert runs["UnitTests"]["status"] == "Succeeded"
    assert runs["Lint"]["status"] == "Succeeded"
    assert runs["Compile"]["output"]["outputVariables"] == {"VERSION": "1.4.2"}
    gate = runs["ReleaseApproval"]["input"]["resolvedConfiguration"]["CustomData"]
    assert gate == "Release greeter 1.4.2 to production?"

    # payments-api fails in its unit tests, with the reason in the log.
    payments = latest_execution_id(cp, "payments-api")
    assert wait_status(cp, "payments-api", payments, timeout=60) == "Failed"
    failed = next(
        d for d in action_executions(cp, "payments-api", payments) if d["status"] == "Failed"
    )
    assert failed["actionName"] == "UnitTests"
    arn = failed["output"]["executionResult"]["logStreamARN"]
    group, stream = arn.split(":log-group:")[1].split(":log-stream:")
    lines = live_endpoint.call(
        lambda: [e.message for e in live_endpoint.backend.logs.read(group, stream)]
    )
    assert any("AssertionError" in line for line in lines)

    # release-train runs its three executions one after another (QUEUED).
    ids = [
        s["pipelineExecutionId"]
        for s in cp.list_pipeline_executions(pipelineName="release-train")[
            "pipelineExecutionSummaries"
        ]
    ]
    assert len(ids) == 3
    for execution_id in ids:
        assert wait_status(cp, "release-train", execution_id, timeout=90) == "Succeeded"
