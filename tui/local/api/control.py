"""Private control routes under `/_local/` (not AWS; for tests, scripts and `pipetop demo`).

No S3 bucket can be called `_local` (bucket names start with a letter or digit), so these
never shadow an S3 path. Every answer is JSON; errors use the same `{"__type", "message"}`
body as the AWS JSON protocols, with a 4xx status for bad input.

- `GET /_local/health` -> 200 `{"status": "ok", "version": "<pipetop version>"}`.
- `GET /_local/clock` -> 200 `{"now": <epoch seconds>, "manual": <bool>}`.
- `POST /_local/clock/advance` with `{"seconds": N}` (a finite number >= 0) -> moves the
  endpoint's `ManualClock` forward, firing every timer that falls due, and answers
  200 `{"now": <epoch seconds>}`. Only for an endpoint started with a manual clock
  (`pipetop local serve --manual-clock`); otherwise 400 `InvalidClockException`.
- `GET /_local/events?after=N&limit=M` -> 200 `{"events": [...], "last": <seq>}`: the engine's
  durable event log (every EventBridge event it emitted, in order) after sequence number N
  (default 0), at most M (1-10000, default 1000). `last` is the sequence number of the last
  event returned (N when none), to pass as the next `after`.
- `GET /_local/calls`, `DELETE /_local/calls`: the count of AWS requests by
  `<service>.<Operation>`; `GET|POST|DELETE /_local/faults`: injected faults (throttling,
  server errors, latency, dropped connections, dropped/duplicated/reordered event deliveries).
  Both are described in `tui.local.api.faults`; they exist for tests and demos only.
- Any other `/_local/...` path: 404 `UnknownOperationException`.
"""

from __future__ import annotations

import logging
import math
from importlib import metadata
from typing import Any

from aiohttp import web

from tui.local.api import protocol
from tui.local.api.faults import Faults
from tui.local.backend import Backend
from tui.local.clock import ManualClock
from tui.model.errors import (
    AwsError,
    UnknownOperationException,
    ValidationException,
)

log = logging.getLogger(__name__)

PREFIX = "/_local"
_CONTENT_TYPE = "application/json"


def pipetop_version() -> str:
    try:
        return metadata.version("pipetop")
    except metadata.PackageNotFoundError:
        return "unknown"


def _ok(payload: dict[str, Any]) -> web.Response:
    return protocol.json_response(payload, protocol.new_request_id(), _CONTENT_TYPE)


def _error(error: AwsError) -> web.Response:
    return protocol.json_error_response(error, protocol.new_request_id(), _CONTENT_TYPE)


async def _json_object(request: web.Request) -> dict[str, Any]:
    return protocol.parse_body(await request.read())


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationException(f"'{name}' must be a whole number, not '{raw}'.") from None
    if not low <= value <= high:
        raise ValidationException(f"'{name}' must be between {low} and {high}.")
    return value


def control_routes(backend: Backend) -> list[web.RouteDef]:
    """The `/_local/...` routes of one endpoint (registered before the AWS catch-all)."""

    async def health(request: web.Request) -> web.Response:
        return _ok({"status": "ok", "version": pipetop_version()})

    async def clock(request: web.Request) -> web.Response:
        return _ok({"now": backend.clock.now(), "manual": isinstance(backend.clock, ManualClock)})

    async def advance_clock(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            seconds = body.get("seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ValidationException("'seconds' must be a number of seconds.")
            if not math.isfinite(seconds) or seconds < 0:
                raise ValidationException("'seconds' must be a finite number >= 0.")
            manual = backend.clock
            if not isinstance(manual, ManualClock):
                raise AwsError(
                    "This endpoint runs on the real clock; only an endpoint started with "
                    "--manual-clock can be advanced.",
                    code="InvalidClockException",
                    status=400,
                )
        except AwsError as error:
            return _error(error)
        manual.advance(float(seconds))
        return _ok({"now": manual.now()})

    async def events(request: web.Request) -> web.Response:
        try:
            after = _int_param(request, "after", 0, 0, 2**62)
            limit = _int_param(request, "limit", 1000, 1, 10000)
        except AwsError as error:
            return _error(error)
        rows = backend.engine.state.events.read(after, limit) if backend.engine is not None else []
        return _ok({"events": [event for _, event in rows], "last": rows[-1][0] if rows else after})

    def describe_calls() -> dict[str, Any]:
        return {
            "calls": dict(sorted(backend.calls.items())),
            "total": sum(backend.calls.values()),
        }

    async def calls(request: web.Request) -> web.Response:
        return _ok(describe_calls())

    async def reset_calls(request: web.Request) -> web.Response:
        answer = describe_calls()
        backend.calls.clear()
        return _ok(answer)

    def active_faults() -> Faults:
        if backend.faults is None:
            backend.faults = Faults()
        return backend.faults

    def served_services() -> frozenset[str]:
        names = (getattr(s, "service_name", None) for s in backend.json_services.values())
        return frozenset({name for name in names if name} | {"s3"})

    async def faults(request: web.Request) -> web.Response:
        return _ok(active_faults().describe())

    async def set_faults(request: web.Request) -> web.Response:
        try:
            active_faults().configure(await _json_object(request), served_services())
        except AwsError as error:
            return _error(error)
        return _ok(active_faults().describe())

    async def clear_faults(request: web.Request) -> web.Response:
        active = active_faults()
        answer = active.describe()
        active.clear()
        return _ok(answer)

    async def unknown(request: web.Request) -> web.Response:
        return _error(
            UnknownOperationException(
                f"No local control route {request.method} {request.path}.", status=404
            )
        )

    return [
        web.get(f"{PREFIX}/health", health),
        web.get(f"{PREFIX}/clock", clock),
        web.post(f"{PREFIX}/clock/advance", advance_clock),
        web.get(f"{PREFIX}/events", events),
        web.get(f"{PREFIX}/calls", calls),
        web.delete(f"{PREFIX}/calls", reset_calls),
        web.get(f"{PREFIX}/faults", faults),
        web.post(f"{PREFIX}/faults", set_faults),
        web.delete(f"{PREFIX}/faults", clear_faults),
        web.route("*", PREFIX + "{tail:(/.*)?}", unknown),
    ]
