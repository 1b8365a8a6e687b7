"""The pipeline declaration: the same JSON as `aws codepipeline get-pipeline` (V1 and V2).

Each model mirrors the botocore `codepipeline` shape of the same name; attributes are
snake_case, the JSON names camelCase aliases, unknown keys are ignored.

Decisions recorded here ([I] = ours, not documented by AWS):

| Topic | Decision |
|---|---|
| Defaults filled in, as GetPipeline shows them | action `runOrder` 1, `configuration` {}, `inputArtifacts` [], `outputArtifacts` []; pipeline `version` 1 |
| `pipelineType` omitted [I] | "V1" (the API default; V2-only fields on it are rejected by validation) |
| `executionMode` omitted [I] | "SUPERSEDED" (the documented default) |
| explicit JSON `null` for an optional member [I] | treated as absent, as AWS's JSON deserialiser does |
| missing or null required member | ValidationException `Value null at '<path>' failed to satisfy constraint: Member must not be null` (AWS writes `null` unquoted) |
| enum value not in the set | ValidationException `... Member must satisfy enum value set: [A, B]` |
| a JSON value of the wrong type (string for a number, list for a structure) [I] | SerializationException, as AWS's JSON 1.1 deserialiser answers: `Start of list found where not expected`, `STRING_VALUE can not be converted to an Integer`, with the path appended so the caller can find it |
| paths | 1-based `.member` form AWS writes: `pipeline.stages.1.member.actions.2.member.name`; map values are reported at the map (`...configuration`) |

Lengths, patterns and ranges are checked at the wire from botocore's model; the structural
rules (stage counts, artifact flow, ...) live in `tui.model.validation`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from tui.model.errors import AwsError, SerializationException, ValidationException

ActionCategory = Literal["Source", "Build", "Deploy", "Test", "Invoke", "Approval", "Compute"]
ActionOwner = Literal["AWS", "ThirdParty", "Custom"]
ArtifactStoreType = Literal["S3"]
EncryptionKeyType = Literal["KMS"]
ExecutionMode = Literal["QUEUED", "SUPERSEDED", "PARALLEL"]
PipelineType = Literal["V1", "V2"]
PipelineTriggerProviderType = Literal["CodeStarSourceConnection"]
GitPullRequestEventType = Literal["OPEN", "UPDATED", "CLOSED"]
EnvironmentVariableType = Literal["PLAINTEXT", "SECRETS_MANAGER"]
BlockerType = Literal["Schedule"]
Result = Literal["ROLLBACK", "FAIL", "RETRY", "SKIP"]
StageRetryMode = Literal["FAILED_ACTIONS", "ALL_ACTIONS"]
RuleCategory = Literal["Rule"]
RuleOwner = Literal["AWS"]


class _Shape(BaseModel):
    """A botocore structure: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        # JSON types are not coerced: "5" is not a runOrder, AWS rejects it too.
        strict=True,
        # Validators are built at first use, not at import (see tui/model/state.py's ApiShape).
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    def to_api(self) -> dict[str, Any]:
        """The JSON form AWS returns: camelCase, absent members left out, defaults kept."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ActionTypeId(_Shape):
    model_config = ConfigDict(frozen=True)

    category: ActionCategory
    owner: ActionOwner
    provider: str
    version: str

    def describe(self) -> str:
        """The form AWS uses in messages about an action type."""
        return (
            f"ActionType (Category: '{self.category}', Provider: '{self.provider}', "
            f"Owner: '{self.owner}', Version: '{self.version}')"
        )


class InputArtifact(_Shape):
    name: str


class OutputArtifact(_Shape):
    name: str
    # Commands actions only: the globs that make up the artifact.
    files: list[str] | None = None


class EncryptionKey(_Shape):
    id: str
    type: EncryptionKeyType


class ArtifactStore(_Shape):
    type: ArtifactStoreType
    location: str
    encryption_key: EncryptionKey | None = None


class EnvironmentVariable(_Shape):
    name: str
    value: str
    type: EnvironmentVariableType | None = None


class ActionDeclaration(_Shape):
    name: str
    action_type_id: ActionTypeId
    run_order: int = 1
    configuration: dict[str, str] = Field(default_factory=dict)
    commands: list[str] | None = None
    output_artifacts: list[OutputArtifact] = Field(default_factory=list)
    input_artifacts: list[InputArtifact] = Field(default_factory=list)
    output_variables: list[str] | None = None
    role_arn: str | None = None
    region: str | None = None
    namespace: str | None = None
    timeout_in_minutes: int | None = None
    environment_variables: list[EnvironmentVariable] | None = None


class BlockerDeclaration(_Shape):
    name: str
    type: BlockerType


class RuleTypeId(_Shape):
    category: RuleCategory
    owner: RuleOwner | None = None
    provider: str
    version: str | None = None


class RuleDeclaration(_Shape):
    name: str
    rule_type_id: RuleTypeId
    configuration: dict[str, str] | None = None
    commands: list[str] | None = None
    input_artifacts: list[InputArtifact] | None = None
    role_arn: str | None = None
    region: str | None = None
    timeout_in_minutes: int | None = None


class Condition(_Shape):
    result: Result | None = None
    rules: list[RuleDeclaration] | None = None


class RetryConfiguration(_Shape):
    retry_mode: StageRetryMode | None = None


class FailureConditions(_Shape):
    result: Result | None = None
    retry_configuration: RetryConfiguration | None = None
    conditions: list[Condition] | None = None


class SuccessConditions(_Shape):
    conditions: list[Condition]


class BeforeEntryConditions(_Shape):
    conditions: list[Condition]


class StageDeclaration(_Shape):
    name: str
    blockers: list[BlockerDeclaration] | None = None
    actions: list[ActionDeclaration]
    on_failure: FailureConditions | None = None
    on_success: SuccessConditions | None = None
    before_entry: BeforeEntryConditions | None = None

    def action(self, name: str) -> ActionDeclaration | None:
        return next((a for a in self.actions if a.name == name), None)

    def run_order_groups(self) -> list[list[ActionDeclaration]]:
        """Actions grouped by runOrder, ascending; declaration order inside a group."""
        groups: dict[int, list[ActionDeclaration]] = {}
        for action in self.actions:
            groups.setdefault(action.run_order, []).append(action)
        return [groups[order] for order in sorted(groups)]


class PipelineVariableDeclaration(_Shape):
    name: str
    default_value: str | None = None
    description: str | None = None


class GitTagFilterCriteria(_Shape):
    includes: list[str] | None = None
    excludes: list[str] | None = None


class GitBranchFilterCriteria(_Shape):
    includes: list[str] | None = None
    excludes: list[str] | None = None


class GitFilePathFilterCriteria(_Shape):
    includes: list[str] | None = None
    excludes: list[str] | None = None


class GitPushFilter(_Shape):
    tags: GitTagFilterCriteria | None = None
    branches: GitBranchFilterCriteria | None = None
    file_paths: GitFilePathFilterCriteria | None = None


class GitPullRequestFilter(_Shape):
    events: list[GitPullRequestEventType] | None = None
    branches: GitBranchFilterCriteria | None = None
    file_paths: GitFilePathFilterCriteria | None = None


class GitConfiguration(_Shape):
    source_action_name: str
    push: list[GitPushFilter] | None = None
    pull_request: list[GitPullRequestFilter] | None = None


class PipelineTriggerDeclaration(_Shape):
    provider_type: PipelineTriggerProviderType
    git_configuration: GitConfiguration


class PipelineDeclaration(_Shape):
    name: str
    role_arn: str
    artifact_store: ArtifactStore | None = None
    artifact_stores: dict[str, ArtifactStore] | None = None
    stages: list[StageDeclaration]
    version: int = 1
    execution_mode: ExecutionMode = "SUPERSEDED"
    pipeline_type: PipelineType = "V1"
    variables: list[PipelineVariableDeclaration] | None = None
    triggers: list[PipelineTriggerDeclaration] | None = None

    def stage(self, name: str) -> StageDeclaration | None:
        return next((s for s in self.stages if s.name == name), None)

    def iter_actions(self) -> Iterator[tuple[StageDeclaration, ActionDeclaration]]:
        """Every action with its stage, in declaration order."""
        for stage in self.stages:
            for action in stage.actions:
                yield stage, action


# ---------------------------------------------------------------------------
# Turning pydantic errors into AWS errors.

# Members whose JSON value is a map: a string after them in an error location is a key.
_MAP_MEMBERS = frozenset({"configuration", "artifactStores", "artifact_stores"})

_TYPE_NAMES = {
    "int_type": "an Integer",
    "string_type": "a String",
    "bool_type": "a Boolean",
    "float_type": "a Double",
}


def java_text(value: object) -> str:
    """A value as AWS's (Java) messages print it: null, true, [a, b], {k=v}."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{java_text(k)}={java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_text(v) for v in value) + "]"
    return str(value)


