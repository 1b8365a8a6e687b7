"""EventBridge on one machine: event buses, rules with event patterns, SQS targets, delivery.

Every CodePipeline event the engine commits flows through the default bus's rules: the bus
follows the engine's durable event log (`EventLog`) with a cursor kept in SQLite. Delivery of a
batch of events (the SQS messages of every matching target) and the cursor move commit in one
transaction, so each event reaches each matching target exactly once, also across a crash
between the engine's commit and the delivery (the bus catches up when it starts). Delivery
runs on the event loop right after the engine's commit (scheduled, never inside the engine's
call stack) and never raises into the engine. Events a client sends with PutEvents go through
the same rules at once.

Patterns (`compile_pattern`) are matched as AWS matches them: a pattern is flattened to leaf
paths; an event field holding an array matches when any element does (arrays of objects are
flattened too); a leaf is an array of alternatives: exact strings, numbers (compared
numerically), booleans and null; `prefix`, `suffix` (also with `equals-ignore-case`),
`equals-ignore-case`, `wildcard`, `anything-but` (values, a prefix, a suffix, a wildcard or
`equals-ignore-case`), `numeric` ranges, `exists` true/false (leaf fields only), `cidr`; and
`$or` at any level. Malformed patterns are `InvalidEventPatternException` with the reason.

Targets: SQS queue ARNs of this endpoint's region and account. The message body is the whole
event as compact JSON in AWS's key order, or the target's `Input`, `InputPath` or
`InputTransformer` result. Decisions [I]:
- A target ARN that is not an SQS queue of this account and region fails in PutTargets'
  FailedEntries (`ValidationException`, saying why): nothing else would receive it. A queue
  that does not exist (yet) is accepted as AWS does; events for it are dropped and logged.
- Scheduled rules (`ScheduleExpression`) are refused with a ValidationException: nothing
  here runs them. Rule and bus tags, archives, replays, connections and API destinations are
  not served.
- PutEvents refuses sources starting with `aws.` (`NotAuthorizedForSourceException`), as AWS
  does: only the engine emits `aws.codepipeline` events.
- An `InputPath` or an `InputTransformer` path that selects nothing yields `null` (a JSON
  position) or the empty string (inside a string); an `InputPath` result is sent as JSON text.
- Queue policies are not consulted (no IAM locally). SQS messages EventBridge sends carry the
  SenderId `events.amazonaws.com`.
- Injected delivery faults (`delivery_faults`, set through `/_local/faults` for tests and
  demos; `tui.local.engine.delivery_faults`) may drop, duplicate or hold back any delivery of
  an event to a queue: the cursor still moves, so a dropped event is lost for good, as a
  best-effort delivery on AWS can be.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.local.clock import Clock
from tui.local.engine.db import transaction
from tui.local.engine.delivery_faults import DeliveryFaults
from tui.local.engine.events import EventLog
from tui.local.engine.queues import OutgoingMessage, QueueStore
from tui.model.errors import (
    AwsError,
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
)

log = logging.getLogger(__name__)

DEFAULT_BUS = "default"
EVENTBRIDGE_SENDER = "events.amazonaws.com"
MAX_RULES_PER_BUS = 300
MAX_TARGETS_PER_RULE = 5
MAX_NUMERIC = 5.0e9
PUMP_BATCH = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS eb_buses (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS eb_rules (
    bus TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (bus, name)
);
CREATE TABLE IF NOT EXISTS eb_targets (
    bus TEXT NOT NULL,
    rule TEXT NOT NULL,
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (bus, rule, id)
);
CREATE TABLE IF NOT EXISTS eb_cursor (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""


class InvalidEventPatternException(AwsError):
    code = "InvalidEventPatternException"


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"


def _pattern_error(reason: str) -> InvalidEventPatternException:
    return InvalidEventPatternException(f"Event pattern is not valid. Reason: {reason}")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Patterns


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Matcher = Callable[[Any], bool]


def _wildcard_regex(text: str) -> re.Pattern[str]:
    if "**" in text:
        raise _pattern_error("Consecutive wildcard characters are not allowed.")
    parts = re.split(r"(?<!\\)\*", text)
    return re.compile(".*".join(re.escape(part.replace("\\*", "*")) for part in parts), re.DOTALL)


def _string_operand(operator: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _pattern_error(f"{operator} match pattern must be a string.")
    return value


def _text_matcher(operator: str, operand: Any) -> Matcher:
    """prefix / suffix / equals-ignore-case / wildcard over string values."""
    if operator in ("prefix", "suffix") and isinstance(operand, dict):
        if set(operand) != {"equals-ignore-case"}:
            raise _pattern_error(f"Unsupported {operator} pattern: {_dumps(operand)}.")
        wanted = _string_operand(operator, operand["equals-ignore-case"]).lower()
        if operator == "prefix":
            return lambda v: isinstance(v, str) and v.lower().startswith(wanted)
        return lambda v: isinstance(v, str) and v.lower().endswith(wanted)
    text = _string_operand(operator, operand)
    if operator == "prefix":
        return lambda v: isinstance(v, str) and v.startswith(text)
    if operator == "suffix":
        return lambda v: isinstance(v, str) and v.endswith(text)
    if operator == "equals-ignore-case":
        lowered = text.lower()
        return lambda v: isinstance(v, str) and v.lower() == lowered
    regex = _wildcard_regex(text)
    return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None


def _literal_matcher(literal: Any) -> Matcher:
    if literal is None:
        return lambda v: v is None
    if isinstance(literal, bool):
        return lambda v: isinstance(v, bool) and v == literal
    if _is_number(literal):
        number = float(literal)
        return lambda v: _is_number(v) and float(v) == number
    if isinstance(literal, str):
        return lambda v: isinstance(v, str) and v == literal
    raise _pattern_error("Match value must be String, number, true, false, or null.")


def _anything_but(operand: Any) -> Matcher:
    if isinstance(operand, dict):
        if len(operand) != 1:
            raise _pattern_error("anything-but takes one inner operator.")
        ((operator, inner),) = operand.items()
        if operator not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise _pattern_error(f"Unsupported anything-but pattern: {operator}.")
        values = inner if isinstance(inner, list) and operator != "prefix" else [inner]
        if not values:
            raise _pattern_error("Empty arrays are not allowed.")
        inner_matchers = [_text_matcher(operator, value) for value in values]
        return lambda v: isinstance(v, str) and not any(m(v) for m in inner_matchers)
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        raise _pattern_error("Empty arrays are not allowed.")
    for value in values:
        if not (isinstance(value, str) or _is_number(value)):
            raise _pattern_error("Inside anything but list, start|null|boolean is not supported.")
    excluded = [_literal_matcher(value) for value in values]
    return lambda v: (
        v is not None and not isinstance(v, (dict, list)) and not any(m(v) for m in excluded)
    )


_NUMERIC_TESTS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(operand: Any) -> Matcher:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise _pattern_error("Value of numeric must be an array of one or two comparisons.")
    tests: list[tuple[Callable[[float, float], bool], float]] = []
    for index in range(0, len(operand), 2):
        operator, bound = operand[index], operand[index + 1]
        if operator not in _NUMERIC_TESTS:
            raise _pattern_error(f"Unrecognized numeric range operator: {operator}.")
        if not _is_number(bound) or abs(bound) > MAX_NUMERIC:
            raise _pattern_error(
                "Value of numeric range must be a number between -5.0e9 and 5.0e9."
            )
        tests.append((_NUMERIC_TESTS[operator], float(bound)))
    if len(operand) == 4:
        low_op, high_op = operand[0], operand[2]
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise _pattern_error("Bad numeric range operator.")
        if not float(operand[1]) < float(operand[3]):
            raise _pattern_error("Bottom must be less than top.")
    return lambda v: _is_number(v) and all(test(float(v), bound) for test, bound in tests)


def _cidr(operand: Any) -> Matcher:
    try:
        network = ipaddress.ip_network(_string_operand("cidr", operand), strict=False)
    except ValueError:
        raise _pattern_error(f"Nonstandard IP address: {operand}.") from None

    def match(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return match


@dataclass
class _Leaf:
    """One leaf path's array of alternatives."""

    matchers: list[Matcher] = field(default_factory=list)
    exists: bool | None = None

    def matches(self, values: list[Any]) -> bool:
        if self.exists is not None and (bool(values) == self.exists):
            return True
        return any(m(value) for value in values for m in self.matchers)


