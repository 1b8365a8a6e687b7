"""`pipetop events setup` / `teardown`: the SQS queue and EventBridge rule the event feed reads.

    spec = EventsSpec(queue_name=default_name(), pipelines=("web-app",))
    setup = EventsSetup(aws, spec)
    plan = await setup.plan()            # reads only: what exists, what would be created
    result = await setup.apply(plan)     # creates what is missing; result.queue_url
    plan = await setup.plan_teardown()
    await setup.apply_teardown(plan)     # removes what setup created, nothing else

What setup makes, in this order (each step is skipped when what it would make is there):

1. the standard SQS queue `queue_name` (tagged `pipetop:created-by`, message retention one
   hour);
2. the EventBridge rule `rule_name` on the default bus: source `aws.codepipeline`, the three
   CodePipeline detail-types (pipeline, stage, action execution state changes), and with
   `pipelines` only those pipelines (`detail.pipeline`); enabled; tagged like the queue;
3. the queue policy statement (Sid `pipetop-rule-<rule>`) that lets `events.amazonaws.com`
   SendMessage to the queue only for this rule (`ArnEquals aws:SourceArn`), merged into the
   queue's policy beside any other statements. It comes before the target so the first
   event is not refused;
4. the rule's target `pipetop-queue`: the queue's ARN, the whole event as the message body
   (what `feed.py` parses).

Teardown removes the target, the rule if setup created it (its tag) and nothing else targets
it, and the queue if setup created it; from a queue setup did not create it removes only its
own policy statement. What is kept is listed with the reason.

Decisions recorded here:

- [I] The default name (queue and rule) is `pipetop-events-<user>-<host>`: SQS hands each
  message to one consumer, so two people (or one person on two machines) reading one queue
  would each see only part of the events. Characters SQS does not allow in a name become `-`;
  a name longer than 64 characters (the rule name limit; SQS allows 80) is cut and ends in 8
  hex digits of a hash of the whole name, so two long names do not collide.
- [I] What setup created is recognised by a tag (`pipetop:created-by = pipetop-events-setup`)
  on the queue (ListQueueTags) and the rule (ListTagsForResource), not by name alone: a queue
  or rule of the same name that someone made otherwise is used, never deleted. A rule of that
  name that setup did not create and whose pattern differs is refused rather than rewritten
  (`SetupRefused`): changing it could break whoever made it.
- [I] Retention is one hour: the queue is per user, so while pipetop is closed events pile
  up; older ones are of no use to the app, which reads every pipeline's state when it starts.
- A rule that exists with another pattern (another `--pipeline` list) or disabled is updated
  (PutRule replaces it; tags are sent only on creation). The target is updated when it points
  elsewhere or transforms the event.
- Only reads happen in `plan()`; `apply()` re-uses what `plan()` saw (names, ARNs, the policy)
  and is idempotent, so a plan made stale by someone else is corrected by running again.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from tui.aws.session import AwsContext

MANAGED_TAG_KEY = "pipetop:created-by"
MANAGED_TAG_VALUE = "pipetop-events-setup"
TARGET_ID = "pipetop-queue"
NAME_PREFIX = "pipetop-events"
MAX_NAME = 64
"""The rule name limit (SQS allows 80): the default name fits both."""
RETENTION_SECONDS = 3600
DETAIL_TYPES = (
    "CodePipeline Pipeline Execution State Change",
    "CodePipeline Stage Execution State Change",
    "CodePipeline Action Execution State Change",
)
EVENTS_PRINCIPAL = "events.amazonaws.com"

QUEUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,80}")
RULE_NAME_PATTERN = re.compile(r"[.A-Za-z0-9_-]{1,64}")
PIPELINE_NAME_PATTERN = re.compile(r"[A-Za-z0-9.@_-]{1,100}")


class SetupRefused(Exception):
    """Setup would change something it did not create; the message says what and why."""


def _sanitized(raw: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_-]", "-", raw)).strip("-")


def fit_name(raw: str, limit: int = MAX_NAME) -> str:
    """`raw` with SQS's allowed characters, at most `limit` long (see the module docstring)."""
    clean = _sanitized(raw) or NAME_PREFIX
    if len(clean) <= limit:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return clean[: limit - 9].rstrip("-_") + "-" + digest


