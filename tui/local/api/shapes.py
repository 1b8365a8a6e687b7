"""Request validation against botocore's service models, done the way AWS's front end does it.

A JSON service that declares `service_name` (botocore's name, e.g. "codepipeline") has every
request checked here against its operation's input shape before the service method runs, so
the engine only ever sees requests AWS would have let through. `operation_validator(service,
operation)` compiles an operation's input shape once (patterns included) into a tree of small
rule objects and caches it; `validate(params)` walks that tree and raises:

- `SerializationException` when a value has the wrong JSON type (a string where a structure
  is expected, a float where an integer is, an integer beyond Java's int/long range, a blob
  that is not base64). AWS deserializes the body before it validates it, so a type error
  anywhere wins over every constraint violation. [I] AWS's own wording for these is Jackson's;
  ours names the path and the expected type instead. Numbers are never coerced to strings.
- `ValidationException` listing the constraint violations in AWS's words:
  `1 validation error detected: Value 'x' at 'pipeline.name' failed to satisfy constraint:
  Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+`; with several,
  `N validation errors detected: ...; ...`.

Decisions:
- Paths are AWS's: members joined with `.`, list elements of structures as `<list>.<n>.member`
  (1-based). A list of scalars, a map's keys and a map's values are reported once, at the
  list or map, as AWS does: `Value '[a, b]' at 'tagKeys' failed to satisfy constraint:
  Member must satisfy constraint: [<every constraint of the member shape>]` (and
  `Map keys must satisfy constraint: [...]`, `Map value must satisfy constraint: [...]`).
  [I] Structures inside a map are checked at `<map>.<key>`.
- A JSON `null` is an absent member (`Value null at 'x' failed to satisfy constraint: Member
  must not be null` when it is required). Members the model does not know are ignored.
- String lengths count UTF-16 code units, as Java's `String.length()` does.
- Patterns must match the whole value (Java's `Pattern.matches`). They are written in Java's
  regex dialect: `java_pattern_to_python` translates what Python's `re` reads differently or
  cannot compile (`\\p{L}`-style classes, `[\\w-_]`, surrogate pairs, `\\x{..}`, `\\z`, inline
  flags in mid-pattern, a quantified anchor). A pattern it cannot translate faithfully (class
  intersection `&&`, nested classes, stacked quantifiers, Unicode scripts and binary
  properties) is skipped rather than guessed at: it is logged once and listed in
  `SKIPPED_PATTERNS`. No pattern of codepipeline, codebuild, logs, events or sqs is skipped.
  Patterns are compiled with `re.ASCII` because Java's `\\w`, `\\d`, `\\s`, `\\b` and
  case-insensitivity are ASCII-only by default.
- A pattern is not evaluated on a string already longer than its maximum length: that value is
  reported as too long, and pathological backtracking on oversized input is avoided.
- [I] At most `MAX_REPORTED` (10) violations are listed; the count in front is the total.
  A value is echoed up to `MAX_RENDERED_VALUE` characters; values of shapes the model marks
  `sensitive` are not echoed at all (`Value at 'x' failed to satisfy constraint: ...`).
- [I] Where a model's enum is narrower than what AWS itself accepts, `ENUM_UNIONS` widens
  one member of one operation to the union of named enum shapes. SQS ReceiveMessage's
  deprecated `AttributeNames` reuses the queue-attribute enum, yet its own documentation
  lists message system attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...) and
  older SDKs send them there; AWS accepts both kinds, so we do. Other values stay refused.
- Document-typed shapes accept any JSON. Unions are checked as structures. Doubles also accept
  the strings "NaN", "Infinity" and "-Infinity" (how botocore sends them). Timestamps are
  epoch-second numbers, or ISO-8601 strings where the model asks for that format.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import sys
import unicodedata
import warnings
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import botocore.loaders
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

log = logging.getLogger(__name__)

MAX_REPORTED = 10
MAX_RENDERED_VALUE = 1000

_JAVA_INT = (-(2**31), 2**31 - 1)
_JAVA_LONG = (-(2**63), 2**63 - 1)
_NON_FINITE = frozenset({"NaN", "Infinity", "-Infinity"})
_NO_FAILURES: tuple[str, ...] = ()

# Patterns the translator refused, with the reason (reported once each, never an error).
SKIPPED_PATTERNS: dict[str, str] = {}


# --------------------------------------------------------------------------------------------
# Errors


class _Problems:
    """The constraint violations found in one request (type errors raise at once instead)."""

    __slots__ = ("count", "messages")

    def __init__(self) -> None:
        self.count = 0
        self.messages: list[str] = []

    def add(self, sensitive: bool, value: Any, path: str, constraint: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_REPORTED:
            self.messages.append(_violation(sensitive, value, path, constraint))

    def add_null(self, path: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_REPORTED:
            self.messages.append(
                f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
            )


def _violation(sensitive: bool, value: Any, path: str, constraint: str) -> str:
    if sensitive:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    return f"Value '{render_value(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def render_value(value: Any) -> str:
    """A value as AWS (Java's toString) echoes it: `[a, b]`, `{k=v}`, `null`, `true`."""
    text = _render(value)
    if len(text) > MAX_RENDERED_VALUE:
        return text[:MAX_RENDERED_VALUE] + "..."
    return text


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_render(item)}" for key, item in value.items()) + "}"
    return str(value)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _type_error(path: str, expected: str, value: Any) -> Exception:
    # Imported here so the validator can be used without the model package in scope.
    from tui.model.errors import SerializationException

    where = f"at '{path}'" if path else "as the request body"
    return SerializationException(
        f"Cannot deserialize the request: expected {expected} {where}, got {_json_kind(value)}."
    )