def _compile_leaf(alternatives: list[Any], key: str) -> _Leaf:
    if not alternatives:
        raise _pattern_error("Empty arrays are not allowed.")
    leaf = _Leaf()
    for alternative in alternatives:
        if not isinstance(alternative, dict):
            leaf.matchers.append(_literal_matcher(alternative))
            continue
        if len(alternative) != 1:
            raise _pattern_error(f"A match expression for '{key}' must have exactly one operator.")
        ((operator, operand),) = alternative.items()
        if operator in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            leaf.matchers.append(_text_matcher(operator, operand))
        elif operator == "anything-but":
            leaf.matchers.append(_anything_but(operand))
        elif operator == "numeric":
            leaf.matchers.append(_numeric(operand))
        elif operator == "cidr":
            leaf.matchers.append(_cidr(operand))
        elif operator == "exists":
            if not isinstance(operand, bool):
                raise _pattern_error("exists match pattern must be either true or false.")
            leaf.exists = operand
        else:
            raise _pattern_error(f"Unrecognized match type {operator}")
    return leaf


@dataclass
class _Node:
    """An object level of a pattern: leaf fields, nested fields and `$or` alternatives."""

    leaves: list[tuple[str, _Leaf]] = field(default_factory=list)
    children: list[tuple[str, _Node]] = field(default_factory=list)
    alternatives: list[list[_Node]] = field(default_factory=list)

    def matches(self, objects: list[dict[str, Any]]) -> bool:
        for key, leaf in self.leaves:
            if not leaf.matches(_leaf_values(objects, key)):
                return False
        for key, child in self.children:
            if not child.matches(_child_objects(objects, key)):
                return False
        return all(any(node.matches(objects) for node in group) for group in self.alternatives)


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _leaf_values(objects: list[dict[str, Any]], key: str) -> list[Any]:
    values: list[Any] = []
    for obj in objects:
        if key in obj:
            values.extend(v for v in _flatten(obj[key]) if not isinstance(v, dict))
    return values