def default_name(user: str | None = None, host: str | None = None) -> str:
    """`pipetop-events-<user>-<host>`, fitted to SQS's and EventBridge's name rules."""
    if user is None:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "user"
    if host is None:
        host = socket.gethostname().split(".")[0] or "host"
    return fit_name(f"{NAME_PREFIX}-{user}-{host}")


def check_queue_name(name: str) -> str:
    """A standard queue's name (ValueError: why not)."""
    if QUEUE_NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(
            f"an SQS queue name is 1-80 letters, digits, '-' or '_' (a FIFO queue cannot be "
            f"used): {name!r}"
        )
    return name


def check_rule_name(name: str) -> str:
    if RULE_NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(f"a rule name is 1-64 letters, digits, '.', '-' or '_': {name!r}")
    return name


def check_pipeline_name(name: str) -> str:
    if PIPELINE_NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(f"not a pipeline name: {name!r}")
    return name


@dataclass(frozen=True)
class EventsSpec:
    """What to set up: the names and which pipelines' events."""

    queue_name: str
    rule_name: str | None = None
    """Default: the queue name, fitted to the rule name limit."""
    pipelines: tuple[str, ...] = ()
    """Only these pipelines' events (empty: every pipeline of the account and region)."""

    def __post_init__(self) -> None:
        check_queue_name(self.queue_name)
        check_rule_name(self.rule)
        for name in self.pipelines:
            check_pipeline_name(name)

    @property
    def rule(self) -> str:
        return self.rule_name or fit_name(self.queue_name)

    @property
    def sid(self) -> str:
        return f"pipetop-rule-{self.rule}"

    def event_pattern(self) -> dict[str, Any]:
        pattern: dict[str, Any] = {
            "source": ["aws.codepipeline"],
            "detail-type": list(DETAIL_TYPES),
        }
        if self.pipelines:
            pattern["detail"] = {"pipeline": sorted(set(self.pipelines))}
        return pattern

    def describe_pattern(self) -> str:
        if not self.pipelines:
            return "CodePipeline events of every pipeline"
        names = sorted(set(self.pipelines))
        return f"CodePipeline events of pipeline{'s' if len(names) > 1 else ''} " + ", ".join(names)


class Change(StrEnum):
    EXISTS = "exists"
    CREATE = "create"
    UPDATE = "update"
    REMOVE = "remove"
    KEEP = "keep"
    """Teardown: there, but not setup's to remove (the note says why)."""
    ABSENT = "absent"
    """Teardown: nothing there to remove."""


_DONE = {
    Change.EXISTS: "exists",
    Change.CREATE: "created",
    Change.UPDATE: "updated",
    Change.REMOVE: "removed",
    Change.KEEP: "kept",
    Change.ABSENT: "absent",
}
_WOULD = {
    Change.EXISTS: "exists",
    Change.CREATE: "would create",
    Change.UPDATE: "would update",
    Change.REMOVE: "would remove",
    Change.KEEP: "would keep",
    Change.ABSENT: "absent",
}


@dataclass(frozen=True)
class Step:
    """One resource and what happens (or happened) to it."""

    kind: str
    """`queue`, `queue policy`, `rule`, `rule target` (and `config`, added by the command)."""
    name: str
    change: Change
    note: str = ""

    def line(self, *, done: bool) -> str:
        verb = (_DONE if done else _WOULD)[self.change]
        text = f"{verb:<13} {self.kind:<13} {self.name}"
        return f"{text}: {self.note}" if self.note else text


@dataclass
class Observed:
    """What `plan()` read: enough for `apply()` to act without reading again."""

    queue_url: str | None = None
    queue_arn: str | None = None
    queue_ours: bool = False
    policy: dict[str, Any] | None = None
    rule_arn: str | None = None
    rule_ours: bool = False
    rule_pattern: dict[str, Any] | None = None
    rule_state: str | None = None
    rule_description: str | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    spec: EventsSpec
    steps: tuple[Step, ...]
    observed: Observed

    @property
    def queue_url(self) -> str | None:
        return self.observed.queue_url

    def changes(self) -> bool:
        return any(
            step.change in (Change.CREATE, Change.UPDATE, Change.REMOVE) for step in self.steps
        )