def constraint_violation(value: object, path: str, constraint: str) -> str:
    """One failure in AWS's wording; `null` is written bare, anything else quoted."""
    shown = "null" if value is None else f"'{java_text(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def validation_exception(violations: Sequence[str]) -> ValidationException:
    """`N validation error(s) detected: a; b`, as AWS sums up constraint failures."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return ValidationException(f"{count} validation {noun} detected: " + "; ".join(violations))


def member_path(prefix: str, loc: Sequence[int | str]) -> tuple[str, bool]:
    """AWS's path for a pydantic location, and whether it ends inside a map.

    ('stages', 0, 'actions', 1, 'name') -> 'pipeline.stages.1.member.actions.2.member.name'.
    """
    path = prefix
    in_map = False
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            path += f".{part + 1}.member"
            in_map = False
        elif previous in _MAP_MEMBERS and not in_map:
            in_map = True  # the key: reported at the map itself
        elif part == "[key]":
            in_map = True
        else:
            path += f".{part}"
            in_map = False
        previous = part
    return path, in_map


def _serialization_message(error: ErrorDetails, path: str) -> str:
    value = error["input"]
    if isinstance(value, Mapping):
        found = "Start of structure or map found where not expected"
    elif isinstance(value, list | tuple):
        found = "Start of list found where not expected"
    else:
        token = (
            ("TRUE_VALUE" if value else "FALSE_VALUE")
            if isinstance(value, bool)
            else "NUMBER_VALUE"
            if isinstance(value, int | float)
            else "STRING_VALUE"
        )
        target = _TYPE_NAMES.get(error["type"], "a structure, map or list")
        found = f"{token} can not be converted to {target}"
    return f"{found} (at '{path}')"


def _is_type_error(error: ErrorDetails) -> bool:
    if error["input"] is None:
        return False  # null is "must not be null", a validation error
    if error["type"] == "literal_error":
        return not isinstance(error["input"], str)
    return error["type"] != "missing"


def _violation(error: ErrorDetails, path: str, in_map: bool) -> str:
    kind = error["type"]
    if kind == "missing" or error["input"] is None:
        constraint = "Member must not be null"
        value: object = None
    elif kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", ""))
        choices = [part.strip().strip("'") for part in expected.replace(" or ", ",").split(",")]
        constraint = f"Member must satisfy enum value set: [{', '.join(c for c in choices if c)}]"
        value = error["input"]
    else:
        constraint = f"Member is not valid: {error['msg']}"
        value = error["input"]
    if in_map:
        constraint = f"Map value must satisfy constraint: [{constraint}]"
    return constraint_violation(value, path, constraint)


def aws_error_from_pydantic(error: ValidationError, prefix: str) -> AwsError:
    """The AWS error for a failed model validation of the member `prefix`."""
    details = error.errors(include_url=False)
    for detail in details:
        if _is_type_error(detail):
            path, _ = member_path(prefix, detail["loc"])
            return SerializationException(_serialization_message(detail, path))
    violations = []
    for detail in details:
        path, in_map = member_path(prefix, detail["loc"])
        violations.append(_violation(detail, path, in_map))
    return validation_exception(violations)


def parse_pipeline(data: object) -> PipelineDeclaration:
    """A PipelineDeclaration from get-pipeline / create-pipeline JSON, or the AWS error.

    Raises only AwsError subclasses, whatever `data` is.
    """
    if data is None:
        raise validation_exception(
            [constraint_violation(None, "pipeline", "Member must not be null")]
        )
    try:
        return PipelineDeclaration.model_validate(data)
    except ValidationError as error:
        raise aws_error_from_pydantic(error, "pipeline") from None
    except (RecursionError, ValueError, TypeError) as error:
        # Pathologically deep or odd Python objects; JSON input never gets here.
        raise SerializationException(f"The pipeline could not be read: {error}") from None