def _child_objects(objects: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for obj in objects:
        if key in obj:
            found.extend(v for v in _flatten(obj[key]) if isinstance(v, dict))
    return found


def _compile_node(pattern: dict[str, Any], path: str) -> _Node:
    if not pattern:
        raise _pattern_error("Empty objects are not allowed.")
    node = _Node()
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _pattern_error("$or must be an array of at least two objects.")
            group = []
            for alternative in value:
                if not isinstance(alternative, dict):
                    raise _pattern_error("$or alternatives must be objects.")
                group.append(_compile_node(alternative, path))
            node.alternatives.append(group)
        elif isinstance(value, dict):
            node.children.append((key, _compile_node(value, where)))
        elif isinstance(value, list):
            node.leaves.append((key, _compile_leaf(value, where)))
        else:
            raise _pattern_error(f'"{where}" must be an object or an array')
    return node


@dataclass
class EventPattern:
    text: str
    root: _Node

    def matches(self, event: Mapping[str, Any]) -> bool:
        return self.root.matches([dict(event)])


def compile_pattern(text: str) -> EventPattern:
    """Parse and check an event pattern; raises InvalidEventPatternException."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _pattern_error(f"Filter is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _pattern_error("Filter is not an object")
    return EventPattern(text, _compile_node(document, ""))


# --------------------------------------------------------------------------------------------
# Input paths and transformers

_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def _parse_path(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise ValidationException(f"Invalid JSON path: {path}")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValidationException(f"Invalid JSON path: {path}")
        if match.group(1) is not None:
            steps.append(match.group(1))
        elif match.group(2) is not None:
            steps.append(int(match.group(2)))
        else:
            steps.append(match.group(3))
        position = match.end()
    return steps


_MISSING = object()


def _select(event: Any, steps: list[str | int]) -> Any:
    value = event
    for step in steps:
        indexable = isinstance(step, int) and isinstance(value, list) and step < len(value)
        if not indexable and not (isinstance(step, str) and isinstance(value, dict)):
            return _MISSING
        if isinstance(value, dict) and step not in value:
            return _MISSING
        value = value[step]
    return value


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
PREDEFINED_VARIABLES = frozenset(
    {
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event",
        "aws.events.event.json",
        "aws.events.event.ingestion-time",
    }
)


def _check_transformer(transformer: Mapping[str, Any], target_id: str) -> None:
    paths = transformer.get("InputPathsMap") or {}
    for key, path in paths.items():
        if key.startswith("aws.events"):
            raise ValidationException(
                f"InputPathsMap key {key} of target {target_id} uses the reserved prefix "
                "aws.events."
            )
        _parse_path(path)
    for name in _PLACEHOLDER.findall(transformer["InputTemplate"]):
        if name not in paths and name not in PREDEFINED_VARIABLES:
            raise ValidationException(
                f"InputTemplate for target {target_id} contains invalid placeholder {name}."
            )


def _render_template(
    template: str, variables: Mapping[str, Any], in_string_default: str = ""
) -> str:
    """Fill `<name>` placeholders: inside a JSON string the value's text, outside it JSON."""
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "\\" and in_string:
            out.append(template[position : position + 2])
            position += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "<":
            match = _PLACEHOLDER.match(template, position)
            if match is not None and match.group(1) in variables:
                value = variables[match.group(1)]
                if in_string:
                    text = in_string_default if value is _MISSING else value
                    if not isinstance(text, str):
                        text = _dumps(text)
                    out.append(json.dumps(text, ensure_ascii=False)[1:-1])
                else:
                    out.append("null" if value is _MISSING else _dumps(value))
                position = match.end()
                continue
        out.append(char)
        position += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Buses, rules, targets


@dataclass
class Rule:
    bus: str
    name: str
    pattern: EventPattern
    state: str = "ENABLED"
    description: str | None = None
    role_arn: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.state != "DISABLED"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"EventPattern": self.pattern.text, "State": self.state}
        if self.description is not None:
            body["Description"] = self.description
        if self.role_arn is not None:
            body["RoleArn"] = self.role_arn
        if self.tags:
            body["Tags"] = self.tags
        return body