@dataclass(frozen=True)
class Result:
    steps: tuple[Step, ...]
    queue_url: str | None


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def _queue_missing(exc: BaseException) -> bool:
    return _error_code(exc) in {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }


QUEUE_DELETED_RECENTLY = frozenset(
    {"AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"}
)


def _rule_missing(exc: BaseException) -> bool:
    return _error_code(exc) == "ResourceNotFoundException"


def _statement(queue_arn: str, rule_arn: str, sid: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": EVENTS_PRINCIPAL},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }


def _statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not policy:
        return []
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict)]


def _normalized(statement: dict[str, Any]) -> str:
    """A statement as compared: SQS may spell the action `SQS:SendMessage`, a principal as a
    list, and order keys its own way."""

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return items[0] if len(items) == 1 else sorted(items, key=json.dumps)
        return value

    body = dict(statement)
    if isinstance(body.get("Action"), str):
        body["Action"] = body["Action"].lower()
    return json.dumps(norm(body), sort_keys=True)


def _has_tag_list(tags: Sequence[dict[str, str]]) -> bool:
    return any(
        t.get("Key") == MANAGED_TAG_KEY and t.get("Value") == MANAGED_TAG_VALUE for t in tags
    )


class EventsSetup:
    """Plans and applies (or tears down) the event queue and rule (see the module docstring)."""

    def __init__(self, aws: AwsContext, spec: EventsSpec) -> None:
        self.aws = aws
        self.spec = spec

    # Reading --------------------------------------------------------------------------------

    async def _observe(self) -> Observed:
        sqs = await self.aws.client("sqs")
        events = await self.aws.client("events")
        seen = Observed()
        try:
            answer = await sqs.get_queue_url(QueueName=self.spec.queue_name)
        except Exception as exc:
            if not _queue_missing(exc):
                raise
        else:
            seen.queue_url = str(answer["QueueUrl"])
            attributes = (
                await sqs.get_queue_attributes(
                    QueueUrl=seen.queue_url, AttributeNames=["QueueArn", "Policy"]
                )
            )["Attributes"]
            seen.queue_arn = str(attributes["QueueArn"])
            if attributes.get("Policy"):
                seen.policy = json.loads(attributes["Policy"])
            tags = (await sqs.list_queue_tags(QueueUrl=seen.queue_url)).get("Tags") or {}
            seen.queue_ours = tags.get(MANAGED_TAG_KEY) == MANAGED_TAG_VALUE
        try:
            rule = await events.describe_rule(Name=self.spec.rule)
        except Exception as exc:
            if not _rule_missing(exc):
                raise
        else:
            seen.rule_arn = str(rule["Arn"])
            seen.rule_state = rule.get("State")
            seen.rule_description = rule.get("Description")
            if rule.get("EventPattern"):
                seen.rule_pattern = json.loads(rule["EventPattern"])
            tags = (await events.list_tags_for_resource(ResourceARN=seen.rule_arn)).get("Tags")
            seen.rule_ours = _has_tag_list(tags or [])
            seen.targets = await self._targets(events)
        return seen

    async def _targets(self, events: Any) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"Rule": self.spec.rule}
            if token:
                request["NextToken"] = token
            answer = await events.list_targets_by_rule(**request)
            targets.extend(answer.get("Targets") or [])
            token = answer.get("NextToken")
            if not token:
                return targets

    def _our_statement(self, seen: Observed) -> dict[str, Any] | None:
        for statement in _statements(seen.policy):
            if statement.get("Sid") == self.spec.sid:
                return statement
        return None

    def _our_target(self, seen: Observed) -> dict[str, Any] | None:
        for target in seen.targets:
            if target.get("Id") == TARGET_ID:
                return target
        return None

    def _rule_matches(self, seen: Observed) -> bool:
        return seen.rule_pattern == self.spec.event_pattern() and seen.rule_state == "ENABLED"

    # Setup ----------------------------------------------------------------------------------

    async def plan(self) -> Plan:
        """What setup would do; reads only. `SetupRefused` when it must not touch the rule."""
        spec = self.spec
        seen = await self._observe()
        steps: list[Step] = []
        if seen.queue_url is None:
            steps.append(Step("queue", spec.queue_name, Change.CREATE, "standard, 1 h retention"))
        else:
            note = (
                "made by pipetop events setup" if seen.queue_ours else "made elsewhere, used as is"
            )
            steps.append(Step("queue", spec.queue_name, Change.EXISTS, note))

        if seen.rule_arn is None:
            steps.append(Step("rule", spec.rule, Change.CREATE, spec.describe_pattern()))
        elif self._rule_matches(seen):
            steps.append(Step("rule", spec.rule, Change.EXISTS, spec.describe_pattern()))
        elif not seen.rule_ours:
            raise SetupRefused(
                f"the EventBridge rule {spec.rule} exists, was not created by pipetop events "
                "setup, and matches other events; choose another name with --rule-name"
            )
        else:
            why = "enable it" if seen.rule_pattern == spec.event_pattern() else "new pattern"
            steps.append(
                Step("rule", spec.rule, Change.UPDATE, f"{why}: {spec.describe_pattern()}")
            )

        statement = self._our_statement(seen)
        sid_note = f"on {spec.queue_name}: events.amazonaws.com may send, only for the rule"
        if statement is None:
            steps.append(Step("queue policy", spec.sid, Change.CREATE, sid_note))
        elif (
            seen.queue_arn is not None
            and seen.rule_arn is not None
            and _normalized(statement)
            == _normalized(_statement(seen.queue_arn, seen.rule_arn, spec.sid))
        ):
            steps.append(Step("queue policy", spec.sid, Change.EXISTS, sid_note))
        else:
            steps.append(Step("queue policy", spec.sid, Change.UPDATE, sid_note))

        target = self._our_target(seen)
        target_name = f"{spec.rule}/{TARGET_ID}"
        if target is None:
            steps.append(Step("rule target", target_name, Change.CREATE, f"-> {spec.queue_name}"))
        elif seen.queue_arn is not None and target == {"Id": TARGET_ID, "Arn": seen.queue_arn}:
            steps.append(Step("rule target", target_name, Change.EXISTS, f"-> {spec.queue_name}"))
        else:
            steps.append(Step("rule target", target_name, Change.UPDATE, f"-> {spec.queue_name}"))
        return Plan(spec, tuple(steps), seen)

    async def apply(self, plan: Plan) -> Result:
        """Carry out `plan` (from `plan()`); the steps as done, and the queue URL."""
        spec = plan.spec
        seen = replace(plan.observed)
        sqs = await self.aws.client("sqs")
        events = await self.aws.client("events")
        changes = {step.kind: step.change for step in plan.steps}

        if changes["queue"] is Change.CREATE:
            try:
                answer = await sqs.create_queue(
                    QueueName=spec.queue_name,
                    Attributes={"MessageRetentionPeriod": str(RETENTION_SECONDS)},
                    tags={MANAGED_TAG_KEY: MANAGED_TAG_VALUE},
                )
            except Exception as exc:
                if _error_code(exc) not in QUEUE_DELETED_RECENTLY:
                    raise
                raise SetupRefused(
                    f"the queue {spec.queue_name} was deleted less than 60 s ago and SQS "
                    "refuses its name until then; run setup again in a minute"
                ) from None
            seen.queue_url = str(answer["QueueUrl"])
            attributes = await sqs.get_queue_attributes(
                QueueUrl=seen.queue_url, AttributeNames=["QueueArn"]
            )
            seen.queue_arn = str(attributes["Attributes"]["QueueArn"])
            seen.policy = None
        # plan() saw the queue, or it was just created.
        assert seen.queue_url is not None
        assert seen.queue_arn is not None

        if changes["rule"] in (Change.CREATE, Change.UPDATE):
            request: dict[str, Any] = {
                "Name": spec.rule,
                "EventPattern": json.dumps(spec.event_pattern()),
                "State": "ENABLED",
                "Description": f"{spec.describe_pattern()}, to the SQS queue {spec.queue_name}",
            }
            if changes["rule"] is Change.CREATE:
                request["Tags"] = [{"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE}]
            seen.rule_arn = str((await events.put_rule(**request))["RuleArn"])
        assert seen.rule_arn is not None

        if changes["queue policy"] is not Change.EXISTS:
            ours = _statement(seen.queue_arn, seen.rule_arn, spec.sid)
            others = [s for s in _statements(seen.policy) if s.get("Sid") != spec.sid]
            policy = {
                "Version": (seen.policy or {}).get("Version", "2012-10-17"),
                "Statement": [*others, ours],
            }
            await sqs.set_queue_attributes(
                QueueUrl=seen.queue_url, Attributes={"Policy": json.dumps(policy)}
            )

        if changes["rule target"] is not Change.EXISTS:
            answer = await events.put_targets(
                Rule=spec.rule, Targets=[{"Id": TARGET_ID, "Arn": seen.queue_arn}]
            )
            if answer.get("FailedEntryCount"):
                failed = (answer.get("FailedEntries") or [{}])[0]
                raise SetupRefused(
                    f"the rule {spec.rule} refused the queue as its target: "
                    f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
                )
        return Result(plan.steps, seen.queue_url)

    # Teardown -------------------------------------------------------------------------------

    async def plan_teardown(self) -> Plan:
        """What teardown would remove and keep; reads only."""
        spec = self.spec
        seen = await self._observe()
        steps: list[Step] = []
        target_name = f"{spec.rule}/{TARGET_ID}"
        target = self._our_target(seen)
        if target is None:
            steps.append(Step("rule target", target_name, Change.ABSENT))
        else:
            steps.append(Step("rule target", target_name, Change.REMOVE))

        others = [t for t in seen.targets if t.get("Id") != TARGET_ID]
        if seen.rule_arn is None:
            steps.append(Step("rule", spec.rule, Change.ABSENT))
        elif not seen.rule_ours:
            steps.append(
                Step("rule", spec.rule, Change.KEEP, "not created by pipetop events setup")
            )
        elif others:
            steps.append(
                Step("rule", spec.rule, Change.KEEP, f"{len(others)} other target(s) use it")
            )
        else:
            steps.append(Step("rule", spec.rule, Change.REMOVE))

        if seen.queue_url is None:
            steps.append(Step("queue", spec.queue_name, Change.ABSENT))
        elif seen.queue_ours:
            steps.append(Step("queue", spec.queue_name, Change.REMOVE, "with its policy"))
        else:
            steps.append(
                Step("queue", spec.queue_name, Change.KEEP, "not created by pipetop events setup")
            )
            if self._our_statement(seen) is None:
                steps.append(Step("queue policy", spec.sid, Change.ABSENT))
            else:
                steps.append(Step("queue policy", spec.sid, Change.REMOVE, "this statement only"))
        return Plan(spec, tuple(steps), seen)

    async def apply_teardown(self, plan: Plan) -> Result:
        spec = plan.spec
        seen = plan.observed
        sqs = await self.aws.client("sqs")
        events = await self.aws.client("events")
        for step in plan.steps:
            if step.change is not Change.REMOVE:
                continue
            if step.kind == "rule target":
                await events.remove_targets(Rule=spec.rule, Ids=[TARGET_ID])
            elif step.kind == "rule":
                await events.delete_rule(Name=spec.rule)
            elif step.kind == "queue":
                await sqs.delete_queue(QueueUrl=seen.queue_url)
            elif step.kind == "queue policy":
                rest = [s for s in _statements(seen.policy) if s.get("Sid") != spec.sid]
                text = json.dumps({**(seen.policy or {}), "Statement": rest}) if rest else ""
                await sqs.set_queue_attributes(QueueUrl=seen.queue_url, Attributes={"Policy": text})
        return Result(plan.steps, seen.queue_url)
