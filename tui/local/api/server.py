"""The aiohttp application: one port for every service.

Requests carrying `X-Amz-Target: <Prefix>.<Operation>` go to the JSON service registered for
that prefix; everything else is S3 (path-style). Every failure leaves through one funnel that
turns it into an AWS-shaped error: never a 500 with a traceback.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from typing import Any

from aiohttp import web

from tui.local.backend import Backend
from tui.model.errors import AwsError, SerializationException, UnknownOperationException

log = logging.getLogger(__name__)

BACKEND_KEY = web.AppKey("backend", Backend)

_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def operation_method(operation: str) -> str:
    """`CreatePipeline` -> `create_pipeline`, `ListTagsForResource` -> `list_tags_for_resource`."""
    return _SNAKE.sub("_", operation).lower()


def _json_content_type(request: web.Request) -> str:
    content_type = request.headers.get("Content-Type", "")
    return (
        content_type
        if content_type.startswith("application/x-amz-json")
        else "application/x-amz-json-1.1"
    )


def json_error(error: AwsError, request_id: str, content_type: str) -> web.Response:
    body = {"__type": error.code, "message": error.message}
    return web.Response(
        status=error.status,
        body=json.dumps(body).encode(),
        headers={"x-amzn-RequestId": request_id, "Content-Type": content_type},
    )


async def handle_json(request: web.Request, target: str) -> web.Response:
    request_id = str(uuid.uuid4())
    content_type = _json_content_type(request)
    backend = request.app[BACKEND_KEY]
    prefix, _, operation = target.rpartition(".")
    service = backend.json_services.get(prefix)
    try:
        if service is None or not operation:
            raise UnknownOperationException(
                f"The local endpoint does not serve the target '{target}'."
            )
        method = getattr(service, operation_method(operation), None)
        if method is None:
            raise UnknownOperationException(
                f"Operation {operation} of {prefix} is not implemented by the local endpoint."
            )
        raw = await request.read()
        try:
            params = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise SerializationException(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(params, dict):
            raise SerializationException("The request body must be a JSON object.")
        result = method(params)
        if inspect.isawaitable(result):
            result = await result
        payload: dict[str, Any] = result if result is not None else {}
    except AwsError as error:
        return json_error(error, request_id, content_type)
    except Exception:
        log.exception("unhandled error in %s", target)
        internal = AwsError(
            "The local endpoint failed to process the request; see its log.",
            code="InternalFailure",
            status=500,
        )
        return json_error(internal, request_id, content_type)
    return web.Response(
        body=json.dumps(payload).encode(),
        headers={"x-amzn-RequestId": request_id, "Content-Type": content_type},
    )


async def dispatch(request: web.Request) -> web.StreamResponse:
    target = request.headers.get("X-Amz-Target")
    if target is not None:
        return await handle_json(request, target)
    backend = request.app[BACKEND_KEY]
    s3 = getattr(backend, "s3_api", None)
    if s3 is None:
        unknown = UnknownOperationException(
            "This request names no X-Amz-Target and S3 is not served here."
        )
        return json_error(unknown, str(uuid.uuid4()), "application/x-amz-json-1.1")
    response: web.StreamResponse = await s3.handle(request)
    return response


def build_app(backend: Backend) -> web.Application:
    app = web.Application(client_max_size=5 * 1024**3)
    app[BACKEND_KEY] = backend
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