# --------------------------------------------------------------------------------------------
# Rules: one object per shape, shared by every member that refers to the shape


class _Rule:
    __slots__ = ("sensitive",)

    def __init__(self, sensitive: bool) -> None:
        self.sensitive = sensitive

    def check(self, value: Any, path: str, problems: _Problems) -> None:
        for constraint in self.failures(value, path):
            problems.add(self.sensitive, value, path, constraint)

    def failures(self, value: Any, path: str) -> tuple[str, ...] | list[str]:
        """The constraints `value` breaks; raises SerializationException on a type mismatch."""
        raise NotImplementedError

    def constraints(self) -> list[str]:
        """Every constraint of the shape, in AWS's order (for `Member must satisfy constraint`)."""
        return []


class _Anything(_Rule):
    __slots__ = ()

    def failures(self, value: Any, path: str) -> tuple[str, ...]:
        return _NO_FAILURES


class _Boolean(_Rule):
    __slots__ = ()

    def failures(self, value: Any, path: str) -> tuple[str, ...]:
        if type(value) is not bool:
            raise _type_error(path, "a boolean", value)
        return _NO_FAILURES


class _Number(_Rule):
    __slots__ = ("integral", "max", "max_text", "min", "min_text", "range")

    def __init__(
        self,
        sensitive: bool,
        *,
        integral: bool,
        java_range: tuple[int, int] | None,
        minimum: float | None,
        maximum: float | None,
    ) -> None:
        super().__init__(sensitive)
        self.integral = integral
        self.range = java_range
        self.min = minimum
        self.max = maximum
        self.max_text = f"Member must have value less than or equal to {_number(maximum)}"
        self.min_text = f"Member must have value greater than or equal to {_number(minimum)}"

    def failures(self, value: Any, path: str) -> tuple[str, ...] | list[str]:
        kind = type(value)
        if self.integral:
            if kind is not int:
                raise _type_error(path, "an integer", value)
            low, high = self.range or _JAVA_LONG
            if value < low or value > high:
                raise _type_error(path, "an integer within the range of its type", value)
        elif kind is not int and kind is not float:
            if kind is str and value in _NON_FINITE:
                return _NO_FAILURES
            raise _type_error(path, "a number", value)
        if self.max is not None and value > self.max:
            return [self.max_text]
        if self.min is not None and value < self.min:
            return [self.min_text]
        return _NO_FAILURES

    def constraints(self) -> list[str]:
        found = []
        if self.max is not None:
            found.append(self.max_text)
        if self.min is not None:
            found.append(self.min_text)
        return found


def _number(value: float | None) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Timestamp(_Rule):
    __slots__ = ("iso",)

    def __init__(self, sensitive: bool, iso: bool) -> None:
        super().__init__(sensitive)
        self.iso = iso

    def failures(self, value: Any, path: str) -> tuple[str, ...]:
        kind = type(value)
        if kind is int or kind is float:
            return _NO_FAILURES
        if kind is str and self.iso:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _type_error(path, "an ISO-8601 timestamp", value) from None
            return _NO_FAILURES
        raise _type_error(path, "a timestamp (epoch seconds)", value)


