"""Bad input never gets past the wire layer: 4xx with an AWS error, never a 500, no state change.

A hypothesis strategy built from botocore's shapes draws, for one operation, a request that
is valid except for exactly one broken constraint (a missing required member, a string too
long or too short, a pattern or enum violation, a number out of range, a list or map of the
wrong size, a value of the wrong JSON type). It is sent as a raw HTTP POST (botocore would
refuse some of these client-side) and the answer must be a 4xx whose `__type` is one of the
operation's modelled errors or ValidationException/SerializationException (and in fact the
one the broken constraint calls for, naming its path), with a message, in good time.

Every operation of every JSON service the assembly registers with a `service_name` is
covered. `STATE_DIGESTS` is the hook for the "no state change" check: a function of the
Backend (run on the server's loop) whose value must be the same before and after each bad
request. The default digests the whole SQLite database; a service with state elsewhere plugs
its own in under its target prefix.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.endpoint import Endpoint
from tui.local.api import shapes
from tui.local.assembly import open_backend
from tui.local.backend import Backend
from tui.local.clock import ManualClock
from tui.model.errors import AwsError

GENERIC_ERRORS = frozenset({"ValidationException", "SerializationException"})
RESPONSE_BUDGET_SECONDS = 5.0
# Strings and lists longer than this are not built (their limits are checked by unit tests).
LARGEST_BUILT = 20_000
MAX_DEPTH = 8

StateDigest = Callable[[Backend], Hashable]


def database_digest(backend: Backend) -> Hashable:
    """Every row of every table: the state the endpoint persists."""
    dump = hashlib.sha256()
    for line in backend.db.iterdump():
        dump.update(line.encode())
    return dump.hexdigest()


# Target prefix -> digest of the state requests to that service may change.
STATE_DIGESTS: dict[str, StateDigest] = {}


def state_digest(prefix: str) -> StateDigest:
    return STATE_DIGESTS.get(prefix, database_digest)


# --------------------------------------------------------------------------------------------
# Valid values from shapes


def _length_bounds(shape: Shape) -> tuple[int, int]:
    """The model's length limits (no maximum: unbounded)."""
    low = int(shape.metadata.get("min", 0) or 0)
    high = shape.metadata.get("max")
    return low, int(high) if high is not None else 2**31 - 1


_TEXT = st.characters(min_codepoint=0x20, max_codepoint=0xD7FF)


def valid_string(shape: Shape) -> st.SearchStrategy[str]:
    enum = getattr(shape, "enum", None)
    if enum:
        return st.sampled_from(list(enum))
    low, high = _length_bounds(shape)
    pattern = shape.metadata.get("pattern")
    compiled = shapes.compile_model_pattern(pattern) if pattern else None
    if compiled is None:
        return st.text(_TEXT, min_size=low, max_size=min(high, low + 20))
    return st.from_regex(compiled, fullmatch=True).filter(
        lambda value: low <= shapes._utf16_length(value) <= high
    )


