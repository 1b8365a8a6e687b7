"""CodePipeline's JSON 1.1 operations: read the request, call the engine, shape the answer.

Thin by design: parameters arrive validated against botocore's model (`shapes.py`), state
and rules live in `tui.local.engine`, rendering in `tui.local.engine.views`.
Operations of the model that this service does not define answer UnknownOperationException
naming the operation (the server's funnel), never a 500.
"""

from __future__ import annotations

from typing import Any

from tui.local.api.caller import caller_arn
from tui.local.api.paging import page
from tui.local.engine import views
from tui.local.engine.engine import PipelineEngine
from tui.model.action_types import aws_action_types
from tui.model.declaration import ActionTypeId
from tui.model.errors import ActionTypeNotFoundException, ValidationException

Request = dict[str, Any]
Response = dict[str, Any]


class CodePipelineService:
    target_prefix = "CodePipeline_20150709"
    service_name = "codepipeline"

    def __init__(self, engine: PipelineEngine) -> None:
        self.engine = engine
        self.state = engine.state

    def _caller(self) -> str:
        return caller_arn(self.state.account)

    # Pipelines --------------------------------------------------------------------------
    def create_pipeline(self, request: Request) -> Response:
        record = self.engine.create_pipeline(
            request.get("pipeline"), request.get("tags"), self._caller()
        )
        response: Response = {"pipeline": record.declaration}
        if record.tags:
            response["tags"] = record.tags
        return response

    def update_pipeline(self, request: Request) -> Response:
        record = self.engine.update_pipeline(request.get("pipeline"), self._caller())
        return {"pipeline": record.declaration}

    def delete_pipeline(self, request: Request) -> Response:
        self.engine.delete_pipeline(request["name"])
        return {}

    def get_pipeline(self, request: Request) -> Response:
        declaration, record = self.engine.get_pipeline(request["name"], request.get("version"))
        return {"pipeline": declaration, "metadata": views.pipeline_metadata(record)}

    def list_pipelines(self, request: Request) -> Response:
        records = self.engine.list_pipelines()
        chunk, token = page(
            records, "pipelines", request.get("nextToken"), request.get("maxResults") or 100
        )
        response: Response = {"pipelines": [views.pipeline_summary(r) for r in chunk]}
        if token:
            response["nextToken"] = token
        return response

    def get_pipeline_state(self, request: Request) -> Response:
        return views.pipeline_state(self.state, request["name"])

    # Executions -------------------------------------------------------------------------
    def start_pipeline_execution(self, request: Request) -> Response:
        execution_id = self.engine.start_execution(
            request["name"],
            request.get("variables"),
            request.get("clientRequestToken"),
            request.get("sourceRevisions"),
            self._caller(),
        )
        return {"pipelineExecutionId": execution_id}

    def stop_pipeline_execution(self, request: Request) -> Response:
        execution_id = self.engine.stop_execution(
            request["pipelineName"],
            request["pipelineExecutionId"],
            bool(request.get("abandon", False)),
            request.get("reason"),
        )
        return {"pipelineExecutionId": execution_id}

    def retry_stage_execution(self, request: Request) -> Response:
        execution_id = self.engine.retry_stage(
            request["pipelineName"],
            request["stageName"],
            request["pipelineExecutionId"],
            request["retryMode"],
        )
        return {"pipelineExecutionId": execution_id}

    def rollback_stage(self, request: Request) -> Response:
        execution_id = self.engine.rollback_stage(
            request["pipelineName"],
            request["stageName"],
            request["targetPipelineExecutionId"],
            self._caller(),
        )
        return {"pipelineExecutionId": execution_id}

    def get_pipeline_execution(self, request: Request) -> Response:
        self.state.pipeline(request["pipelineName"])
        execution = self.state.execution(request["pipelineName"], request["pipelineExecutionId"])
        return {"pipelineExecution": views.execution_detail(execution)}

    def list_pipeline_executions(self, request: Request) -> Response:
        name = request["pipelineName"]
        record = self.state.pipeline(name)
        executions = list(reversed(self.state.executions_by_pipeline.get(name, [])))
        stage_filter = (request.get("filter") or {}).get("succeededInStage")
        if stage_filter:
            stage = stage_filter.get("stageName")
            executions = [
                e
                for e in executions
                if e.pipeline_version == record.version
                and stage in e.stages
                and e.stages[stage].status == "Succeeded"
            ]
        chunk, token = page(
            executions,
            f"executions:{name}",
            request.get("nextToken"),
            request.get("maxResults") or 100,
        )
        response: Response = {
            "pipelineExecutionSummaries": [views.execution_summary(e) for e in chunk]
        }
        if token:
            response["nextToken"] = token
        return response

    def list_action_executions(self, request: Request) -> Response:
        name = request["pipelineName"]
        self.state.pipeline(name)
        selection = request.get("filter") or {}
        if "pipelineExecutionId" in selection:
            execution = self.state.execution(name, selection["pipelineExecutionId"])
            runs = list(self.state.runs_by_execution.get(execution.id, []))
        elif "latestInPipelineExecution" in selection:
            latest = selection["latestInPipelineExecution"]
            execution = self.state.execution(name, latest["pipelineExecutionId"])
            runs = list(self.state.runs_by_execution.get(execution.id, []))
            if latest.get("startTimeRange") != "All":
                newest: dict[tuple[str, str], Any] = {}
                for run in runs:
                    newest[(run.stage_name, run.action_name)] = run
                runs = list(newest.values())
        else:
            runs = [
                run
                for execution in self.state.executions_by_pipeline.get(name, [])
                for run in self.state.runs_by_execution.get(execution.id, [])
            ]
        # Newest first; runs started in the same instant keep their start order, reversed.
        runs = sorted(reversed(runs), key=lambda r: r.start_time, reverse=True)
        chunk, token = page(
            runs,
            f"actions:{name}:{selection}",
            request.get("nextToken"),
            request.get("maxResults") or 100,
        )
        response: Response = {
            "actionExecutionDetails": [views.action_execution_detail(r) for r in chunk]
        }
        if token:
            response["nextToken"] = token
        return response

    # Approvals, transitions --------------------------------------------------------------
    def put_approval_result(self, request: Request) -> Response:
        result = request["result"]
        approved_at = self.engine.put_approval_result(
            request["pipelineName"],
            request["stageName"],
            request["actionName"],
            result.get("summary", ""),
            result["status"],
            request["token"],
            self._caller(),
        )
        return {"approvedAt": approved_at}

    def disable_stage_transition(self, request: Request) -> Response:
        self.engine.set_transition(
            request["pipelineName"],
            request["stageName"],
            request["transitionType"],
            False,
            request["reason"],
            self._caller(),
        )
        return {}

    def enable_stage_transition(self, request: Request) -> Response:
        self.engine.set_transition(
            request["pipelineName"],
            request["stageName"],
            request["transitionType"],
            True,
            None,
            self._caller(),
        )
        return {}

    # Action types, tags -------------------------------------------------------------------
    def list_action_types(self, request: Request) -> Response:
        owner = request.get("actionOwnerFilter")
        specs = [*aws_action_types(), *self.engine.custom_types.all()]
        types = [t.to_api() for t in specs if owner in (None, t.id.owner)]
        chunk, token = page(types, f"action-types:{owner}", request.get("nextToken"), 100)
        response: Response = {"actionTypes": chunk}
        if token:
            response["nextToken"] = token
        return response

    def tag_resource(self, request: Request) -> Response:
        self.engine.tag_resource(request["resourceArn"], request["tags"])
        return {}

    def untag_resource(self, request: Request) -> Response:
        self.engine.untag_resource(request["resourceArn"], request["tagKeys"])
        return {}

    def list_tags_for_resource(self, request: Request) -> Response:
        tags = self.engine.list_tags(request["resourceArn"])
        chunk, token = page(
            tags,
            f"tags:{request['resourceArn']}",
            request.get("nextToken"),
            request.get("maxResults") or 100,
        )
        response: Response = {"tags": chunk}
        if token:
            response["nextToken"] = token
        return response

    # Custom action types and the job-worker API ------------------------------------------
    def create_custom_action_type(self, request: Request) -> Response:
        spec = self.engine.custom_types.create(request)
        response: Response = {"actionType": spec.to_api()}
        if request.get("tags"):
            response["tags"] = request["tags"]
        return response

    def delete_custom_action_type(self, request: Request) -> Response:
        self.engine.custom_types.delete(
            request["category"], request["provider"], request["version"]
        )
        return {}

    def poll_for_jobs(self, request: Request) -> Response:
        type_id = dict(request["actionTypeId"])
        if type_id.get("owner") != "Custom":
            raise ValidationException("PollForJobs is only for action types owned by Custom")
        if self.engine.custom_types.find(ActionTypeId.model_validate(type_id)) is None:
            raise ActionTypeNotFoundException(
                f"Action type {type_id['category']}/Custom/{type_id['provider']}/{type_id['version']} does not exist"
            )
        jobs = self.engine.jobs.poll(
            type_id, request.get("maxBatchSize") or 1, request.get("queryParam") or {}
        )
        return {"jobs": [job.api() for job in jobs]}

    def acknowledge_job(self, request: Request) -> Response:
        return {"status": self.engine.jobs.acknowledge(request["jobId"], request["nonce"])}

    def get_job_details(self, request: Request) -> Response:
        job = self.engine.jobs.get(request["jobId"])
        return {"jobDetails": {"id": job.id, "data": job.data, "accountId": job.account}}

    def put_job_success_result(self, request: Request) -> Response:
        self.engine.jobs.succeed(request["jobId"], request)
        return {}

    def put_job_failure_result(self, request: Request) -> Response:
        self.engine.jobs.fail(request["jobId"], request["failureDetails"])
        return {}