class _String(_Rule):
    __slots__ = (
        "enum",
        "enum_text",
        "max",
        "max_text",
        "min",
        "min_text",
        "pattern",
        "pattern_text",
    )

    def __init__(
        self,
        sensitive: bool,
        *,
        minimum: int | None,
        maximum: int | None,
        pattern: str | None,
        enum: list[str] | None,
    ) -> None:
        super().__init__(sensitive)
        self.min = minimum
        self.max = maximum
        self.max_text = f"Member must have length less than or equal to {maximum}"
        self.min_text = f"Member must have length greater than or equal to {minimum}"
        self.pattern = compile_model_pattern(pattern) if pattern is not None else None
        self.pattern_text = f"Member must satisfy regular expression pattern: {pattern}"
        self.enum = frozenset(enum) if enum else None
        self.enum_text = f"Member must satisfy enum value set: [{', '.join(enum or [])}]"

    def failures(self, value: Any, path: str) -> tuple[str, ...] | list[str]:
        if type(value) is not str:
            raise _type_error(path, "a string", value)
        return self._failures(value, _utf16_length(value))

    def _failures(self, value: str, length: int) -> tuple[str, ...] | list[str]:
        found: list[str] | None = None
        too_long = self.max is not None and length > self.max
        if too_long:
            found = [self.max_text]
        if self.min is not None and length < self.min:
            found = (found or []) + [self.min_text]
        if self.pattern is not None and not too_long and self.pattern.fullmatch(value) is None:
            found = (found or []) + [self.pattern_text]
        if self.enum is not None and value not in self.enum:
            found = (found or []) + [self.enum_text]
        return found or _NO_FAILURES

    def constraints(self) -> list[str]:
        found = []
        if self.max is not None:
            found.append(self.max_text)
        if self.min is not None:
            found.append(self.min_text)
        if self.pattern is not None:
            found.append(self.pattern_text)
        if self.enum is not None:
            found.append(self.enum_text)
        return found


class _Blob(_String):
    """Base64 text on the wire; length constraints apply to the decoded bytes."""

    __slots__ = ()

    def failures(self, value: Any, path: str) -> tuple[str, ...] | list[str]:
        if type(value) is not str:
            raise _type_error(path, "a base64-encoded string", value)
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _type_error(path, "a base64-encoded string", value) from None
        if self.min is None and self.max is None:
            return _NO_FAILURES
        length = len(decoded)
        found: list[str] = []
        if self.max is not None and length > self.max:
            found.append(self.max_text)
        if self.min is not None and length < self.min:
            found.append(self.min_text)
        return found or _NO_FAILURES


def _utf16_length(value: str) -> int:
    if value.isascii():
        return len(value)
    return len(value) + sum(1 for char in value if ord(char) > 0xFFFF)


class _Structure(_Rule):
    __slots__ = ("members", "required")

    def __init__(self, sensitive: bool) -> None:
        super().__init__(sensitive)
        self.members: tuple[tuple[str, _Rule], ...] = ()
        self.required: frozenset[str] = frozenset()

    def check(self, value: Any, path: str, problems: _Problems) -> None:
        if type(value) is not dict:
            raise _type_error(path, "a structure (JSON object)", value)
        prefix = path + "." if path else ""
        required = self.required
        for name, rule in self.members:
            member = value.get(name)
            if member is None:
                if name in required:
                    problems.add_null(prefix + name)
                continue
            rule.check(member, prefix + name, problems)


class _Collection(_Rule):
    __slots__ = ("max", "max_text", "min", "min_text")

    def __init__(self, sensitive: bool, minimum: int | None, maximum: int | None) -> None:
        super().__init__(sensitive)
        self.min = minimum
        self.max = maximum
        self.max_text = f"Member must have length less than or equal to {maximum}"
        self.min_text = f"Member must have length greater than or equal to {minimum}"

    def _check_size(self, value: Any, path: str, problems: _Problems) -> None:
        size = len(value)
        if self.max is not None and size > self.max:
            problems.add(self.sensitive, value, path, self.max_text)
        if self.min is not None and size < self.min:
            problems.add(self.sensitive, value, path, self.min_text)