def valid_value(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value the model accepts: required members only, lists and maps at their minimum size."""
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document") or depth > MAX_DEPTH:
            return st.just({})
        return st.fixed_dictionaries(
            {name: valid_value(shape.members[name], depth + 1) for name in shape.required_members}
        )
    if kind == "list":
        size = int(shape.metadata.get("min", 0) or 0)
        return st.lists(valid_value(shape.member, depth + 1), min_size=size, max_size=size)
    if kind == "map":
        size = int(shape.metadata.get("min", 0) or 0)
        return st.dictionaries(
            valid_string(shape.key),
            valid_value(shape.value, depth + 1),
            min_size=size,
            max_size=size,
        )
    if kind == "string":
        return valid_string(shape)
    if kind == "blob":
        low, high = _length_bounds(shape)
        return st.binary(min_size=low, max_size=min(high, low + 20)).map(
            lambda data: base64.b64encode(data).decode()
        )
    if kind in ("integer", "long"):
        low = shape.metadata.get("min", -(2**31))
        high = shape.metadata.get("max", 2**31 - 1)
        return st.integers(min_value=int(low), max_value=int(high))
    if kind in ("double", "float"):
        return st.floats(
            min_value=shape.metadata.get("min"),
            max_value=shape.metadata.get("max"),
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.floats(min_value=1e9, max_value=2e9)
    return st.just({})


# --------------------------------------------------------------------------------------------
# One broken constraint


@dataclass
class BadRequest:
    body: dict[str, Any]
    expected: str  # the __type the broken constraint calls for
    fragment: str  # text the message must contain
    description: str


@dataclass
class Site:
    """A member of a structure present in the request: where one constraint can be broken."""

    container: list[str | int]  # keys from the request body to the structure
    name: str
    shape: Shape
    aws_path: str
    required: bool
    present: bool
    kinds: list[str] = field(default_factory=list)


_WRONG_TYPE: dict[str, Any] = {
    "structure": "not a structure",
    "map": ["not", "a", "map"],
    "list": {"not": "a list"},
    "string": 12345,
    "blob": 12345,
    "boolean": "true",
    "integer": "12",
    "long": "12",
    "double": [1.5],
    "float": [1.5],
    "timestamp": [1],
}
_PATTERN_PROBES = [" ", "!", "#", "a b", "\u00e9", "/", "%", "*", "~", "\t", "-", "..", "0", "A"]


def _string_kinds(shape: Shape) -> list[str]:
    kinds = []
    low = int(shape.metadata.get("min", 0) or 0)
    high = shape.metadata.get("max")
    if high is not None and high < LARGEST_BUILT:
        kinds.append("too_long")
    if low >= 1:
        kinds.append("too_short")
    if getattr(shape, "enum", None):
        kinds.append("enum")
    elif shape.metadata.get("pattern") and _pattern_probe(shape) is not None:
        kinds.append("pattern")
    return kinds


def _pattern_probe(shape: Shape) -> str | None:
    """A string of allowed length the pattern rejects, if an easy one exists."""
    compiled = shapes.compile_model_pattern(shape.metadata["pattern"])
    if compiled is None:
        return None
    low, high = _length_bounds(shape)
    for probe in _PATTERN_PROBES:
        padded = probe * max(1, -(-low // len(probe)))
        if low <= len(padded) <= high and compiled.fullmatch(padded) is None:
            return padded
    return None


def _kinds(site: Site) -> list[str]:
    shape = site.shape
    kinds = []
    if site.required and site.present:
        kinds.append("missing")
    if not shape.metadata.get("document"):
        kinds.append("wrong_type")
    kind = shape.type_name
    if kind == "string":
        kinds += _string_kinds(shape)
    elif kind in ("integer", "long"):
        limit = 2**31 - 1 if kind == "integer" else 2**63 - 1
        if "max" in shape.metadata and shape.metadata["max"] < limit:
            kinds.append("too_big")
        if "min" in shape.metadata and shape.metadata["min"] > -limit:
            kinds.append("too_small")
    elif kind in ("list", "map"):
        if shape.metadata.get("max") is not None and shape.metadata["max"] < 200:
            kinds.append("too_many")
        if int(shape.metadata.get("min", 0) or 0) >= 1:
            kinds.append("too_few")
    return kinds


def _sites(
    shape: Shape, value: Any, keys: list[str | int], aws_path: str, depth: int
) -> Iterator[Site]:
    if shape.type_name != "structure" or shape.metadata.get("document") or depth > MAX_DEPTH:
        return
    required = set(shape.required_members)
    for name, member in shape.members.items():
        path = f"{aws_path}.{name}" if aws_path else name
        present = name in value
        site = Site(keys, name, member, path, name in required, present)
        site.kinds = _kinds(site)
        if site.kinds:
            yield site
        if not present:
            continue
        if member.type_name == "structure":
            yield from _sites(member, value[name], [*keys, name], path, depth + 1)
        elif member.type_name == "list" and value[name] and member.member.type_name == "structure":
            yield from _sites(
                member.member, value[name][0], [*keys, name, 0], f"{path}.1.member", depth + 1
            )


def _violation(path: str, constraint: str) -> str:
    return f"at '{path}' failed to satisfy constraint: {constraint}"


def _break(draw: st.DrawFn, site: Site, body: dict[str, Any]) -> BadRequest:
    container: Any = body
    for key in site.container:
        container = container[key]
    kind = draw(st.sampled_from(site.kinds))
    shape, path, meta = site.shape, site.aws_path, site.shape.metadata
    described = f"{kind} at {path}"
    if kind == "missing":
        del container[site.name]
        return BadRequest(
            body,
            "ValidationException",
            f"Value null {_violation(path, 'Member must not be null')}",
            described,
        )
    if kind == "wrong_type":
        container[site.name] = _WRONG_TYPE[shape.type_name]
        return BadRequest(body, "SerializationException", f"at '{path}'", described)
    if kind == "too_long":
        container[site.name] = "a" * (meta["max"] + 1)
        constraint = f"Member must have length less than or equal to {meta['max']}"
    elif kind == "too_short":
        container[site.name] = "a" * (meta["min"] - 1)
        constraint = f"Member must have length greater than or equal to {meta['min']}"
    elif kind == "enum":
        container[site.name] = "NOT_IN_THE_ENUM"
        constraint = "Member must satisfy enum value set: ["
    elif kind == "pattern":
        container[site.name] = _pattern_probe(shape)
        constraint = f"Member must satisfy regular expression pattern: {meta['pattern']}"
    elif kind == "too_big":
        container[site.name] = meta["max"] + 1
        constraint = f"Member must have value less than or equal to {meta['max']}"
    elif kind == "too_small":
        container[site.name] = meta["min"] - 1
        constraint = f"Member must have value greater than or equal to {meta['min']}"
    elif kind == "too_many":
        count = meta["max"] + 1
        if shape.type_name == "list":
            item = draw(valid_value(shape.member))
            container[site.name] = [copy.deepcopy(item) for _ in range(count)]
        else:
            item = draw(valid_value(shape.value))
            keys = draw(
                st.lists(valid_string(shape.key), min_size=count, max_size=count, unique=True)
            )
            container[site.name] = {key: copy.deepcopy(item) for key in keys}
        constraint = f"Member must have length less than or equal to {meta['max']}"
    else:  # too_few
        container[site.name] = [] if shape.type_name == "list" else {}
        constraint = f"Member must have length greater than or equal to {meta['min']}"
    return BadRequest(body, "ValidationException", _violation(path, constraint), described)


@st.composite
def bad_requests(draw: st.DrawFn, operation: OperationModel) -> BadRequest:
    """A request for `operation` that breaks exactly one constraint of its input shape."""
    shape = operation.input_shape
    body = draw(valid_value(shape)) if shape is not None else {}
    sites = list(_sites(shape, body, [], "", 0)) if shape is not None else []
    if not sites:
        return BadRequest({"not": "sent"}, "", "", "no constraint to break")
    site = draw(st.sampled_from(sites))
    return _break(draw, site, copy.deepcopy(body))


# --------------------------------------------------------------------------------------------
# Sending and checking


def post(url: str, target: str, body: bytes) -> tuple[int, dict[str, Any], float]:
    request = urllib.request.Request(
        url,
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw), time.monotonic() - started


def assert_rejected(
    endpoint: Endpoint, prefix: str, operation: OperationModel, bad: BadRequest
) -> None:
    if not bad.expected:
        return
    digest = state_digest(prefix)
    before = endpoint.call(lambda: digest(endpoint.backend))
    status, answer, elapsed = post(
        endpoint.url, f"{prefix}.{operation.name}", json.dumps(bad.body).encode()
    )
    context = f"{operation.name}: {bad.description}: {answer}"
    assert status != 500, context
    assert 400 <= status < 500, context
    modelled = {error.name for error in operation.error_shapes}
    service = endpoint.backend.json_services[prefix]
    own_code = getattr(service, "validation_error_code", None)
    allowed = modelled | GENERIC_ERRORS | ({own_code} if own_code else set())
    assert answer.get("__type") in allowed, context
    assert answer.get("message"), context
    assert elapsed < RESPONSE_BUDGET_SECONDS, context
    expected = bad.expected
    # A service may answer model violations under its own code (Logs, CodeBuild).
    if expected == "ValidationException" and "ValidationException" not in modelled:
        expected = own_code or expected
    assert answer["__type"] == expected, context
    assert bad.fragment in answer["message"], context
    assert endpoint.call(lambda: digest(endpoint.backend)) == before, f"state changed: {context}"


# --------------------------------------------------------------------------------------------
# Every operation of every registered JSON service with a model


def _registered_services() -> list[tuple[str, str]]:
    async def probe() -> list[tuple[str, str]]:
        with tempfile.TemporaryDirectory() as scratch:
            backend = await open_backend(Path(scratch), ManualClock())
            try:
                return sorted(
                    (prefix, service.service_name)
                    for prefix, service in backend.json_services.items()
                    if getattr(service, "service_name", None)
                )
            finally:
                await backend.close()

    return asyncio.run(probe())


REGISTERED = [
    pytest.param(prefix, name, operation, id=f"{name}.{operation}")
    for prefix, name in _registered_services()
    for operation in sorted(shapes.operation_names(name))
]

SETTINGS = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


@pytest.fixture(scope="module")
def shared_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """One endpoint for every operation: rejected requests change nothing (each test checks)."""
    ep = Endpoint(tmp_path_factory.mktemp("bad-input")).start()
    try:
        yield ep
    finally:
        ep.stop()


@pytest.mark.parametrize(("prefix", "service_name", "operation_name"), REGISTERED)
def test_registered_operations_reject_bad_input(
    shared_endpoint: Endpoint, prefix: str, service_name: str, operation_name: str
) -> None:
    operation = shapes.service_model(service_name).operation_model(operation_name)
    # CodePipeline is the engine's own surface: it gets the most examples per operation.
    examples = 6 if service_name == "codepipeline" else 3

    @settings(SETTINGS, max_examples=examples)
    @given(bad=bad_requests(operation))
    def run(bad: BadRequest) -> None:
        assert_rejected(shared_endpoint, prefix, operation, bad)

    run()


# --------------------------------------------------------------------------------------------
# The wire layer on its own: a small real service, so the proof holds whatever is registered


RECORDING_PREFIX = "RecordingCodePipeline_20150709"
RECORDED_OPERATIONS = [
    "CreatePipeline",
    "GetPipelineState",
    "ListPipelines",
    "PutApprovalResult",
    "StartPipelineExecution",
]


class RecordingPipelines:
    """Declares CodePipeline's model under its own prefix and records every call it gets."""

    target_prefix = RECORDING_PREFIX
    service_name = "codepipeline"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def create_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("CreatePipeline")
        return {"pipeline": params["pipeline"]}

    def get_pipeline_state(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("GetPipelineState")
        return {"pipelineName": params["name"], "stageStates": []}

    def list_pipelines(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("ListPipelines")
        return {"pipelines": []}

    def put_approval_result(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("PutApprovalResult")
        return {"approvedAt": 1_767_225_600.0}

    def start_pipeline_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("StartPipelineExecution")
        return {"pipelineExecutionId": "8b4e2a8c-9a4c-4a25-9e8c-0c6a3b1f2d3e"}


@pytest.fixture
def recorder(endpoint: Endpoint) -> RecordingPipelines:
    service = RecordingPipelines()
    endpoint.call(lambda: endpoint.backend.add_service(service))
    return service


@pytest.mark.parametrize("operation_name", RECORDED_OPERATIONS)
def test_validation_rejects_before_the_service_runs(
    endpoint: Endpoint, recorder: RecordingPipelines, operation_name: str
) -> None:
    operation = shapes.service_model("codepipeline").operation_model(operation_name)
    # Recorder state is part of the digest: a call that got through would change it.
    STATE_DIGESTS[RECORDING_PREFIX] = lambda backend: (
        database_digest(backend),
        tuple(recorder.calls),
    )
    try:

        @settings(SETTINGS, max_examples=15)
        @given(bad=bad_requests(operation))
        def run(bad: BadRequest) -> None:
            assert_rejected(endpoint, RECORDING_PREFIX, operation, bad)

        run()
    finally:
        del STATE_DIGESTS[RECORDING_PREFIX]
    assert recorder.calls == []


@pytest.mark.parametrize("operation_name", RECORDED_OPERATIONS)
def test_valid_requests_do_reach_the_service(
    endpoint: Endpoint, recorder: RecordingPipelines, operation_name: str
) -> None:
    """The control for the test above: the same strategy's valid base requests get through."""
    operation = shapes.service_model("codepipeline").operation_model(operation_name)

    @settings(SETTINGS, max_examples=5)
    @given(body=valid_value(operation.input_shape))
    def run(body: dict[str, Any]) -> None:
        before = len(recorder.calls)
        status, answer, _ = post(
            endpoint.url, f"{RECORDING_PREFIX}.{operation_name}", json.dumps(body).encode()
        )
        assert status == 200, answer
        assert recorder.calls[before:] == [operation_name]

    run()


@pytest.mark.parametrize("operation_name", RECORDED_OPERATIONS)
def test_the_strategy_breaks_what_it_says(operation_name: str) -> None:
    """Each drawn request fails local validation with the error and path it names."""
    operation = shapes.service_model("codepipeline").operation_model(operation_name)
    validator = shapes.operation_validator("codepipeline", operation_name)
    assert validator is not None

    @settings(SETTINGS, max_examples=25)
    @given(bad=bad_requests(operation))
    def run(bad: BadRequest) -> None:
        with pytest.raises(AwsError) as caught:
            validator.validate(bad.body)
        assert caught.value.code == bad.expected, bad.description
        assert bad.fragment in caught.value.message, bad.description

    run()
