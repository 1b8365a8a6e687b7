"""CodeBuild's JSON 1.1 operations over the endpoint's `BuildStore`: projects and builds.

Projects are managed here (CreateProject, UpdateProject, BatchGetProjects, ListProjects,
DeleteProject); builds are read here (BatchGetBuilds, ListBuildsForProject, ListBuilds) and
made only by the pipeline engine's CodeBuild action, which runs them.

Decisions recorded here:

- [I] StartBuild and StopBuild answer UnknownOperationException naming the operation: builds
  run only as CodeBuild actions of a pipeline on the local endpoint (start or stop the
  pipeline execution instead). Other operations of the model answer the server's
  UnknownOperationException.
- The list operations page 100 ids or names at a time, as CodeBuild does, with opaque
  tokens tied to the listing and its sort order; a bad token is InvalidInputException.
  Build listings continue after the last id returned (keyset), so builds started while a
  client pages never repeat an id; project listings page by offset.
- ListBuilds and ListBuildsForProject list newest first unless `sortOrder` is ASCENDING;
  ListProjects lists by name, ascending, unless told otherwise ([I] AWS documents no default).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from tui.local.api.paging import page
from tui.local.engine.builds import BuildStore, InvalidInputException
from tui.model.errors import InvalidNextTokenException, UnknownOperationException

Request = dict[str, Any]
Response = dict[str, Any]
T = TypeVar("T")

PAGE_SIZE = 100


def _page(items: Sequence[T], scope: str, token: str | None) -> tuple[list[T], str | None]:
    try:
        return page(items, scope, token, PAGE_SIZE)
    except InvalidNextTokenException:
        raise InvalidInputException(f"Invalid next token: {token}") from None


def _encode_after(scope: str, last: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": scope, "a": last}).encode()).decode()


def _page_after(ids: list[str], scope: str, token: str | None) -> tuple[list[str], str | None]:
    """A page of build ids continuing after the last id of the previous page.

    Builds are never deleted, so the id a token names is always found again, and builds
    started between two calls cannot shift a page the way an offset would.
    """
    start = 0
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            if not isinstance(data, dict) or data.get("s") != scope:
                raise ValueError
            start = ids.index(data["a"]) + 1
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
            raise InvalidInputException(f"Invalid next token: {token}") from None
    chunk = ids[start : start + PAGE_SIZE]
    more = start + len(chunk) < len(ids)
    return chunk, (_encode_after(scope, chunk[-1]) if more else None)


class CodeBuildService:
    validation_error_code = "InvalidInputException"
    target_prefix = "CodeBuild_20161006"
    service_name = "codebuild"

    def __init__(self, builds: BuildStore) -> None:
        self.builds = builds

    # Projects ---------------------------------------------------------------------------
    def create_project(self, request: Request) -> Response:
        return {"project": self.builds.create_project(request)}

    def update_project(self, request: Request) -> Response:
        return {"project": self.builds.update_project(request)}

    def batch_get_projects(self, request: Request) -> Response:
        projects, missing = self.builds.batch_get_projects(request["names"])
        return {"projects": projects, "projectsNotFound": missing}

    def list_projects(self, request: Request) -> Response:
        sort_by, sort_order = request.get("sortBy"), request.get("sortOrder")
        names = self.builds.list_projects(sort_by, sort_order)
        chunk, token = _page(names, f"projects:{sort_by}:{sort_order}", request.get("nextToken"))
        response: Response = {"projects": chunk}
        if token:
            response["nextToken"] = token
        return response

    def delete_project(self, request: Request) -> Response:
        self.builds.delete_project(request["name"])
        return {}

    # Builds -----------------------------------------------------------------------------
    def batch_get_builds(self, request: Request) -> Response:
        builds, missing = self.builds.batch_get_builds(request["ids"])
        return {"builds": builds, "buildsNotFound": missing}

    def list_builds_for_project(self, request: Request) -> Response:
        project, sort_order = request["projectName"], request.get("sortOrder")
        ids = self.builds.list_builds_for_project(project, sort_order)
        chunk, token = _page_after(ids, f"builds:{project}:{sort_order}", request.get("nextToken"))
        response: Response = {"ids": chunk}
        if token:
            response["nextToken"] = token
        return response

    def list_builds(self, request: Request) -> Response:
        sort_order = request.get("sortOrder")
        ids = self.builds.list_builds(sort_order)
        chunk, token = _page_after(ids, f"builds::{sort_order}", request.get("nextToken"))
        response: Response = {"ids": chunk}
        if token:
            response["nextToken"] = token
        return response

    def start_build(self, request: Request) -> Response:
        raise UnknownOperationException(
            "StartBuild is not supported by the local endpoint: builds run only as CodeBuild "
            "actions of a pipeline. Start a pipeline execution instead."
        )

    def stop_build(self, request: Request) -> Response:
        raise UnknownOperationException(
            "StopBuild is not supported by the local endpoint: builds run only as CodeBuild "
            "actions of a pipeline. Stop the pipeline execution instead."
        )
