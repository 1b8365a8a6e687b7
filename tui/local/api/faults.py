"""Injected faults and call counts: the endpoint misbehaving on purpose, for tests and demos.

These are private control routes under `/_local/` (`tui.local.api.control`); the endpoint binds
loopback by default and nothing here is AWS. They exist so tests (and `pipetop demo`) can drive
what AWS does on a bad day: throttling, server errors, slow answers, a dropped connection, and
EventBridge's best-effort, at-least-once, unordered delivery.

Call counts: the endpoint counts every AWS request it receives, by `<service>.<Operation>`
(botocore's service name and the operation: `codepipeline.GetPipelineState`,
`sqs.ReceiveMessage`). S3 requests are counted by HTTP method (`s3.GET`, `s3.PUT`, ...) [I]:
the S3 operation is only known deep inside the S3 handler. A request is counted when it
arrives, whatever its answer (a throttled call is a call the client made); control routes are
not counted.

- `GET /_local/calls` -> `{"calls": {"sqs.ReceiveMessage": 12, ...}, "total": N}`.
- `DELETE /_local/calls` -> the counts so far (same body), then zero.

Faults:
- `POST /_local/faults` with `{"seed": 7, "rules": [...], "delivery": {...}}` replaces every
  active fault (rules and delivery faults; either may be omitted) and answers what
  `GET /_local/faults` answers.
- A rule: `{"match": "codepipeline.GetPipelineState" | "codepipeline" | "*", "throttle": %,
  "fail": %, "failStatus": 500 | 503, "unreachable": %, "deny": %, "latencyMs": ms,
  "times": N}`. Percentages are numbers 0-100 whose sum is at most 100: one roll per matching
  call picks throttle, fail, unreachable, deny or nothing. `latencyMs` (0-60000) delays every matching call's
  answer (real time, also with a manual clock: it is the client's wait that matters).
  `times` (optional) spends the rule after that many faulted calls (a delay alone is not a
  fault); a spent rule no longer matches.
  - throttle: the service's own throttling answer: SQS `RequestThrottled` (HTTP 400, with the
    awsQueryCompatible `x-amzn-query-error: RequestThrottled;Sender`), S3 `SlowDown` (503),
    every other JSON service `ThrottlingException` "Rate exceeded" (HTTP 400, CodePipeline's
    answer). botocore retries all of them as throttling.
  - fail: `InternalFailure` (500) or `ServiceUnavailable` (503) per `failStatus`; S3 gets
    `InternalError` (500) or `ServiceUnavailable` (503) in its XML body.
  - unreachable: the connection is closed without an answer (the client sees the connection
    dropped; botocore raises `ConnectionClosedError` once its retries are spent).
  - deny: the service's answer to a caller whose IAM policy lacks the operation's action; the
    call is not served and botocore does not retry it. CodePipeline, Logs, CodeBuild and
    EventBridge: `AccessDeniedException` (HTTP 400) "User: arn:aws:sts::<account>:assumed-role/
    PipetopLocal/denied is not authorized to perform: logs:GetLogEvents on resource:
    arn:aws:logs:<region>:<account>:* because no identity-based policy allows the
    logs:GetLogEvents action" (AWS's wording); SQS: the same message with the awsQueryCompatible
    `x-amzn-query-error: AccessDenied;Sender` (HTTP 403, botocore Code `AccessDenied`); S3:
    `AccessDenied` "Access Denied" (403) in its XML body.
- `delivery`: `{"drop": %, "duplicate": %, "reorder": %}` for each delivery of an event (the
  engine's or one sent with PutEvents) to an SQS target (`tui.local.engine.delivery_faults`).
- `seed` (an integer, default 0): rule i rolls its own `random.Random` seeded from
  `(seed, i)` and the delivery faults theirs from `seed`, so the same sequence of matching
  calls gets the same faults.
- `GET /_local/faults` -> `{"seed", "rules": [{...the rule, "hits": {"calls": matching
  calls, "throttled", "failed", "unreachable", "denied", "delayed"}, "spent": bool}], "delivery": {...,
  "counts": {"deliveries", "dropped", "duplicated", "reordered"}, "held": N} | null}`.
- `DELETE /_local/faults` -> clears every fault (held deliveries are written first) and
  answers the state just before (with its counts).
- A bad body: 400 `ValidationException` JSON saying what is wrong; nothing changes.

Decisions [I]:
- One rule per call: the most specific match (operation, then service, then `*`); among
  equal ones the first listed. Rules stack neither their percentages nor their latency.
- A denial's message names the IAM action as AWS does, so a client can tell which permission
  is missing. The action is `<service>:<Operation>`, except SQS's batch calls, which AWS
  authorises as their single counterparts (`sqs:DeleteMessage` for DeleteMessageBatch). The
  principal is a fixed role of the endpoint's account and the resource is `*` of the service in
  the endpoint's region and account: the fault is decided before the request is read, so the
  call's own resource (a log group, a pipeline) is not known. S3 answers AWS's terse "Access
  Denied" (what it says to other accounts and under bucket policies): its operation is not known
  here either, only the HTTP method.
- SQS's denial is HTTP 403 with code `AccessDenied`, as its query protocol always answered (the
  JSON protocol keeps the query codes and statuses through `x-amzn-query-error`); its message
  is the "is not authorized to perform" form newer answers use. Older and cross-account SQS
  answers say only "Access to the resource <url> is denied."; a client then falls back to
  knowing the action itself (`tui.aws.errors.IAM_ACTIONS` does).
- Dropping a queue mid-run needs nothing here: SQS DeleteQueue does it (events for a missing
  queue are dropped and logged by the bus, as AWS drops them).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.local.api import shapes
from tui.local.backend import DEFAULT_ACCOUNT, DEFAULT_REGION
from tui.local.engine.delivery_faults import DeliveryFaults
from tui.local.engine.eventbus import EventBus
from tui.local.engine.queues import OutgoingMessage
from tui.model.errors import AwsError, ThrottlingException, ValidationException

S3_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})
RULE_FIELDS = frozenset(
    {"match", "throttle", "fail", "failStatus", "unreachable", "deny", "latencyMs", "times"}
)
DELIVERY_FIELDS = frozenset({"drop", "duplicate", "reorder"})
MAX_LATENCY_MS = 60_000
MAX_RULES = 100

# What a rule does to one call.
PASS = "pass"
THROTTLE = "throttle"
FAIL = "fail"
UNREACHABLE = "unreachable"
DENY = "deny"

DENIED_ROLE = "PipetopLocal/denied"
# AWS authorises these calls as another action (DeleteMessageBatch as sqs:DeleteMessage).
IAM_ACTION_OF = {
    "sqs.DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs.ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs.SendMessageBatch": "sqs:SendMessage",
}


def operation_label(service: str, operation: str) -> str:
    """The name a call is counted and matched under: `codepipeline.GetPipelineState`."""
    return f"{service}.{operation}"


def throttling_error(service: str) -> AwsError:
    if service == "sqs":
        error = AwsError("Rate exceeded", code="com.amazonaws.sqs#RequestThrottled", status=400)
        error.headers = {"x-amzn-query-error": "RequestThrottled;Sender"}  # type: ignore[attr-defined]
        return error
    if service == "s3":
        return AwsError("Please reduce your request rate.", code="SlowDown", status=503)
    return ThrottlingException("Rate exceeded")


def failure_error(service: str, status: int) -> AwsError:
    if status == 503:
        return AwsError(
            "The service is unavailable. Please try again later.",
            code="ServiceUnavailable",
            status=503,
        )
    code = "InternalError" if service == "s3" else "InternalFailure"
    return AwsError(
        "The request processing has failed because of an unknown error.", code=code, status=500
    )


def iam_action(service: str, operation: str) -> str:
    """The IAM action AWS checks for a call: `logs:GetLogEvents`."""
    label = operation_label(service, operation)
    return IAM_ACTION_OF.get(label, f"{service}:{operation}")


def access_denied_error(service: str, operation: str, region: str, account: str) -> AwsError:
    if service == "s3":
        return AwsError("Access Denied", code="AccessDenied", status=403)
    action = iam_action(service, operation)
    message = (
        f"User: arn:aws:sts::{account}:assumed-role/{DENIED_ROLE} is not authorized to perform: "
        f"{action} on resource: arn:aws:{service}:{region}:{account}:* because no "
        f"identity-based policy allows the {action} action"
    )
    if service == "sqs":
        error = AwsError(message, code="com.amazon.coral.service#AccessDeniedException", status=403)
        error.headers = {"x-amzn-query-error": "AccessDenied;Sender"}  # type: ignore[attr-defined]
        return error
    return AwsError(message, code="AccessDeniedException", status=400)


@dataclass
class FaultRule:
    match: str
    throttle: float = 0.0
    fail: float = 0.0
    fail_status: int = 500
    unreachable: float = 0.0
    deny: float = 0.0
    latency_ms: int = 0
    times: int | None = None
    rng: random.Random = field(default_factory=random.Random)
    hits: Counter[str] = field(default_factory=Counter)

    @property
    def faulted(self) -> int:
        return self.hits[THROTTLE] + self.hits[FAIL] + self.hits[UNREACHABLE] + self.hits[DENY]

    @property
    def spent(self) -> bool:
        return self.times is not None and self.faulted >= self.times

    def specificity(self, label: str) -> int | None:
        """2 for the operation, 1 for its service, 0 for `*`; None when it does not match."""
        if self.spent:
            return None
        if self.match == label:
            return 2
        if self.match == label.split(".", 1)[0]:
            return 1
        if self.match == "*":
            return 0
        return None

    def roll(self) -> str:
        self.hits["calls"] += 1
        if self.latency_ms:
            self.hits["delayed"] += 1
        point = self.rng.random() * 100
        for outcome, percent in (
            (THROTTLE, self.throttle),
            (FAIL, self.fail),
            (UNREACHABLE, self.unreachable),
            (DENY, self.deny),
        ):
            if point < percent:
                self.hits[outcome] += 1
                return outcome
            point -= percent
        return PASS

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "match": self.match,
            "throttle": self.throttle,
            "fail": self.fail,
            "failStatus": self.fail_status,
            "unreachable": self.unreachable,
            "deny": self.deny,
            "latencyMs": self.latency_ms,
        }
        if self.times is not None:
            described["times"] = self.times
        described["hits"] = {
            "calls": self.hits["calls"],
            "throttled": self.hits[THROTTLE],
            "failed": self.hits[FAIL],
            "unreachable": self.hits[UNREACHABLE],
            "denied": self.hits[DENY],
            "delayed": self.hits["delayed"],
        }
        described["spent"] = self.spent
        return described


@dataclass
class Decision:
    """What to do with one call: wait `delay` seconds, then answer `error`, drop the
    connection (`drop`), or serve it."""

    delay: float = 0.0
    error: AwsError | None = None
    drop: bool = False


NO_FAULT = Decision()


# ---------------------------------------------------------------------------------------------
# Validation


def _percent(body: Mapping[str, Any], name: str, where: str) -> float:
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationException(f"{where}: '{name}' must be a percentage (a number 0-100).")
    if not 0 <= value <= 100:
        raise ValidationException(f"{where}: '{name}' must be between 0 and 100, not {value}.")
    return float(value)


def _whole(body: Mapping[str, Any], name: str, where: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationException(f"{where}: '{name}' must be a whole number.")
    if not low <= value <= high:
        raise ValidationException(f"{where}: '{name}' must be between {low} and {high}.")
    return value


def _check_match(match: Any, where: str, services: frozenset[str]) -> str:
    if not isinstance(match, str) or not match:
        raise ValidationException(
            f"{where}: 'match' must name an operation ('codepipeline.GetPipelineState'), "
            "a service ('sqs') or '*'."
        )
    if match == "*":
        return match
    service, _, operation = match.partition(".")
    if service not in services:
        raise ValidationException(
            f"{where}: '{service}' is not a service of this endpoint "
            f"(one of {', '.join(sorted(services))})."
        )
    if not operation:
        return match
    known = S3_METHODS if service == "s3" else shapes.operation_names(service)
    if operation not in known:
        what = (
            "an HTTP method S3 is counted by" if service == "s3" else f"an operation of {service}"
        )
        raise ValidationException(f"{where}: '{operation}' is not {what}.")
    return match


def parse_rule(body: Any, index: int, seed: int, services: frozenset[str]) -> FaultRule:
    where = f"rules[{index}]"
    if not isinstance(body, dict):
        raise ValidationException(f"{where} must be an object.")
    unknown = sorted(set(body) - RULE_FIELDS)
    if unknown:
        raise ValidationException(
            f"{where}: unknown field(s) {', '.join(unknown)}; a rule takes "
            f"{', '.join(sorted(RULE_FIELDS))}."
        )
    match = _check_match(body.get("match"), where, services)
    throttle = _percent(body, "throttle", where)
    fail = _percent(body, "fail", where)
    unreachable = _percent(body, "unreachable", where)
    deny = _percent(body, "deny", where)
    total = throttle + fail + unreachable + deny
    if total > 100:
        raise ValidationException(
            f"{where}: throttle + fail + unreachable + deny is {total:g}%; it must be at most 100%."
        )
    status = body.get("failStatus", 500)
    if status not in (500, 503) or isinstance(status, bool):
        raise ValidationException(f"{where}: 'failStatus' must be 500 or 503.")
    latency = _whole(body, "latencyMs", where, 0, MAX_LATENCY_MS) or 0
    times = _whole(body, "times", where, 1, 2**31)
    if not (total or latency):
        raise ValidationException(
            f"{where} does nothing: give it a throttle, fail, unreachable or deny percentage or "
            "a latencyMs."
        )
    return FaultRule(
        match,
        throttle,
        fail,
        int(status),
        unreachable,
        deny,
        latency,
        times,
        rng=random.Random(f"{seed}:{index}"),
    )


def parse_delivery(body: Any) -> dict[str, float] | None:
    if body is None:
        return None
    if not isinstance(body, dict):
        raise ValidationException("'delivery' must be an object like {\"drop\": 10}.")
    unknown = sorted(set(body) - DELIVERY_FIELDS)
    if unknown:
        raise ValidationException(
            f"delivery: unknown field(s) {', '.join(unknown)}; it takes drop, duplicate, reorder."
        )
    return {name: _percent(body, name, "delivery") for name in sorted(DELIVERY_FIELDS)}


# ---------------------------------------------------------------------------------------------
# The active faults of one endpoint


@dataclass
class Faults:
    """The rules in force and the delivery faults installed on the bus (if it has one)."""

    bus: EventBus | None = None
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    delivery: DeliveryFaults[OutgoingMessage] | None = None

    def decide(self, service: str, operation: str) -> Decision:
        """The fault for one call (NO_FAULT when no rule matches)."""
        if not self.rules:
            return NO_FAULT
        label = operation_label(service, operation)
        best: FaultRule | None = None
        best_rank = -1
        for rule in self.rules:
            rank = rule.specificity(label)
            if rank is not None and rank > best_rank:
                best, best_rank = rule, rank
        if best is None:
            return NO_FAULT
        outcome = best.roll()
        delay = best.latency_ms / 1000
        if outcome == THROTTLE:
            return Decision(delay, throttling_error(service))
        if outcome == FAIL:
            return Decision(delay, failure_error(service, best.fail_status))
        if outcome == UNREACHABLE:
            return Decision(delay, drop=True)
        if outcome == DENY:
            return Decision(
                delay, access_denied_error(service, operation, self.region, self.account)
            )
        return Decision(delay) if delay else NO_FAULT

    def configure(self, body: Any, services: frozenset[str]) -> None:
        """Replace every fault with those in `body`; raises ValidationException (and changes
        nothing) when the body is bad. `services`: the botocore names served, and `s3`."""
        if not isinstance(body, dict):
            raise ValidationException("The body must be a JSON object.")
        unknown = sorted(set(body) - {"seed", "rules", "delivery"})
        if unknown:
            raise ValidationException(
                f"Unknown field(s) {', '.join(unknown)}; the body takes seed, rules, delivery."
            )
        seed = body.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValidationException("'seed' must be an integer.")
        raw_rules = body.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ValidationException("'rules' must be a list of rule objects.")
        if len(raw_rules) > MAX_RULES:
            raise ValidationException(f"At most {MAX_RULES} rules.")
        rules = [parse_rule(rule, i, seed, services) for i, rule in enumerate(raw_rules)]
        delivery = parse_delivery(body.get("delivery"))
        if delivery is not None and self.bus is None:
            raise ValidationException("This endpoint has no event bus to inject faults in.")
        self.seed = seed
        self.rules = rules
        self._install_delivery(
            DeliveryFaults.from_percentages(delivery, seed) if delivery is not None else None
        )

    def clear(self) -> None:
        self.seed = 0
        self.rules = []
        self._install_delivery(None)

    def _install_delivery(self, delivery: DeliveryFaults[OutgoingMessage] | None) -> None:
        self.delivery = delivery
        if self.bus is not None:
            self.bus.set_delivery_faults(delivery)

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rules": [rule.describe() for rule in self.rules],
            "delivery": self.delivery.describe() if self.delivery is not None else None,
        }


async def apply_delay(decision: Decision) -> None:
    if decision.delay > 0:
        await asyncio.sleep(decision.delay)