class _List(_Collection):
    __slots__ = ("member",)

    def __init__(self, sensitive: bool, minimum: int | None, maximum: int | None) -> None:
        super().__init__(sensitive, minimum, maximum)
        self.member: _Rule = _Anything(False)

    def check(self, value: Any, path: str, problems: _Problems) -> None:
        if type(value) is not list:
            raise _type_error(path, "a list", value)
        self._check_size(value, path, problems)
        member = self.member
        if isinstance(member, (_Structure, _Collection)):
            for index, item in enumerate(value, 1):
                item_path = f"{path}.{index}.member"
                if item is None:
                    problems.add_null(item_path)
                else:
                    member.check(item, item_path, problems)
            return
        broken = has_null = False
        for index, item in enumerate(value, 1):
            if item is None:
                broken = has_null = True
            elif member.failures(item, f"{path}.{index}.member"):
                broken = True
        if broken:
            hidden = self.sensitive or member.sensitive
            problems.add(hidden, value, path, _collective("Member", member, has_null))


class _Map(_Collection):
    __slots__ = ("key", "value")

    def __init__(self, sensitive: bool, minimum: int | None, maximum: int | None) -> None:
        super().__init__(sensitive, minimum, maximum)
        self.key: _Rule = _Anything(False)
        self.value: _Rule = _Anything(False)

    def check(self, value: Any, path: str, problems: _Problems) -> None:
        if type(value) is not dict:
            raise _type_error(path, "a map (JSON object)", value)
        self._check_size(value, path, problems)
        key_rule = self.key
        if not isinstance(key_rule, _Anything) and any(
            key_rule.failures(key, path) for key in value
        ):
            hidden = self.sensitive or key_rule.sensitive or self.value.sensitive
            problems.add(hidden, value, path, _collective("Map keys", key_rule))
        value_rule = self.value
        if isinstance(value_rule, (_Structure, _Collection)):
            for key, item in value.items():
                if item is None:
                    problems.add_null(f"{path}.{key}")
                else:
                    value_rule.check(item, f"{path}.{key}", problems)
            return
        broken = has_null = False
        for key, item in value.items():
            if item is None:
                broken = has_null = True
            elif value_rule.failures(item, f"{path}.{key}"):
                broken = True
        if broken:
            hidden = self.sensitive or key_rule.sensitive or value_rule.sensitive
            problems.add(hidden, value, path, _collective("Map value", value_rule, has_null))


def _collective(subject: str, rule: _Rule, has_null: bool = False) -> str:
    constraints = rule.constraints()
    if has_null:
        constraints = ["Member must not be null", *constraints]
    return f"{subject} must satisfy constraint: [{', '.join(constraints)}]"


# --------------------------------------------------------------------------------------------
# Compiling a model into rules


def _compile(shape: Shape, memo: dict[str, _Rule]) -> _Rule:
    cached = memo.get(shape.name)
    if cached is not None:
        return cached
    meta = shape.metadata
    sensitive = bool(meta.get("sensitive", False))
    type_name = shape.type_name
    rule: _Rule
    if type_name == "structure":
        if meta.get("document") or getattr(shape, "is_document_type", False):
            rule = memo[shape.name] = _Anything(sensitive)
            return rule
        assert isinstance(shape, StructureShape)
        structure = _Structure(sensitive)
        memo[shape.name] = structure  # before the members: shapes may be recursive
        structure.members = tuple(
            (name, _compile(member, memo)) for name, member in shape.members.items()
        )
        structure.required = frozenset(shape.required_members)
        return structure
    if type_name == "list":
        assert isinstance(shape, ListShape)
        listing = _List(sensitive, meta.get("min"), meta.get("max"))
        memo[shape.name] = listing
        listing.member = _compile(shape.member, memo)
        return listing
    if type_name == "map":
        assert isinstance(shape, MapShape)
        mapping = _Map(sensitive, meta.get("min"), meta.get("max"))
        memo[shape.name] = mapping
        mapping.key = _compile(shape.key, memo)
        mapping.value = _compile(shape.value, memo)
        return mapping
    if type_name == "string":
        rule = _String(
            sensitive,
            minimum=meta.get("min"),
            maximum=meta.get("max"),
            pattern=meta.get("pattern"),
            enum=getattr(shape, "enum", None) or meta.get("enum"),
        )
    elif type_name == "blob":
        rule = _Blob(
            sensitive, minimum=meta.get("min"), maximum=meta.get("max"), pattern=None, enum=None
        )
    elif type_name == "boolean":
        rule = _Boolean(sensitive)
    elif type_name in ("integer", "long", "byte", "short"):
        rule = _Number(
            sensitive,
            integral=True,
            java_range=_JAVA_INT if type_name != "long" else _JAVA_LONG,
            minimum=meta.get("min"),
            maximum=meta.get("max"),
        )
    elif type_name in ("double", "float"):
        rule = _Number(
            sensitive,
            integral=False,
            java_range=None,
            minimum=meta.get("min"),
            maximum=meta.get("max"),
        )
    elif type_name == "timestamp":
        rule = _Timestamp(sensitive, iso=shape.serialization.get("timestampFormat") == "iso8601")
    else:
        rule = _Anything(sensitive)
    memo[shape.name] = rule
    return rule


