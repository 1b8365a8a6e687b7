"""The aiohttp application: one port for every service.

Routing, in order:
1. `/_local/...`: the private control routes (`tui.local.api.control`).
2. `X-Amz-Target: <Prefix>.<Operation>`: the JSON service registered under that prefix
   (`Backend.add_service`). The operation must be PascalCase; when the service declares
   `service_name` (botocore's name) it must be an operation of that model, and the request is
   validated against the operation's input shape (`tui.local.api.shapes`) before the service
   method (`operation_method(Operation)`, snake_case, called with the request dict, returning
   the response dict or a coroutine of it) runs. A modelled operation the service has no
   method for is an `UnknownOperationException` saying it is not implemented, after
   validation.
3. No target, RPCv2-CBOR shape (`POST /service/<Prefix>/operation/<Op>`, `application/cbor`):
   a CBOR-encoded error saying the endpoint speaks the JSON protocol.
4. No target: the SigV4 credential scope names the service. `s3`, or no SigV4 scope at all
   (anonymous or presigned-v2 requests), goes to the S3 handler `backend.s3_api.handle(request)`
   (S3's XML `NotImplemented` when none is registered); any other service named there without
   a target is a clear `UnknownOperationException`.

Every AWS request is counted in `backend.calls` (`<service>.<Operation>`; S3 by method) and
may meet an injected fault (`backend.faults`, `tui.local.api.faults`: a delay, a throttling or
server error, or a connection closed without an answer) before it is served.

Every failure leaves through one funnel that turns it into an AWS-shaped error. Client input
never causes a 500: an exception other than `AwsError` is a bug in a service, logged with its
traceback and answered `InternalFailure` (500). A service may add headers to its errors with
an optional `error_headers(error) -> Mapping[str, str]` method (SQS's awsQueryCompatible
header), or by setting `headers` on the error. When the server shuts down it calls each
service's optional `shutdown()` (sync or async) before it waits for the requests in flight, so
a service can end what it holds open (SQS long polls) instead of delaying the shutdown.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tui.local.api import faults, protocol, shapes
from tui.local.api.caller import access_key_of, current_access_key, current_host
from tui.local.api.control import control_routes
from tui.local.backend import Backend
from tui.model.errors import AwsError, UnknownOperationException, ValidationException

log = logging.getLogger(__name__)

BACKEND_KEY = web.AppKey("backend", Backend)

_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_S3_SCOPES = frozenset({"s3"})


def operation_method(operation: str) -> str:
    """`CreatePipeline` -> `create_pipeline`, `ListTagsForResource` -> `list_tags_for_resource`."""
    return _SNAKE.sub("_", operation).lower()


def _internal_failure() -> AwsError:
    return AwsError(
        "The local endpoint failed to process the request; see its log.",
        code="InternalFailure",
        status=500,
    )


def _default_content_type(service_name: str | None) -> str:
    if service_name is None:
        return protocol.JSON_1_1
    return f"application/x-amz-json-{shapes.json_version(service_name)}"


def _service_error_headers(service: Any, error: AwsError) -> Mapping[str, str] | None:
    hook = getattr(service, "error_headers", None)
    if hook is None:
        return None
    try:
        headers: Mapping[str, str] = hook(error)
    except Exception:
        log.exception("error_headers of %s failed for %s", type(service).__name__, error.code)
        return None
    return headers


def _resolve_operation(
    service: Any, prefix: str, operation: str, target: str
) -> tuple[Any, shapes.OperationValidator | None]:
    """The service method (None when not implemented) and the validator for the operation."""
    if service is None:
        raise UnknownOperationException(f"The local endpoint does not serve the target '{target}'.")
    service_name: str | None = getattr(service, "service_name", None)
    label = service_name or prefix
    if not protocol.is_operation_name(operation):
        raise UnknownOperationException(f"'{operation}' is not an operation of {label}.")
    validator = None
    if service_name is not None:
        validator = shapes.operation_validator(service_name, operation)
        if validator is None:
            raise UnknownOperationException(f"{operation} is not an operation of {label}.")
    method = getattr(service, operation_method(operation), None)
    if not callable(method):
        method = None
        if validator is None:
            raise UnknownOperationException(
                f"Operation {operation} of {label} is not implemented by the local endpoint."
            )
    return method, validator


async def _injected_fault(
    request: web.Request, backend: Backend, service: str, operation: str
) -> AwsError | web.Response | None:
    """Count the call and apply its injected fault after its delay: the error to answer, or
    a response that never reaches the client when the connection was closed without an answer
    (the call is not served)."""
    backend.calls[faults.operation_label(service, operation)] += 1
    if backend.faults is None:
        return None
    decision = backend.faults.decide(service, operation)
    await faults.apply_delay(decision)
    if decision.drop:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)
    return decision.error


async def handle_json(request: web.Request, target: str) -> web.Response:
    request_id = protocol.new_request_id()
    backend = request.app[BACKEND_KEY]
    prefix, operation = protocol.split_target(target)
    service = backend.json_services.get(prefix)
    content_type = protocol.response_content_type(
        request, _default_content_type(getattr(service, "service_name", None))
    )
    try:
        injected = await _injected_fault(
            request, backend, getattr(service, "service_name", None) or prefix, operation
        )
        if isinstance(injected, web.Response):
            return injected
        if injected is not None:
            raise injected
        method, validator = _resolve_operation(service, prefix, operation, target)
        params = protocol.parse_body(await request.read())
        if validator is not None:
            try:
                validator.validate(params)
            except ValidationException as error:
                # Where an operation's model lists no ValidationException, its service
                # reports violations under its own code (Logs: InvalidParameterException,
                # CodeBuild: InvalidInputException).
                own_code = getattr(service, "validation_error_code", None)
                service_name = getattr(service, "service_name", "")
                if own_code is None or "ValidationException" in shapes.modelled_errors(
                    service_name, operation
                ):
                    raise
                raise AwsError(error.message, code=own_code) from None
        if method is None:
            raise UnknownOperationException(
                f"Operation {operation} of {getattr(service, 'service_name', prefix)} is not "
                "implemented by the local endpoint."
            )
        current_access_key.set(access_key_of(request.headers.get("Authorization")))
        current_host.set(request.host)
        result = method(params)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            result = {}
        if not isinstance(result, Mapping):
            raise TypeError(f"{target} returned {type(result).__name__}, not a mapping")
        return protocol.json_response(result, request_id, content_type)
    except web.HTTPException:
        raise
    except AwsError as error:
        log.debug("%s -> %s: %s", target, error.code, error.message)
        return protocol.json_error_response(
            error, request_id, content_type, _service_error_headers(service, error)
        )
    except Exception:
        log.exception("unhandled error in %s (request %s)", target, request_id)
        return protocol.json_error_response(_internal_failure(), request_id, content_type, None)


def _missing_target(backend: Backend, scope: str) -> web.Response:
    served = sorted(
        name
        for name in (getattr(s, "service_name", None) for s in backend.json_services.values())
        if name
    )
    if scope in served:
        message = (
            f"Requests to {scope} must name their operation in the X-Amz-Target header "
            "(the AWS JSON protocol)."
        )
    else:
        offered = ", ".join([*served, "s3"])
        message = f"The local endpoint does not serve {scope}; it serves {offered}."
    return protocol.json_error_response(
        UnknownOperationException(message), protocol.new_request_id(), protocol.JSON_1_1
    )


async def _handle_s3(request: web.Request, backend: Backend) -> web.StreamResponse:
    injected = await _injected_fault(request, backend, "s3", request.method)
    if isinstance(injected, web.Response):
        return injected
    if injected is not None:
        return protocol.s3_error_response(injected, protocol.new_request_id(), request.path)
    s3 = getattr(backend, "s3_api", None)
    if s3 is None:
        unserved = AwsError("S3 is not served by this endpoint.", code="NotImplemented", status=501)
        return protocol.s3_error_response(unserved, protocol.new_request_id(), request.path)
    try:
        response: web.StreamResponse = await s3.handle(request)
        return response
    except web.HTTPException:
        raise
    except AwsError as error:
        return protocol.s3_error_response(error, protocol.new_request_id(), request.path)
    except Exception:
        request_id = protocol.new_request_id()
        log.exception(
            "unhandled error in S3 %s %s (request %s)", request.method, request.path, request_id
        )
        failure = AwsError(
            "The local endpoint failed to process the request; see its log.",
            code="InternalError",
            status=500,
        )
        return protocol.s3_error_response(failure, request_id, request.path)


async def dispatch(request: web.Request) -> web.StreamResponse:
    target = request.headers.get("X-Amz-Target")
    if target is not None:
        return await handle_json(request, target)
    cbor = protocol.cbor_operation(request)
    if cbor is not None:
        prefix, operation = cbor
        error = UnknownOperationException(
            f"{prefix}.{operation} was sent with the RPCv2-CBOR protocol; the local endpoint "
            "speaks the AWS JSON protocol (X-Amz-Target, application/x-amz-json-1.1). "
            "Configure the client to use the JSON protocol."
        )
        return protocol.cbor_error_response(error, protocol.new_request_id())
    backend = request.app[BACKEND_KEY]
    scope = protocol.credential_scope_service(request)
    if scope is not None and scope not in _S3_SCOPES:
        return _missing_target(backend, scope)
    return await _handle_s3(request, backend)


async def _compile_validators(app: web.Application) -> None:
    """Load the models and compile every operation's validator before the first request.

    Loading a botocore model takes tens of milliseconds: paid at startup, not by the first
    call (which would otherwise stall the event loop in the middle of serving).
    """
    for service in app[BACKEND_KEY].json_services.values():
        service_name = getattr(service, "service_name", None)
        if service_name is not None:
            for operation in shapes.operation_names(service_name):
                shapes.operation_validator(service_name, operation)


async def _shutdown_services(app: web.Application) -> None:
    for service in app[BACKEND_KEY].json_services.values():
        hook = getattr(service, "shutdown", None)
        if hook is None:
            continue
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("shutdown of %s failed", type(service).__name__)


def build_app(backend: Backend) -> web.Application:
    app = web.Application(client_max_size=5 * 1024**3)
    app[BACKEND_KEY] = backend
    app.on_startup.append(_compile_validators)
    app.on_shutdown.append(_shutdown_services)
    app.add_routes(control_routes(backend))
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
