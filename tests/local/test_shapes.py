"""Request validation against botocore's models: AWS's messages, paths, types and patterns."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tui.local.api import shapes
from tui.model.errors import AwsError, SerializationException, ValidationException

ROLE = "arn:aws:iam::123456789012:role/pipeline"
PIPELINE_ARN = "arn:aws:codepipeline:us-east-1:123456789012:demo"
NAME_PATTERN = r"[A-Za-z0-9.@\-_]+"


def reject(service: str, operation: str, params: dict[str, Any]) -> AwsError:
    validator = shapes.operation_validator(service, operation)
    assert validator is not None
    with pytest.raises(AwsError) as caught:
        validator.validate(params)
    return caught.value


def accept(service: str, operation: str, params: dict[str, Any]) -> None:
    validator = shapes.operation_validator(service, operation)
    assert validator is not None
    validator.validate(params)


def declaration(**overrides: Any) -> dict[str, Any]:
    action = {
        "name": "Fetch",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": "bucket", "S3ObjectKey": "key.zip"},
        "outputArtifacts": [{"name": "src"}],
    }
    pipeline = {
        "name": "demo",
        "roleArn": ROLE,
        "stages": [{"name": "Source", "actions": [action]}],
    }
    pipeline.update(overrides)
    return pipeline


# --------------------------------------------------------------------------------------------
# Messages


def test_pattern_violation_uses_aws_wording() -> None:
    error = reject("codepipeline", "GetPipelineState", {"name": "bad name"})
    assert isinstance(error, ValidationException)
    assert error.status == 400
    assert error.message == (
        "1 validation error detected: Value 'bad name' at 'name' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_missing_required_member_is_null() -> None:
    error = reject("codepipeline", "GetPipelineState", {})
    assert error.message == (
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_json_null_counts_as_missing() -> None:
    error = reject("codepipeline", "GetPipelineState", {"name": None})
    assert "Value null at 'name'" in error.message


def test_length_limits_both_ways() -> None:
    too_long = reject("codepipeline", "GetPipelineState", {"name": "x" * 101})
    assert too_long.message.endswith(
        "at 'name' failed to satisfy constraint: Member must have length less than or equal to 100"
    )
    empty = reject("codepipeline", "GetPipelineState", {"name": ""})
    # AWS reports every constraint the value breaks: the length and the pattern.
    assert empty.message.startswith("2 validation errors detected: ")
    assert (
        "Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
    ) in empty.message
    assert f"Member must satisfy regular expression pattern: {NAME_PATTERN}" in empty.message


def test_length_counts_utf16_code_units_like_java() -> None:
    # 50 astral characters are 100 UTF-16 units: at the limit of a 100-char name only if
    # counted Java's way (the pattern fails anyway: only the length message matters here).
    error = reject("codepipeline", "GetPipelineState", {"name": "😀" * 51})
    assert "Member must have length less than or equal to 100" in error.message


def test_enum_violation_lists_the_value_set() -> None:
    error = reject(
        "codepipeline",
        "PutApprovalResult",
        {
            "pipelineName": "p",
            "stageName": "s",
            "actionName": "a",
            "result": {"summary": "ok", "status": "Maybe"},
            "token": "8b4e2a8c-9a4c-4a25-9e8c-0c6a3b1f2d3e",
        },
    )
    assert error.message == (
        "1 validation error detected: Value 'Maybe' at 'result.status' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Approved, Rejected]"
    )


def test_integer_range() -> None:
    high = reject("codepipeline", "ListPipelines", {"maxResults": 1001})
    assert high.message == (
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 1000"
    )
    low = reject("codepipeline", "ListPipelines", {"maxResults": 0})
    assert "Member must have value greater than or equal to 1" in low.message
    accept("codepipeline", "ListPipelines", {"maxResults": 1000})


def test_nested_paths_are_one_based_members() -> None:
    pipeline = declaration()
    pipeline["stages"][0]["actions"][0]["name"] = "bad name!"
    error = reject("codepipeline", "CreatePipeline", {"pipeline": pipeline})
    assert (
        "Value 'bad name!' at 'pipeline.stages.1.member.actions.1.member.name' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern"
    ) in error.message


def test_nested_required_member() -> None:
    pipeline = declaration()
    del pipeline["stages"][0]["actions"][0]["actionTypeId"]["provider"]
    error = reject("codepipeline", "CreatePipeline", {"pipeline": pipeline})
    assert error.message == (
        "1 validation error detected: Value null at "
        "'pipeline.stages.1.member.actions.1.member.actionTypeId.provider' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_map_keys_and_values_are_reported_at_the_map() -> None:
    pipeline = declaration()
    pipeline["stages"][0]["actions"][0]["configuration"] = {"k" * 51: "v"}
    keys = reject("codepipeline", "CreatePipeline", {"pipeline": pipeline})
    assert (
        f"Value '{{{'k' * 51}=v}}' at 'pipeline.stages.1.member.actions.1.member.configuration' "
        "failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must have length less than or equal to 50, "
        "Member must have length greater than or equal to 1]"
    ) in keys.message
    pipeline["stages"][0]["actions"][0]["configuration"] = {"k": "v" * 1001}
    values = reject("codepipeline", "CreatePipeline", {"pipeline": pipeline})
    assert (
        "Map value must satisfy constraint: [Member must have length less than or equal to 1000"
        in values.message
    )


def test_list_of_strings_is_reported_at_the_list() -> None:
    error = reject(
        "codepipeline", "UntagResource", {"resourceArn": PIPELINE_ARN, "tagKeys": ["", "ok"]}
    )
    assert error.message == (
        "1 validation error detected: Value '[, ok]' at 'tagKeys' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1]"
    )


def test_list_size_limits() -> None:
    variables = [{"name": f"v{i}", "value": "x"} for i in range(51)]
    error = reject("codepipeline", "StartPipelineExecution", {"name": "p", "variables": variables})
    assert (
        "at 'variables' failed to satisfy constraint: Member must have length less than or equal to 50"
        in error.message
    )
    empty = reject("codepipeline", "StartPipelineExecution", {"name": "p", "variables": []})
    assert "Member must have length greater than or equal to 1" in empty.message


def test_many_violations_are_counted_and_capped() -> None:
    pipeline = declaration(
        stages=[
            {"name": f"bad stage {i}", "actions": [{"name": f"bad action {i}"}]} for i in range(8)
        ]
    )
    error = reject("codepipeline", "CreatePipeline", {"pipeline": pipeline})
    # Per stage: name pattern, action name pattern, actionTypeId null = 3 violations.
    assert error.message.startswith("24 validation errors detected: ")
    assert error.message.count("failed to satisfy constraint") == shapes.MAX_REPORTED


def test_sensitive_values_are_not_echoed() -> None:
    secret = "hunter2:" * 2
    error = reject(
        "events",
        "CreateConnection",
        {
            "Name": "conn",
            "AuthorizationType": "BASIC",
            "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": secret}},
        },
    )
    assert secret not in error.message
    assert error.message == (
        "1 validation error detected: Value at 'AuthParameters.BasicAuthParameters.Password' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        r"^[ \t]*[^\x00-\x1F:\x7F]+([ \t]+[^\x00-\x1F:\x7F]+)*[ \t]*$"
    )


def test_unknown_members_are_ignored() -> None:
    accept("codepipeline", "GetPipelineState", {"name": "demo", "notAMember": {"x": [1]}})


def test_a_valid_declaration_passes() -> None:
    accept(
        "codepipeline",
        "CreatePipeline",
        {"pipeline": declaration(), "tags": [{"key": "k", "value": ""}]},
    )


# --------------------------------------------------------------------------------------------
# JSON types: SerializationException, and it wins over constraint violations


@pytest.mark.parametrize(
    ("operation", "params", "path", "expected"),
    [
        ("GetPipelineState", {"name": 5}, "name", "a string"),
        ("GetPipelineState", {"name": ["a"]}, "name", "a string"),
        ("ListPipelines", {"maxResults": "10"}, "maxResults", "an integer"),
        ("ListPipelines", {"maxResults": 10.5}, "maxResults", "an integer"),
        ("ListPipelines", {"maxResults": True}, "maxResults", "an integer"),
        ("ListPipelines", {"maxResults": 2**31}, "maxResults", "an integer within the range"),
        ("CreatePipeline", {"pipeline": "demo"}, "pipeline", "a structure"),
        ("CreatePipeline", {"pipeline": declaration(stages={"a": 1})}, "pipeline.stages", "a list"),
        (
            "StopPipelineExecution",
            {"pipelineName": "p", "pipelineExecutionId": "e", "abandon": "yes"},
            "abandon",
            "a boolean",
        ),
    ],
)
def test_type_mismatch_is_a_serialization_error(
    operation: str, params: dict[str, Any], path: str, expected: str
) -> None:
    error = reject("codepipeline", operation, params)
    assert isinstance(error, SerializationException)
    assert f"expected {expected}" in error.message
    assert f"at '{path}'" in error.message


def test_type_error_wins_over_constraint_violations() -> None:
    error = reject(
        "codepipeline",
        "StopPipelineExecution",
        {"pipelineName": "bad name", "pipelineExecutionId": "e", "abandon": "yes"},
    )
    assert isinstance(error, SerializationException)


def test_deep_recursion_is_a_serialization_error() -> None:
    # A document-free model cannot nest deeper than its shapes; a recursive walk that hits the
    # interpreter's limit must still end in an AWS error, not a crash.
    validator = shapes.OperationValidator("test", "Deep", shapes._Structure(False))
    rule = validator.root
    assert isinstance(rule, shapes._Structure)
    rule.members = (("next", rule),)
    params: dict[str, Any] = {}
    node = params
    for _ in range(5000):
        node["next"] = {}
        node = node["next"]
    with pytest.raises(SerializationException):
        validator.validate(params)


def test_blob_must_be_base64() -> None:
    base = {"QueueUrl": "http://q", "MessageBody": "m"}
    attribute = {"DataType": "Binary", "BinaryValue": "not base64!"}
    error = reject("sqs", "SendMessage", {**base, "MessageAttributes": {"a": attribute}})
    assert isinstance(error, SerializationException)
    accept(
        "sqs",
        "SendMessage",
        {**base, "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": "aGk="}}},
    )


def test_unknown_operation_has_no_validator() -> None:
    assert shapes.operation_validator("codepipeline", "DoSomethingElse") is None
    assert "GetPipelineState" in shapes.operation_names("codepipeline")


def test_json_versions_come_from_the_model() -> None:
    assert shapes.json_version("codepipeline") == "1.1"
    assert shapes.json_version("sqs") == "1.0"


def test_validation_is_cheap() -> None:
    validator = shapes.operation_validator("codepipeline", "GetPipelineState")
    assert validator is not None
    started = time.perf_counter()
    for _ in range(10_000):
        validator.validate({"name": "my-pipeline"})
    # About 2 µs each on a quiet machine; the bound leaves room for a busy one.
    assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------------------------
# Java patterns


SERVICES = ["codepipeline", "codebuild", "logs", "events", "sqs"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_pattern_of_the_service_compiles(service: str) -> None:
    model = shapes.service_model(service)
    patterns = {
        model.shape_for(name).metadata["pattern"]
        for name in model.shape_names
        if "pattern" in model.shape_for(name).metadata
    }
    for pattern in patterns:
        assert shapes.compile_model_pattern(pattern) is not None, (
            pattern,
            shapes.SKIPPED_PATTERNS.get(pattern),
        )
    # Every operation of the service compiles into a validator.
    for operation in shapes.operation_names(service):
        assert shapes.operation_validator(service, operation) is not None


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        # Unicode categories (tags in logs, events, codebuild).
        (r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$", ["héllo wörld 12", "Ω_:/=+-@", ""], ["a#b", "a\tb"]),
        (r"^\P{C}*$", ["plain text é"], ["a\x00b", "\u200b"]),
        # A hyphen after a class shorthand is literal in Java; \w is ASCII.
        (r"[\w-_]*", ["a-b_c9"], ["a b", "é"]),
        (r"^[a-zA-Z0-9\s-_()\[\]]+$", ["a b-c_(d)[e]"], ["a*b"]),
        # A surrogate pair in a class is one astral code point.
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", ["ok 😀\t"], ["\x01"]),
        # Java applies a mid-pattern (?i) to the rest of its group.
        (
            r"^(?![^:\\]*/action/|(?i).*<script>.*</script>.*)[^:\\]+$",
            ["hello"],
            ["<SCRIPT>x</Script>", "a/action/b"],
        ),
        (r"^(?i)(true|false)$", ["TRUE", "false"], ["yes"]),
        (
            r"\A(25[0-5]|2[0-4]\d|[0-1]?\d?\d)(\.(25[0-5]|2[0-4]\d|[0-1]?\d?\d)){3}\z",
            ["10.0.0.1"],
            ["10.0.0.1\n", "256.1.1.1"],
        ),
        (r"^[-_a-zA-Z0-9]*${2,64}$", ["abc"], ["a c"]),
        (r"([\w!$&()*+,./:;=?@\x{60}-]|%([\dA-Fa-f]{2}|[\dA-Fa-f]?\*))+", ["a`b%2F"], ["a b"]),
        (r"\p{Print}+", ["a b~"], ["\x7f", "é"]),
        # Possessive quantifiers and atomic groups exist in Python 3.11.
        (r"a*+b", ["aab"], ["ac"]),
    ],
)
def test_java_patterns_are_translated(pattern: str, good: list[str], bad: list[str]) -> None:
    compiled = shapes.compile_model_pattern(pattern)
    assert compiled is not None, shapes.SKIPPED_PATTERNS.get(pattern)
    for value in good:
        assert compiled.fullmatch(value), (pattern, value)
    for value in bad:
        assert not compiled.fullmatch(value), (pattern, value)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"[\p{Print}&&[^|:/]]+", "intersection"),
        (r"^arn:\S+:rule/[0-9a-zA-Z]{11}{0,1011}$", "stacked quantifiers"),
        (r"^[0-9\p{IsAlphabetic}]*", "IsAlphabetic"),
        (r"[a[bc]]", "nested"),
    ],
)
def test_untranslatable_patterns_are_skipped_not_fatal(pattern: str, reason: str) -> None:
    assert shapes.compile_model_pattern(pattern) is None
    assert reason in shapes.SKIPPED_PATTERNS[pattern]


def test_a_skipped_pattern_does_not_block_other_checks() -> None:
    rule = shapes._String(False, minimum=1, maximum=3, pattern=r"[\p{Print}&&[^|]]+", enum=None)
    assert rule.failures("abcd", "x") == ["Member must have length less than or equal to 3"]
    assert rule.failures("a|", "x") == ()