class OperationValidator:
    """The compiled input shape of one operation; `validate` raises AWS's errors."""

    __slots__ = ("operation", "root", "service_name")

    def __init__(self, service_name: str, operation: str, root: _Rule | None) -> None:
        self.service_name = service_name
        self.operation = operation
        self.root = root

    def validate(self, params: dict[str, Any]) -> None:
        if self.root is None:
            return
        problems = _Problems()
        try:
            self.root.check(params, "", problems)
        except RecursionError:
            raise _type_error("", "a request nested less deeply", params) from None
        if problems.count:
            from tui.model.errors import ValidationException

            noun = "error" if problems.count == 1 else "errors"
            raise ValidationException(
                f"{problems.count} validation {noun} detected: " + "; ".join(problems.messages)
            )


@functools.cache
def service_model(service_name: str) -> ServiceModel:
    loader = botocore.loaders.create_loader()
    return ServiceModel(loader.load_service_model(service_name, "service-2"), service_name)


@functools.cache
def modelled_errors(service_name: str, operation: str) -> frozenset[str]:
    """The error codes the model lists for an operation."""
    return frozenset(
        e.name for e in service_model(service_name).operation_model(operation).error_shapes
    )


@functools.cache
def operation_names(service_name: str) -> frozenset[str]:
    return frozenset(service_model(service_name).operation_names)


@functools.cache
def _service_memo(service_name: str) -> dict[str, _Rule]:
    # One memo per service: operations share shapes (and their compiled patterns).
    return {}


# (service, operation, member) -> the enum shapes whose union the member's values may take
# (see the module docstring).
ENUM_UNIONS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("sqs", "ReceiveMessage", "AttributeNames"): (
        "QueueAttributeName",
        "MessageSystemAttributeName",
    ),
}


@functools.cache
def operation_validator(service_name: str, operation: str) -> OperationValidator | None:
    """The validator of `operation`, or None when the service's model has no such operation."""
    if operation not in operation_names(service_name):
        return None
    shape = service_model(service_name).operation_model(operation).input_shape
    root = _compile(shape, _service_memo(service_name)) if shape is not None else None
    widened = {
        member: enums
        for (service, name, member), enums in ENUM_UNIONS.items()
        if service == service_name and name == operation
    }
    if widened and isinstance(root, _Structure):
        root = _with_enum_unions(service_model(service_name), root, widened)
    return OperationValidator(service_name, operation, root)


def _with_enum_unions(
    model: ServiceModel, root: _Structure, widened: dict[str, tuple[str, ...]]
) -> _Structure:
    """A copy of `root` whose string-list members named in `widened` take the union of the
    given enums; the compiled rules shared with other operations are left as they are."""
    copy = _Structure(root.sensitive)
    copy.required = root.required
    members = []
    for name, rule in root.members:
        if name in widened and isinstance(rule, _List) and isinstance(rule.member, _String):
            values = list(
                dict.fromkeys(
                    value
                    for enum in widened[name]
                    for value in getattr(model.shape_for(enum), "enum", None) or ()
                )
            )
            member = rule.member
            listing = _List(rule.sensitive, rule.min, rule.max)
            listing.member = _String(
                member.sensitive, minimum=member.min, maximum=member.max, pattern=None, enum=values
            )
            rule = listing
        members.append((name, rule))
    copy.members = tuple(members)
    return copy