@dataclass
class Bus:
    name: str
    created: float
    modified: float
    description: str | None = None


@dataclass(frozen=True)
class EntryResult:
    """One PutEvents entry's outcome: an event id, or an error code and message."""

    event_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class EventBus:
    """Every event bus of the endpoint, their rules and targets, and the delivery to queues."""

    def __init__(
        self,
        db: sqlite3.Connection,
        clock: Clock,
        region: str,
        account: str,
        queues: QueueStore,
    ) -> None:
        self.db = db
        self.clock = clock
        self.region = region
        self.account = account
        self.queues = queues
        # Faults injected by the test control; None delivers everything exactly once.
        self.delivery_faults: DeliveryFaults[OutgoingMessage] | None = None
        db.executescript(SCHEMA)
        self.buses: dict[str, Bus] = {}
        self.rules: dict[tuple[str, str], Rule] = {}
        self.targets: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for name, body in db.execute("SELECT name, body FROM eb_buses"):
            data = json.loads(body)
            self.buses[name] = Bus(name, data["created"], data["modified"], data.get("Description"))
        if DEFAULT_BUS not in self.buses:
            now = clock.now()
            self._save_bus(Bus(DEFAULT_BUS, now, now))
        for bus, name, body in db.execute("SELECT bus, name, body FROM eb_rules"):
            data = json.loads(body)
            self.rules[(bus, name)] = Rule(
                bus,
                name,
                compile_pattern(data["EventPattern"]),
                data.get("State", "ENABLED"),
                data.get("Description"),
                data.get("RoleArn"),
                data.get("Tags", []),
            )
        for bus, rule, body in db.execute(
            "SELECT bus, rule, body FROM eb_targets ORDER BY position"
        ):
            self.targets.setdefault((bus, rule), []).append(json.loads(body))
        self._log: EventLog | None = None
        self._cursor = 0
        self._pump_scheduled = False

    # Names --------------------------------------------------------------------------------
    def bus_arn(self, bus: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{bus}"

    def rule_arn(self, bus: str, name: str) -> str:
        path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
        return f"arn:aws:events:{self.region}:{self.account}:rule/{path}"

    def bus_name(self, name_or_arn: str | None) -> str:
        """The bus a request names (default when none); ResourceNotFoundException if unknown."""
        if not name_or_arn:
            return DEFAULT_BUS
        name = name_or_arn
        if name_or_arn.startswith("arn:"):
            prefix = f"arn:aws:events:{self.region}:{self.account}:event-bus/"
            if not name_or_arn.startswith(prefix):
                raise ResourceNotFoundException(f"Event bus {name_or_arn} does not exist.")
            name = name_or_arn[len(prefix) :]
        if name not in self.buses:
            raise ResourceNotFoundException(f"Event bus {name} does not exist.")
        return name

    # Buses --------------------------------------------------------------------------------
    def _save_bus(self, bus: Bus) -> None:
        body: dict[str, Any] = {"created": bus.created, "modified": bus.modified}
        if bus.description is not None:
            body["Description"] = bus.description
        with transaction(self.db):
            self.db.execute(
                "INSERT OR REPLACE INTO eb_buses (name, body) VALUES (?, ?)",
                (bus.name, _dumps(body)),
            )
        self.buses[bus.name] = bus

    def create_bus(self, name: str, description: str | None = None) -> Bus:
        if "/" in name or name == DEFAULT_BUS:
            raise ValidationException(
                f"Event bus name {name} is not valid: partner event buses (names with '/') "
                "and the name 'default' cannot be created."
            )
        if name in self.buses:
            raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
        now = self.clock.now()
        bus = Bus(name, now, now, description)
        self._save_bus(bus)
        return bus

    def delete_bus(self, name: str) -> None:
        if name == DEFAULT_BUS:
            raise ValidationException("Cannot delete event bus default.")
        if name not in self.buses:
            return
        if any(bus == name for bus, _ in self.rules):
            raise ValidationException(
                f"Event bus {name} still has rules; delete them before the bus."
            )
        with transaction(self.db):
            self.db.execute("DELETE FROM eb_buses WHERE name = ?", (name,))
        del self.buses[name]

    # Rules --------------------------------------------------------------------------------
    def put_rule(
        self,
        name: str,
        bus: str,
        pattern_text: str | None,
        schedule: str | None,
        state: str | None,
        description: str | None,
        role_arn: str | None,
        tags: list[dict[str, str]] | None,
    ) -> Rule:
        if schedule:
            raise ValidationException(
                "The local endpoint does not run scheduled rules (ScheduleExpression); "
                "use an EventPattern."
            )
        if not pattern_text:
            raise ValidationException(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        pattern = compile_pattern(pattern_text)
        existing = self.rules.get((bus, name))
        if existing is None and sum(1 for b, _ in self.rules if b == bus) >= MAX_RULES_PER_BUS:
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed ({MAX_RULES_PER_BUS} "
                "rules per event bus)."
            )
        rule = Rule(
            bus,
            name,
            pattern,
            state or (existing.state if existing else "ENABLED"),
            description,
            role_arn,
            tags if tags is not None else (existing.tags if existing else []),
        )
        self._save_rule(rule)
        return rule

    def _save_rule(self, rule: Rule) -> None:
        with transaction(self.db):
            self.db.execute(
                "INSERT OR REPLACE INTO eb_rules (bus, name, body) VALUES (?, ?, ?)",
                (rule.bus, rule.name, _dumps(rule.to_json())),
            )
        self.rules[(rule.bus, rule.name)] = rule

    def rule(self, bus: str, name: str) -> Rule:
        rule = self.rules.get((bus, name))
        if rule is None:
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")
        return rule

    def list_rules(self, bus: str, prefix: str = "") -> list[Rule]:
        return sorted(
            (
                rule
                for (b, name), rule in self.rules.items()
                if b == bus and name.startswith(prefix)
            ),
            key=lambda rule: rule.name,
        )

    def set_state(self, bus: str, name: str, state: str) -> None:
        rule = self.rule(bus, name)
        rule.state = state
        self._save_rule(rule)

    def delete_rule(self, bus: str, name: str) -> None:
        if (bus, name) not in self.rules:
            return
        if self.targets.get((bus, name)):
            raise ValidationException("Rule can't be deleted since it has targets.")
        with transaction(self.db):
            self.db.execute("DELETE FROM eb_rules WHERE bus = ? AND name = ?", (bus, name))
        del self.rules[(bus, name)]

    # Targets ------------------------------------------------------------------------------
    def check_target(self, target: Mapping[str, Any]) -> str | None:
        """Why the target cannot be served here (a PutTargets failed entry), or None."""
        if self.queues.name_of_arn(target["Arn"]) is None:
            return (
                f"The local endpoint delivers events only to SQS queues of account "
                f"{self.account} in {self.region} (arn:aws:sqs:{self.region}:{self.account}:"
                f"<queue>); {target['Arn']} is not one."
            )
        return None

    def validate_target_input(self, target: Mapping[str, Any]) -> None:
        """Request-level checks of a target's input settings (ValidationException)."""
        given = [key for key in ("Input", "InputPath", "InputTransformer") if target.get(key)]
        if len(given) > 1:
            raise ValidationException(
                "Only one of Input, InputPath, or InputTransformer can be provided."
            )
        if target.get("Input") is not None:
            try:
                json.loads(target["Input"])
            except ValueError:
                raise ValidationException(
                    f"Input for target {target['Id']} is not valid JSON."
                ) from None
        if target.get("InputPath"):
            _parse_path(target["InputPath"])
        if target.get("InputTransformer"):
            _check_transformer(target["InputTransformer"], target["Id"])

    def put_targets(self, bus: str, rule_name: str, targets: list[dict[str, Any]]) -> None:
        """Add or replace targets (already checked) on a rule."""
        self.rule(bus, rule_name)
        current = {t["Id"]: t for t in self.targets.get((bus, rule_name), [])}
        for target in targets:
            current[target["Id"]] = target
        if len(current) > MAX_TARGETS_PER_RULE:
            raise LimitExceededException(
                "The requested resource exceeds the maximum number allowed "
                f"({MAX_TARGETS_PER_RULE} targets per rule)."
            )
        self._save_targets(bus, rule_name, list(current.values()))

    def _save_targets(self, bus: str, rule: str, targets: list[dict[str, Any]]) -> None:
        with transaction(self.db):
            self.db.execute("DELETE FROM eb_targets WHERE bus = ? AND rule = ?", (bus, rule))
            self.db.executemany(
                "INSERT INTO eb_targets (bus, rule, id, position, body) VALUES (?, ?, ?, ?, ?)",
                [(bus, rule, t["Id"], i, _dumps(t)) for i, t in enumerate(targets)],
            )
        if targets:
            self.targets[(bus, rule)] = targets
        else:
            self.targets.pop((bus, rule), None)

    def list_targets(self, bus: str, rule: str) -> list[dict[str, Any]]:
        self.rule(bus, rule)
        return list(self.targets.get((bus, rule), []))

    def remove_targets(self, bus: str, rule: str, ids: Iterable[str]) -> None:
        self.rule(bus, rule)
        doomed = set(ids)
        remaining = [t for t in self.targets.get((bus, rule), []) if t["Id"] not in doomed]
        self._save_targets(bus, rule, remaining)

    def rules_for_target(self, bus: str, arn: str) -> list[str]:
        return sorted(
            rule
            for (b, rule), targets in self.targets.items()
            if b == bus and any(t["Arn"] == arn for t in targets)
        )

    # Delivery -----------------------------------------------------------------------------
    def _body_for(self, target: Mapping[str, Any], event: dict[str, Any], rule: Rule) -> str:
        if target.get("Input") is not None:
            return str(target["Input"])
        if target.get("InputPath"):
            selected = _select(event, _parse_path(target["InputPath"]))
            return "null" if selected is _MISSING else _dumps(selected)
        transformer = target.get("InputTransformer")
        if transformer:
            variables: dict[str, Any] = {
                key: _select(event, _parse_path(path))
                for key, path in (transformer.get("InputPathsMap") or {}).items()
            }
            variables.update(
                {
                    "aws.events.rule-arn": self.rule_arn(rule.bus, rule.name),
                    "aws.events.rule-name": rule.name,
                    "aws.events.event": event,
                    "aws.events.event.json": event,
                    "aws.events.event.ingestion-time": event.get("time", ""),
                }
            )
            return _render_template(transformer["InputTemplate"], variables)
        return _dumps(event)

    def route(self, event: dict[str, Any], bus: str = DEFAULT_BUS) -> set[str]:
        """Enqueue the event for every matching target (inside the caller's transaction).

        Returns the queues written to, for the caller to wake after it commits. A target that
        cannot take the event (a missing queue, a message too large) is logged and skipped.
        """
        touched: set[str] = set()
        for (rule_bus, _), rule in self.rules.items():
            if rule_bus != bus or not rule.enabled or not rule.pattern.matches(event):
                continue
            for target in self.targets.get((bus, rule.name), []):
                queue = self.queues.name_of_arn(target["Arn"])
                if queue is None or not self.queues.exists(queue):
                    log.warning(
                        "rule %s: target %s is not an existing queue; event %s dropped",
                        rule.name,
                        target["Arn"],
                        event.get("id"),
                    )
                    continue
                try:
                    group = (target.get("SqsParameters") or {}).get("MessageGroupId")
                    message = self.queues.prepare(
                        queue, self._body_for(target, event, rule), group_id=group
                    )
                    messages = (
                        [message]
                        if self.delivery_faults is None
                        else self.delivery_faults.deliveries(queue, message)
                    )
                    if not messages:
                        continue
                    self.queues.add_messages(queue, messages, EVENTBRIDGE_SENDER)
                except AwsError as error:
                    log.warning(
                        "rule %s: event %s not delivered to %s: %s",
                        rule.name,
                        event.get("id"),
                        queue,
                        error,
                    )
                    continue
                touched.add(queue)
        return touched

    def set_delivery_faults(self, faults: DeliveryFaults[OutgoingMessage] | None) -> None:
        """Install (or clear, with None) delivery faults; deliveries the old ones held back
        are written now, so replacing the faults never loses an event."""
        previous, self.delivery_faults = self.delivery_faults, faults
        if previous is None:
            return
        touched: set[str] = set()
        with transaction(self.db):
            for queue, messages in previous.release().items():
                try:
                    self.queues.add_messages(queue, messages, EVENTBRIDGE_SENDER)
                except AwsError as error:
                    log.warning("held delivery to %s dropped: %s", queue, error)
                    continue
                touched.add(queue)
        for queue in touched:
            self.queues.wake(queue)

    def _route_and_wake(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        with transaction(self.db):
            touched: set[str] = set()
            for bus, event in events:
                touched |= self.route(event, bus)
        for queue in touched:
            self.queues.wake(queue)

    # Following the engine's event log -----------------------------------------------------
    def follow(self, events: EventLog) -> Callable[[], None]:
        """Deliver every event the engine commits from now on, and any not yet delivered."""
        self._log = events
        row = self.db.execute("SELECT seq FROM eb_cursor WHERE name = ?", ("engine",)).fetchone()
        if row is None:
            # A new bus on an existing log starts at its end: rules created now never saw
            # the events before them.
            cursor = 0
            while batch := events.read(cursor, 10_000):
                cursor = batch[-1][0]
            self._store_cursor(cursor)
        else:
            self._cursor = int(row[0])
        unsubscribe = events.subscribe(self._on_engine_event)
        self.pump()
        return unsubscribe

    def _store_cursor(self, seq: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO eb_cursor (name, seq) VALUES (?, ?)", ("engine", seq)
        )
        self._cursor = seq

    def _on_engine_event(self, event: dict[str, Any]) -> None:
        # Called inside the engine's commit: only schedule the delivery.
        if self._pump_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.pump()
            return
        self._pump_scheduled = True
        loop.call_soon(self.pump)

    def pump(self) -> None:
        """Deliver the engine's events after the cursor; never raises."""
        self._pump_scheduled = False
        if self._log is None:
            return
        try:
            while batch := self._log.read(self._cursor, PUMP_BATCH):
                touched: set[str] = set()
                with transaction(self.db):
                    for _, event in batch:
                        try:
                            touched |= self.route(event)
                        except Exception:
                            log.exception("routing event %s failed", event.get("id"))
                    self._store_cursor(batch[-1][0])
                for queue in touched:
                    self.queues.wake(queue)
        except Exception:
            log.exception("event delivery failed; it is retried with the next event")

    # PutEvents ----------------------------------------------------------------------------
    def put_events(self, entries: list[Mapping[str, Any]]) -> list[EntryResult]:
        results: list[EntryResult] = []
        accepted: list[tuple[str, dict[str, Any]]] = []
        for entry in entries:
            try:
                bus, event = self._event_of_entry(entry)
            except _EntryError as error:
                results.append(EntryResult(None, error.code, error.message))
                continue
            accepted.append((bus, event))
            results.append(EntryResult(event["id"]))
        self._route_and_wake(accepted)
        return results

    def _event_of_entry(self, entry: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        for name in ("Source", "DetailType", "Detail"):
            if not entry.get(name):
                raise _EntryError(
                    "InvalidArgument",
                    f"Parameter {name} is not valid. Reason: {name} is a required argument.",
                )
        source = entry["Source"]
        if source.startswith("aws."):
            raise _EntryError("NotAuthorizedForSourceException", "Not authorized for the source.")
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            raise _EntryError("MalformedDetail", "Detail is malformed.")
        try:
            bus = self.bus_name(entry.get("EventBusName"))
        except ResourceNotFoundException as error:
            raise _EntryError("ResourceNotFoundException", error.message) from None
        when = entry.get("Time")
        moment = float(when) if isinstance(when, (int, float)) else self.clock.now()
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": entry["DetailType"],
            "source": source,
            "account": self.account,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment)),
            "region": self.region,
            "resources": list(entry.get("Resources") or []),
            "detail": detail,
        }
        return bus, event


class _EntryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


REQUIRED_TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


def event_pattern_matches(pattern_text: str, event_text: str) -> bool:
    """TestEventPattern: does the pattern match the event (a full envelope)?"""
    pattern = compile_pattern(pattern_text)
    try:
        event = json.loads(event_text)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise ValidationException("Parameter Event is not valid.")
    for name in REQUIRED_TEST_EVENT_FIELDS:
        if name not in event:
            raise ValidationException(
                f"Parameter Event is not valid. Reason: Provided Event must have mandatory "
                f"field {name}."
            )
    return pattern.matches(event)
