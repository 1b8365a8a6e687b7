"""Test helpers for the endpoint's call counts and injected faults (`tui.local.api.faults`).

They speak HTTP to `/_local/calls` and `/_local/faults`, so they work alike for the in-thread
`Endpoint` fixture and a `ServerProcess`: anything with a `url`.

    reset_calls(endpoint)
    ... drive the app ...
    assert mutating(calls(endpoint)) == {}

    with injected(endpoint, rules=[{"match": "codepipeline.GetPipelineState", "throttle": 50}],
                  delivery={"drop": 10, "duplicate": 10, "reorder": 10}, seed=7):
        ...
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol


class HasUrl(Protocol):
    url: str


class ControlError(AssertionError):
    """A `/_local/` route answered an error: `status`, `code` (`__type`) and `message`."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.code = str(body.get("__type", ""))
        self.message = str(body.get("message", ""))
        super().__init__(f"{status} {self.code}: {self.message}")


def control(endpoint: HasUrl, path: str, method: str = "GET", body: Any = None) -> dict[str, Any]:
    """Call a `/_local/<path>` route; returns its JSON answer, raises ControlError on a 4xx."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{endpoint.url}/_local/{path.lstrip('/')}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as error:
        raise ControlError(error.code, json.loads(error.read() or b"{}")) from None


# Call counts -----------------------------------------------------------------------------


def calls(endpoint: HasUrl) -> dict[str, int]:
    """Requests the endpoint received, by `<service>.<Operation>` (S3: `s3.<METHOD>`)."""
    counted: dict[str, int] = control(endpoint, "calls")["calls"]
    return counted


def reset_calls(endpoint: HasUrl) -> dict[str, int]:
    """Zero the counts; returns those before."""
    counted: dict[str, int] = control(endpoint, "calls", "DELETE")["calls"]
    return counted


# Operations that read only (the rest of what the endpoint serves may change something).
_READ_PREFIXES = ("Get", "List", "Describe", "BatchGet", "Receive", "Test", "Filter", "Poll")
_READ_S3 = ("s3.GET", "s3.HEAD")


def mutating(counted: Mapping[str, int]) -> dict[str, int]:
    """The counted calls that can change state (everything that is not a read).

    SQS ReceiveMessage, ChangeMessageVisibility and DeleteMessage change only the caller's
    own queue view; they are listed unless filtered by the caller.
    """
    return {
        label: count
        for label, count in counted.items()
        if label not in _READ_S3 and not label.split(".", 1)[-1].startswith(_READ_PREFIXES)
    }


# Faults ----------------------------------------------------------------------------------


def set_faults(
    endpoint: HasUrl,
    rules: list[dict[str, Any]] | None = None,
    delivery: dict[str, float] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Replace the endpoint's faults; returns the active state (`faults()`)."""
    body: dict[str, Any] = {"seed": seed, "rules": rules or []}
    if delivery is not None:
        body["delivery"] = delivery
    return control(endpoint, "faults", "POST", body)


def faults(endpoint: HasUrl) -> dict[str, Any]:
    """The active rules with their hit counts, and the delivery faults with theirs."""
    return control(endpoint, "faults")


def clear_faults(endpoint: HasUrl) -> dict[str, Any]:
    """Clear every fault (held event deliveries are written); returns the state before."""
    return control(endpoint, "faults", "DELETE")


@contextmanager
def injected(
    endpoint: HasUrl,
    rules: list[dict[str, Any]] | None = None,
    delivery: dict[str, float] | None = None,
    seed: int = 0,
) -> Iterator[dict[str, Any]]:
    """Faults in force for the block; cleared after it (also on failure). Yields the state
    the endpoint answered when they were set."""
    state = set_faults(endpoint, rules, delivery, seed)
    try:
        yield state
    finally:
        clear_faults(endpoint)