def json_version(service_name: str) -> str:
    """`1.0` or `1.1`: the JSON protocol version the service's model declares."""
    return str(service_model(service_name).metadata.get("jsonVersion", "1.1"))


# --------------------------------------------------------------------------------------------
# Java regular expressions -> Python's `re`


class UntranslatablePattern(ValueError):
    """A Java pattern Python's `re` cannot express faithfully."""


@functools.cache
def compile_model_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java) pattern compiled for `fullmatch`, or None when it has to be skipped."""
    try:
        translated = java_pattern_to_python(pattern)
        with warnings.catch_warnings():
            # Python warns about `[[`, `--`, `&&` that may change meaning in future versions.
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(translated, re.ASCII)
    except (UntranslatablePattern, re.error, OverflowError, RecursionError) as exc:
        SKIPPED_PATTERNS[pattern] = str(exc)
        log.warning("model pattern %r is not checked: %s", pattern, exc)
        return None


_POSIX_CLASSES: dict[str, list[tuple[int, int]]] = {
    "Lower": [(0x61, 0x7A)],
    "Upper": [(0x41, 0x5A)],
    "ASCII": [(0x00, 0x7F)],
    "Alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "Digit": [(0x30, 0x39)],
    "Alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "Punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "Graph": [(0x21, 0x7E)],
    "Print": [(0x20, 0x7E)],
    "Blank": [(0x09, 0x09), (0x20, 0x20)],
    "Cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "XDigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
    "Space": [(0x09, 0x0D), (0x20, 0x20)],
    "all": [(0, sys.maxunicode)],
    # Java's Character.isWhitespace.
    "IsWhitespace": [
        (0x09, 0x0D),
        (0x1C, 0x20),
        (0x1680, 0x1680),
        (0x2000, 0x2006),
        (0x2008, 0x200A),
        (0x2028, 0x2029),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
    ],
}
# `\h` in Java: horizontal whitespace.
_HORIZONTAL_SPACE = [
    (0x09, 0x09),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200A),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
]
_CLASS_SHORTHANDS = frozenset("wWdDsS")
_QUANTIFIER = re.compile(r"\{(\d+)(,\d*)?\}")
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_PYTHON_FLAGS = frozenset("imsx")


@functools.cache
def _category_runs() -> dict[str, list[tuple[int, int]]]:
    """Code point runs of every Unicode general category (one pass; computed on first need)."""
    runs: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    start, current = 0, category(chr(0))
    for code in range(1, sys.maxunicode + 1):
        this = category(chr(code))
        if this != current:
            runs.setdefault(current, []).append((start, code - 1))
            start, current = code, this
    runs.setdefault(current, []).append((start, sys.maxunicode))
    return runs


def _property_ranges(name: str) -> list[tuple[int, int]]:
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    for prefix in ("general_category=", "gc=", "Is"):
        if name.startswith(prefix) and len(name) > len(prefix):
            candidate = name[len(prefix) :]
            if candidate in _POSIX_CLASSES or _is_category(candidate):
                return _property_ranges(candidate)
    if _is_category(name):
        runs = _category_runs()
        if len(name) == 1:
            ranges = [r for cat, found in runs.items() if cat[0] == name for r in found]
        else:
            ranges = list(runs.get(name, []))
        return _coalesce(ranges)
    raise UntranslatablePattern(f"Unicode property \\p{{{name}}} has no translation")


def _is_category(name: str) -> bool:
    return len(name) in (1, 2) and name[0] in "LMNPSZC" and (len(name) == 1 or name[1].islower())


def _coalesce(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    next_low = 0
    for low, high in _coalesce(ranges):
        if low > next_low:
            gaps.append((next_low, low - 1))
        next_low = high + 1
    if next_low <= sys.maxunicode:
        gaps.append((next_low, sys.maxunicode))
    return gaps


def _class_items(ranges: list[tuple[int, int]]) -> str:
    return "".join(
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges
    )


class _Translator:
    """One left-to-right pass over a Java pattern, writing the Python equivalent."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0
        self.out: list[str] = []
        # One entry per open group (the last is the pattern itself): scoped-flag groups to close.
        self.pending: list[int] = [0]
        self.last = "none"  # what the last item outside a class was: none/anchor/atom/quantifier
        self.leading = True  # nothing but global flags emitted so far

    def run(self) -> str:
        src = self.src
        while self.pos < len(src):
            char = src[self.pos]
            if char == "\\":
                self._escape_outside()
            elif char == "[":
                self._character_class()
            elif char == "(":
                self._open_group()
            elif char == ")":
                if len(self.pending) == 1:
                    raise UntranslatablePattern("unbalanced ')'")
                self.out.append(")" * self.pending.pop() + ")")
                self.pos += 1
                self._set("atom")
            elif char in "*+?":
                self._quantifier(char, 1)
            elif char == "{":
                match = _QUANTIFIER.match(src, self.pos)
                if match is None:
                    self.out.append("\\{")
                    self.pos += 1
                    self._set("atom")
                else:
                    self._quantifier(match.group(0), len(match.group(0)))
            elif char in "^$":
                self.out.append(char)
                self.pos += 1
                self._set("anchor")
            else:
                self.out.append("\\}" if char == "}" else char)
                self.pos += 1
                self._set("atom" if char != "|" else "none")
        if len(self.pending) != 1:
            raise UntranslatablePattern("unbalanced '('")
        self.out.append(")" * self.pending[0])
        return "".join(self.out)

    def _set(self, last: str) -> None:
        self.last = last
        self.leading = False

    def _quantifier(self, text: str, width: int) -> None:
        self.pos += width
        modifier = ""
        if self.pos < len(self.src) and self.src[self.pos] in "?+":
            modifier = self.src[self.pos]
            self.pos += 1
        if self.last == "anchor":
            return  # Java accepts a quantified anchor (`${2,64}`); it still matches once.
        if self.last == "quantifier":
            raise UntranslatablePattern("stacked quantifiers")
        if self.last == "none":
            raise UntranslatablePattern("quantifier with nothing to repeat")
        self.out.append(text + modifier)
        self.last = "quantifier"

    def _open_group(self) -> None:
        src = self.src
        flags = _FLAG_GROUP.match(src, self.pos)
        if flags is not None:
            on = "".join(f for f in flags.group(1) if f in _PYTHON_FLAGS)
            off = "".join(f for f in (flags.group(2) or "") if f in _PYTHON_FLAGS)
            spec = on + (f"-{off}" if off else "")
            self.pos = flags.end()
            if flags.group(3) == ":":
                self.out.append(f"(?{spec}:" if spec else "(?:")
                self.pending.append(0)
                self.last = "none"
                return
            if not spec:
                return
            if self.leading and not off:
                self.out.append(f"(?{spec})")
                return
            # Java applies a mid-pattern `(?i)` to the rest of the enclosing group.
            self.out.append(f"(?{spec}:")
            self.pending[-1] += 1
            self._set("none")
            return
        if src.startswith("(?<", self.pos) and not src.startswith(("(?<=", "(?<!"), self.pos):
            self.out.append("(?P<")
            self.pos += 3
        elif src.startswith("(?", self.pos):
            self.out.append(src[self.pos : self.pos + 3])
            self.pos += 3
        else:
            self.out.append("(")
            self.pos += 1
        self.pending.append(0)
        self._set("none")

    def _escape_outside(self) -> None:
        src = self.src
        if self.pos + 1 >= len(src):
            raise UntranslatablePattern("trailing backslash")
        code = src[self.pos + 1]
        if code in "pP":
            ranges, width = self._property(self.pos)
            self.pos += width
            body = _class_items(ranges)
            self.out.append(f"[{body}]" if code == "p" else f"[^{body}]")
            self._set("atom")
        elif code == "h":
            self.out.append(f"[{_class_items(_HORIZONTAL_SPACE)}]")
            self.pos += 2
            self._set("atom")
        elif code == "z":
            self.out.append("\\Z")
            self.pos += 2
            self._set("anchor")
        elif code == "Z":
            self.out.append("(?=\\n?\\Z)")
            self.pos += 2
            self._set("anchor")
        elif code in "AbB":
            self.out.append("\\" + code)
            self.pos += 2
            self._set("anchor")
        elif code == "G":
            raise UntranslatablePattern("\\G has no Python equivalent")
        elif code == "Q":
            end = src.find("\\E", self.pos + 2)
            literal = src[self.pos + 2 :] if end < 0 else src[self.pos + 2 : end]
            self.out.append(re.escape(literal))
            self.pos = len(src) if end < 0 else end + 2
            self._set("atom")
        else:
            text, width = self._plain_escape(self.pos)
            self.out.append(text)
            self.pos += width
            self._set("atom")

    def _plain_escape(self, at: int) -> tuple[str, int]:
        """An escape that means the same in a class and outside: returns (python text, width)."""
        src = self.src
        code = src[at + 1]
        if code == "u":
            unit = _hex_at(src, at + 2, 4)
            if 0xD800 <= unit <= 0xDBFF and src.startswith("\\u", at + 6):
                low = _hex_at(src, at + 8, 4)
                if 0xDC00 <= low <= 0xDFFF:
                    combined = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    return f"\\U{combined:08x}", 12
            return f"\\U{unit:08x}", 6
        if code == "x" and src.startswith("{", at + 2):
            end = src.find("}", at + 3)
            if end < 0:
                raise UntranslatablePattern("unterminated \\x{...}")
            return f"\\U{int(src[at + 3 : end], 16):08x}", end + 1 - at
        if code == "e":
            return "\\x1b", 2
        if code == "c":
            raise UntranslatablePattern("control escapes \\cX are not translated")
        return "\\" + code, 2

    def _property(self, at: int) -> tuple[list[tuple[int, int]], int]:
        src = self.src
        if src.startswith("{", at + 2):
            end = src.find("}", at + 3)
            if end < 0:
                raise UntranslatablePattern("unterminated \\p{...}")
            name, width = src[at + 3 : end], end + 1 - at
        else:
            name, width = src[at + 2 : at + 3], 3
        ranges = _property_ranges(name)
        return ranges, width

    def _character_class(self) -> None:
        src = self.src
        self.out.append("[")
        self.pos += 1
        if src.startswith("^", self.pos):
            self.out.append("^")
            self.pos += 1
        first = True
        after_shorthand = False
        while True:
            if self.pos >= len(src):
                raise UntranslatablePattern("unterminated character class")
            char = src[self.pos]
            if char == "]" and not first:
                self.out.append("]")
                self.pos += 1
                break
            shorthand = False
            if char == "\\":
                if self.pos + 1 >= len(src):
                    raise UntranslatablePattern("trailing backslash")
                code = src[self.pos + 1]
                if code in "pP":
                    ranges, width = self._property(self.pos)
                    self.out.append(_class_items(ranges if code == "p" else _complement(ranges)))
                    self.pos += width
                    shorthand = True
                elif code == "h":
                    self.out.append(_class_items(_HORIZONTAL_SPACE))
                    self.pos += 2
                    shorthand = True
                elif code == "Q":
                    end = src.find("\\E", self.pos + 2)
                    if end < 0:
                        raise UntranslatablePattern("unterminated \\Q in a class")
                    self.out.append(
                        "".join("\\" + c if not c.isalnum() else c for c in src[self.pos + 2 : end])
                    )
                    self.pos = end + 2
                else:
                    text, width = self._plain_escape(self.pos)
                    self.out.append(text)
                    self.pos += width
                    shorthand = code in _CLASS_SHORTHANDS
            elif char == "[":
                raise UntranslatablePattern("nested character classes (Java union)")
            elif char == "&" and src.startswith("&&", self.pos):
                raise UntranslatablePattern("character class intersection (&&)")
            elif char == "-":
                # Java reads `-` after a class shorthand (`[\w-_]`) or at either end as a literal.
                literal = after_shorthand or first or src.startswith("]", self.pos + 1)
                self.out.append("\\-" if literal else "-")
                self.pos += 1
            elif char in "[]|~&":
                self.out.append("\\" + char)
                self.pos += 1
            else:
                self.out.append(char)
                self.pos += 1
            after_shorthand = shorthand
            first = False
        self._set("atom")


def _hex_at(src: str, at: int, width: int) -> int:
    digits = src[at : at + width]
    if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise UntranslatablePattern("malformed \\u escape")
    return int(digits, 16)


def java_pattern_to_python(pattern: str) -> str:
    """Translate a Java regular expression (as botocore's models carry them) for Python's `re`."""
    return _Translator(pattern).run()
