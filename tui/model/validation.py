"""Structural validation of a pipeline declaration (CreatePipeline / UpdatePipeline).

`validate_pipeline` raises the first violation it finds, checking in the order of the
table below. Field lengths, patterns, enums and ranges of single members are checked at
the wire from botocore's model; the few repeated here (runOrder, configuration sizes) are
the ones the engine must rely on even for declarations that never crossed the wire.

AWS documents the rules but not which error each one raises. Where AWS's own message is
known (quoted from real responses) we use its class and wording; everything else is our
decision [I].

| # | Rule | Error |
|---|---|---|
| 1 | exactly one of artifactStore / artifactStores | InvalidStructureException [I] |
| 2 | V2-only features on a V1 pipeline: variables, triggers, QUEUED/PARALLEL, Compute category, stage conditions, onFailure ROLLBACK | ValidationException [I] |
| 3 | PARALLEL execution mode with rollback (onFailure ROLLBACK or a ROLLBACK condition) | ValidationException [I] |
| 4 | 2-50 stages (message as moto and AWS write it) | InvalidStructureException |
| 5 | at most 500 actions in the pipeline | InvalidStructureException [I] |
| 6 | stage names unique | InvalidStructureException [I] |
| 7 | 1-50 actions per stage | InvalidStructureException [I] |
| 8 | action names unique within a stage | InvalidStageDeclarationException [I] |
| 9 | runOrder 1-999 | ValidationException, AWS constraint wording |
| 10 | action type known (`find_type`) | InvalidActionDeclarationException, AWS wording "... is not available in region ..." |
| 11 | input/output artifact counts of the type | InvalidActionDeclarationException, AWS wording "Action X declares N input artifacts which is less than the minimum count (M)" |
| 12 | configuration keys 1-50 chars, values 1-1000 chars (unresolved `#{...}` included) | ValidationException, AWS map wording |
| 13 | required configuration keys present; S3 deploy with Extract=false needs ObjectKey [I] | InvalidActionDeclarationException |
| 14 | unknown configuration keys: rejected for Custom types only [I] (the built-in catalogue lists at most 10 properties per type, as ListActionTypes does, so it is not a complete list of the keys AWS accepts) | InvalidActionDeclarationException |
| 15 | Commands: needs `commands`, takes no configuration, its output artifacts need `files` [I]; `commands` and `files` only on Commands | InvalidActionDeclarationException [I] |
| 16 | first stage: only Source actions; Source actions only in the first stage; at least one non-source action | InvalidStructureException [I] |
| 17 | output artifact names unique in the pipeline | InvalidStructureException [I], AWS wording "Output Artifact Bundle name must be unique ..." |
| 18 | every input artifact is the output of an action that runs strictly earlier (earlier stage, or same stage and lower runOrder) | InvalidStructureException [I] |
| 19 | namespaces unique (AWS wording and class), not `codepipeline` or `variables` [I], not equal to an artifact name [I] | InvalidActionDeclarationException |
| 20 | `#{Namespace.Key}` in configuration or environment variable values names a namespace of an action that runs strictly earlier; `#{variables.X}` a declared pipeline variable; `#{codepipeline.*}` only PipelineExecutionId | InvalidStructureException [I] |
| 21 | pipeline variable names unique | InvalidStructureException [I] |
| 22 | a trigger names a CodeStarSourceConnection source action of the pipeline, at most one trigger per action | InvalidStructureException [I] |
| 23 | stage conditions: beforeEntry result FAIL or SKIP (SKIP only with LambdaInvoke/VariableCheck rules), onSuccess ROLLBACK or FAIL, onFailure ROLLBACK, RETRY or FAIL; retryConfiguration only with RETRY; no rollback in the first stage; known rule types; rule names unique in a condition | InvalidStageDeclarationException [I] |
| 24 | rule input artifacts and variable references available where the rule runs (beforeEntry: before the stage; onSuccess/onFailure: after it) | InvalidStructureException [I] |
| 25 | with `region` given: artifactStores covers the pipeline's region and every action region; a cross-region action needs artifactStores; Source, ThirdParty, Custom and Commands actions cannot be cross-region | InvalidStructureException / InvalidActionDeclarationException [I] |

Not checked here: the pipeline name being in use (PipelineNameInUseException) and the
per-region pipeline quota (LimitExceededException) need the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tui.model.action_types import ActionTypeSpec, find_aws_action_type_by_id
from tui.model.declaration import (
    ActionDeclaration,
    ActionTypeId,
    Condition,
    InputArtifact,
    PipelineDeclaration,
    StageDeclaration,
    constraint_violation,
    validation_exception,
)
from tui.model.errors import (
    InvalidActionDeclarationException,
    InvalidStageDeclarationException,
    InvalidStructureException,
    ValidationException,
)

# `#{Namespace.Key}`: the namespace as ActionNamespace allows it, the key as output
# variable names (PutJobSuccessResult.outputVariables keys) allow it.
VARIABLE_REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_]+)\}")

RESERVED_NAMESPACE = "codepipeline"
PIPELINE_VARIABLES_NAMESPACE = "variables"
IMPLICIT_VARIABLES = frozenset({"PipelineExecutionId"})

MIN_STAGES, MAX_STAGES = 2, 50
MAX_ACTIONS_PER_STAGE = 50
MAX_ACTIONS_PER_PIPELINE = 500
MIN_RUN_ORDER, MAX_RUN_ORDER = 1, 999
MAX_CONFIGURATION_KEY, MAX_CONFIGURATION_VALUE = 50, 1000

RULE_PROVIDERS = frozenset(
    {
        "CloudWatchAlarm",
        "CodeBuild",
        "Commands",
        "DeploymentWindow",
        "LambdaInvoke",
        "VariableCheck",
    }
)
SKIP_RULE_PROVIDERS = frozenset({"LambdaInvoke", "VariableCheck"})

FindType = Callable[[ActionTypeId], ActionTypeSpec | None]


def find_variable_references(text: str) -> list[tuple[str, str]]:
    """Every `#{namespace.key}` in `text`, in order of appearance (repeats kept)."""
    return [(match.group(1), match.group(2)) for match in VARIABLE_REFERENCE.finditer(text)]


def validate_pipeline(
    decl: PipelineDeclaration,
    *,
    find_type: FindType = find_aws_action_type_by_id,
    region: str | None = None,
) -> None:
    """Raise the AWS error for the first structural violation in `decl`; None if valid.

    `find_type` resolves action types (the built-in catalogue by default; the engine
    passes one that also knows the account's custom types). `region`, when given, is the
    pipeline's region and enables the cross-region checks.
    """
    _check_artifact_store(decl)
    _check_pipeline_type(decl)
    _check_parallel_rollback(decl)
    _check_counts_and_names(decl)
    for stage_index, stage in enumerate(decl.stages):
        for action_index, action in enumerate(stage.actions):
            path = f"pipeline.stages.{stage_index + 1}.member.actions.{action_index + 1}.member"
            _check_action(path, stage, action, find_type, region)
    _check_source_placement(decl)
    _check_artifact_flow(decl)
    _check_namespaces(decl)
    _check_variable_references(decl)
    _check_pipeline_variables(decl)
    _check_triggers(decl)
    _check_conditions(decl)
    if region is not None:
        _check_regions(decl, region)


# ---------------------------------------------------------------------------
# 1-3: pipeline-wide settings


def _check_artifact_store(decl: PipelineDeclaration) -> None:
    if decl.artifact_store is not None and decl.artifact_stores is not None:
        raise InvalidStructureException(
            "Pipeline declares both artifactStore and artifactStores; declare only one"
        )
    if decl.artifact_store is None and not decl.artifact_stores:
        raise InvalidStructureException("Pipeline must declare an artifactStore or artifactStores")


def _has_rollback_condition(stage: StageDeclaration) -> bool:
    conditions = list(stage.on_success.conditions) if stage.on_success else []
    if stage.on_failure and stage.on_failure.conditions:
        conditions += stage.on_failure.conditions
    return any(c.result == "ROLLBACK" for c in conditions)


def _check_pipeline_type(decl: PipelineDeclaration) -> None:
    if decl.pipeline_type == "V2":
        return
    v2_only = "which is supported only in pipelines of type V2"
    if decl.variables:
        raise ValidationException(f"Pipeline declares variables, {v2_only}")
    if decl.triggers:
        raise ValidationException(f"Pipeline declares triggers, {v2_only}")
    if decl.execution_mode != "SUPERSEDED":
        raise ValidationException(f"Pipeline uses execution mode {decl.execution_mode}, {v2_only}")
    for stage in decl.stages:
        for action in stage.actions:
            if action.action_type_id.category == "Compute":
                raise ValidationException(
                    f"Action '{action.name}' in stage '{stage.name}' has category Compute, {v2_only}"
                )
        has_conditions = (
            stage.before_entry is not None
            or stage.on_success is not None
            or (stage.on_failure is not None and bool(stage.on_failure.conditions))
        )
        if has_conditions:
            raise ValidationException(f"Stage '{stage.name}' declares conditions, {v2_only}")
        if stage.on_failure is not None and stage.on_failure.result == "ROLLBACK":
            raise ValidationException(
                f"Stage '{stage.name}' declares rollback on failure, {v2_only}"
            )


def _check_parallel_rollback(decl: PipelineDeclaration) -> None:
    if decl.execution_mode != "PARALLEL":
        return
    for stage in decl.stages:
        rollback_on_failure = stage.on_failure is not None and stage.on_failure.result == "ROLLBACK"
        if rollback_on_failure or _has_rollback_condition(stage):
            raise ValidationException(
                f"Stage '{stage.name}' declares rollback, which is not supported "
                "in PARALLEL execution mode"
            )


# ---------------------------------------------------------------------------
# 4-8: counts and names


def _check_counts_and_names(decl: PipelineDeclaration) -> None:
    count = len(decl.stages)
    if count < MIN_STAGES:
        raise InvalidStructureException(
            f"Pipeline has only {count} stage(s). "
            f"There should be a minimum of {MIN_STAGES} stages in a pipeline"
        )
    if count > MAX_STAGES:
        raise InvalidStructureException(
            f"Pipeline has {count} stages. "
            f"There should be a maximum of {MAX_STAGES} stages in a pipeline"
        )
    total = sum(len(stage.actions) for stage in decl.stages)
    if total > MAX_ACTIONS_PER_PIPELINE:
        raise InvalidStructureException(
            f"Pipeline has {total} actions. "
            f"There should be a maximum of {MAX_ACTIONS_PER_PIPELINE} actions in a pipeline"
        )
    seen: set[str] = set()
    for stage in decl.stages:
        if stage.name in seen:
            raise InvalidStructureException(
                f"Pipeline has more than one stage named '{stage.name}'. "
                "Stage names must be unique within a pipeline"
            )
        seen.add(stage.name)
    for stage in decl.stages:
        if not stage.actions:
            raise InvalidStructureException(
                f"Stage '{stage.name}' has no actions. "
                "There should be a minimum of 1 action in a stage"
            )
        if len(stage.actions) > MAX_ACTIONS_PER_STAGE:
            raise InvalidStructureException(
                f"Stage '{stage.name}' has {len(stage.actions)} actions. "
                f"There should be a maximum of {MAX_ACTIONS_PER_STAGE} actions in a stage"
            )
        names: set[str] = set()
        for action in stage.actions:
            if action.name in names:
                raise InvalidStageDeclarationException(
                    f"Stage '{stage.name}' has more than one action named '{action.name}'. "
                    "Action names must be unique within a stage"
                )
            names.add(action.name)


# ---------------------------------------------------------------------------
# 9-15: each action on its own


def _check_action(
    path: str,
    stage: StageDeclaration,
    action: ActionDeclaration,
    find_type: FindType,
    region: str | None,
) -> None:
    """Rules 9-15; `path` is the action's AWS member path, for constraint messages."""
    if not MIN_RUN_ORDER <= action.run_order <= MAX_RUN_ORDER:
        bound, word = (
            (MIN_RUN_ORDER, "greater")
            if action.run_order < MIN_RUN_ORDER
            else (MAX_RUN_ORDER, "less")
        )
        raise validation_exception(
            [
                constraint_violation(
                    action.run_order,
                    f"{path}.runOrder",
                    f"Member must have value {word} than or equal to {bound}",
                )
            ]
        )

    spec = find_type(action.action_type_id)
    if spec is None:
        where = f" in region '{region.upper().replace('-', '_')}'" if region else ""
        raise InvalidActionDeclarationException(
            f"{action.action_type_id.describe()} in action '{action.name}' is not available{where}"
        )
    _check_artifact_count(action, "input", len(action.input_artifacts), spec)
    _check_artifact_count(action, "output", len(action.output_artifacts), spec)
    _check_configuration_sizes(action, path)
    _check_configuration_keys(action, spec)
    _check_commands(stage, action)


def _check_artifact_count(
    action: ActionDeclaration, kind: str, count: int, spec: ActionTypeSpec
) -> None:
    details = spec.input_artifacts if kind == "input" else spec.output_artifacts
    if count < details.minimum_count:
        raise InvalidActionDeclarationException(
            f"Action {action.name} declares {count} {kind} artifacts which is less than "
            f"the minimum count ({details.minimum_count})"
        )
    if count > details.maximum_count:
        raise InvalidActionDeclarationException(
            f"Action {action.name} declares {count} {kind} artifacts which is greater than "
            f"the maximum count ({details.maximum_count})"
        )


def _check_configuration_sizes(action: ActionDeclaration, path: str) -> None:
    failures: list[str] = []
    for key, value in action.configuration.items():
        if not 1 <= len(key) <= MAX_CONFIGURATION_KEY:
            failures.append(_map_failure(action, path, "Map keys", len(key), MAX_CONFIGURATION_KEY))
        if not 1 <= len(value) <= MAX_CONFIGURATION_VALUE:
            failures.append(
                _map_failure(action, path, "Map value", len(value), MAX_CONFIGURATION_VALUE)
            )
    if failures:
        raise validation_exception(failures)


def _map_failure(action: ActionDeclaration, path: str, part: str, length: int, limit: int) -> str:
    bound = (
        f"Member must have length less than or equal to {limit}"
        if length > limit
        else "Member must have length greater than or equal to 1"
    )
    return constraint_violation(
        action.configuration,
        f"{path}.configuration",
        f"{part} must satisfy constraint: [{bound}]",
    )


def _check_configuration_keys(action: ActionDeclaration, spec: ActionTypeSpec) -> None:
    configuration = action.configuration
    for key in spec.required_keys:
        if key not in configuration:
            raise InvalidActionDeclarationException(
                f"Action configuration for action '{action.name}' is missing required "
                f"configuration '{key}'"
            )
    type_id = action.action_type_id
    is_s3_deploy = (type_id.category, type_id.owner, type_id.provider) == ("Deploy", "AWS", "S3")
    if (
        is_s3_deploy
        and configuration.get("Extract", "").lower() == "false"
        and "ObjectKey" not in configuration
    ):
        raise InvalidActionDeclarationException(
            f"Action configuration for action '{action.name}' is missing required "
            "configuration 'ObjectKey', which is required when 'Extract' is false"
        )
    if type_id.owner == "Custom":
        known = {p.name for p in spec.configuration_properties}
        for key in configuration:
            if key not in known:
                raise InvalidActionDeclarationException(
                    f"Action configuration for action '{action.name}' contains unknown "
                    f"configuration '{key}'"
                )


def _is_commands(action: ActionDeclaration) -> bool:
    type_id = action.action_type_id
    return (type_id.category, type_id.owner, type_id.provider) == ("Compute", "AWS", "Commands")


def _check_commands(stage: StageDeclaration, action: ActionDeclaration) -> None:
    where = f"Action '{action.name}' in stage '{stage.name}'"
    if not _is_commands(action):
        if action.commands is not None:
            raise InvalidActionDeclarationException(
                f"{where} declares commands, which only Commands actions take"
            )
        for artifact in action.output_artifacts:
            if artifact.files is not None:
                raise InvalidActionDeclarationException(
                    f"Output artifact '{artifact.name}' of action '{action.name}' in stage "
                    f"'{stage.name}' declares files, which only Commands actions take"
                )
        return
    if not action.commands:
        raise InvalidActionDeclarationException(f"{where} is a Commands action without commands")
    if action.configuration:
        key = next(iter(action.configuration))
        raise InvalidActionDeclarationException(
            f"{where} is a Commands action, which takes no configuration, "
            f"but declares configuration '{key}'"
        )
    for artifact in action.output_artifacts:
        if not artifact.files:
            raise InvalidActionDeclarationException(
                f"Output artifact '{artifact.name}' of Commands action '{action.name}' in "
                f"stage '{stage.name}' must declare the files it contains"
            )


# ---------------------------------------------------------------------------
# 16-18: sources and artifact flow


def _check_source_placement(decl: PipelineDeclaration) -> None:
    first = decl.stages[0]
    for action in first.actions:
        if action.action_type_id.category != "Source":
            raise InvalidStructureException(
                f"Stage '{first.name}' is the first stage and may contain only source "
                f"actions, but action '{action.name}' has category "
                f"{action.action_type_id.category}"
            )
    for stage in decl.stages[1:]:
        for action in stage.actions:
            if action.action_type_id.category == "Source":
                raise InvalidStructureException(
                    f"Action '{action.name}' in stage '{stage.name}' is a source action; "
                    "only the first stage of a pipeline may contain source actions"
                )
    # With sources confined to the first stage and at least two stages, a later stage
    # always holds a non-source action; this stays as the rule AWS states.
    if all(a.action_type_id.category == "Source" for _, a in decl.iter_actions()):
        raise InvalidStructureException(
            "Pipeline must contain at least one action that is not a source action"
        )


@dataclass
class _Scope:
    """What an action can see: artifacts and namespaces of actions strictly before it."""

    artifacts: set[str] = field(default_factory=set)
    namespaces: set[str] = field(default_factory=set)

    def add(self, actions: Iterable[ActionDeclaration]) -> None:
        for action in actions:
            self.artifacts.update(a.name for a in action.output_artifacts)
            if action.namespace is not None:
                self.namespaces.add(action.namespace)

    def copy(self) -> _Scope:
        return _Scope(set(self.artifacts), set(self.namespaces))


@dataclass
class _Scopes:
    """Scopes per action, before each stage and after each stage."""

    before_action: dict[tuple[int, str], _Scope]
    before_stage: list[_Scope]
    after_stage: list[_Scope]


def _scopes(decl: PipelineDeclaration) -> _Scopes:
    scope = _Scope()
    before_action: dict[tuple[int, str], _Scope] = {}
    before_stage: list[_Scope] = []
    after_stage: list[_Scope] = []
    for index, stage in enumerate(decl.stages):
        before_stage.append(scope.copy())
        for group in stage.run_order_groups():
            snapshot = scope.copy()
            for action in group:
                before_action[(index, action.name)] = snapshot
            scope.add(group)
        after_stage.append(scope.copy())
    return _Scopes(before_action, before_stage, after_stage)


def _check_artifact_flow(decl: PipelineDeclaration) -> None:
    produced: set[str] = set()
    for _, action in decl.iter_actions():
        for artifact in action.output_artifacts:
            if artifact.name in produced:
                raise InvalidStructureException(
                    "Output Artifact Bundle name must be unique within the pipeline. "
                    f"{artifact.name} has been used more than once."
                )
            produced.add(artifact.name)
    scopes = _scopes(decl)
    for index, stage in enumerate(decl.stages):
        for action in stage.actions:
            visible = scopes.before_action[(index, action.name)].artifacts
            _check_inputs(
                action.input_artifacts,
                visible,
                produced,
                f"action '{action.name}' in stage '{stage.name}'",
            )


def _check_inputs(
    inputs: Iterable[InputArtifact], visible: set[str], produced: set[str], consumer: str
) -> None:
    for artifact in inputs:
        if artifact.name in visible:
            continue
        if artifact.name in produced:
            raise InvalidStructureException(
                f"Input artifact '{artifact.name}' of {consumer} is not the output of an "
                "action that runs before it"
            )
        raise InvalidStructureException(
            f"Input artifact '{artifact.name}' of {consumer} is not the output of any "
            "action in the pipeline"
        )


# ---------------------------------------------------------------------------
# 19-20: namespaces and variables


def _check_namespaces(decl: PipelineDeclaration) -> None:
    artifact_names = {a.name for _, action in decl.iter_actions() for a in action.output_artifacts}
    seen: set[str] = set()
    for stage, action in decl.iter_actions():
        namespace = action.namespace
        if namespace is None:
            continue
        if namespace in seen:
            raise InvalidActionDeclarationException(
                "Namespaces must be unique across the pipeline definition. The following "
                "occur more than once in the pipeline. "
                f"StageName=[{stage.name}], ActionName=[{action.name}], Namespace=[{namespace}]"
            )
        seen.add(namespace)
        if namespace in (RESERVED_NAMESPACE, PIPELINE_VARIABLES_NAMESPACE):
            raise InvalidActionDeclarationException(
                f"Namespace '{namespace}' of action '{action.name}' in stage '{stage.name}' "
                "is reserved"
            )
        if namespace in artifact_names:
            raise InvalidActionDeclarationException(
                f"Namespace '{namespace}' of action '{action.name}' in stage '{stage.name}' "
                "is also the name of an artifact; namespaces and artifact names must differ"
            )


def _check_references(
    texts: Iterable[str], namespaces: set[str], variables: set[str], user: str
) -> None:
    for text in texts:
        for namespace, key in find_variable_references(text):
            reference = f"#{{{namespace}.{key}}}"
            if namespace == RESERVED_NAMESPACE:
                if key not in IMPLICIT_VARIABLES:
                    raise InvalidStructureException(
                        f"{user} references '{reference}', but the only variable of the "
                        f"reserved namespace '{RESERVED_NAMESPACE}' is PipelineExecutionId"
                    )
            elif namespace == PIPELINE_VARIABLES_NAMESPACE:
                if key not in variables:
                    raise InvalidStructureException(
                        f"{user} references '{reference}', but the pipeline declares no "
                        f"variable '{key}'"
                    )
            elif namespace not in namespaces:
                raise InvalidStructureException(
                    f"{user} references '{reference}', but no action that runs before it "
                    f"has the namespace '{namespace}'"
                )


def _action_texts(action: ActionDeclaration) -> list[str]:
    texts = list(action.configuration.values())
    texts += [variable.value for variable in action.environment_variables or []]
    return texts


def _check_variable_references(decl: PipelineDeclaration) -> None:
    variables = {v.name for v in decl.variables or []}
    scopes = _scopes(decl)
    for index, stage in enumerate(decl.stages):
        for action in stage.actions:
            _check_references(
                _action_texts(action),
                scopes.before_action[(index, action.name)].namespaces,
                variables,
                f"Action '{action.name}' in stage '{stage.name}'",
            )


# ---------------------------------------------------------------------------
# 21-22: pipeline variables and triggers


def _check_pipeline_variables(decl: PipelineDeclaration) -> None:
    seen: set[str] = set()
    for variable in decl.variables or []:
        if variable.name in seen:
            raise InvalidStructureException(
                f"Pipeline variable '{variable.name}' is declared more than once"
            )
        seen.add(variable.name)


def _check_triggers(decl: PipelineDeclaration) -> None:
    connection_sources = {
        action.name
        for action in decl.stages[0].actions
        if (action.action_type_id.owner, action.action_type_id.provider)
        == ("AWS", "CodeStarSourceConnection")
    }
    seen: set[str] = set()
    for trigger in decl.triggers or []:
        name = trigger.git_configuration.source_action_name
        if name not in connection_sources:
            raise InvalidStructureException(
                f"Trigger source action '{name}' is not a CodeStarSourceConnection source "
                "action of the pipeline"
            )
        if name in seen:
            raise InvalidStructureException(
                f"More than one trigger is declared for source action '{name}'"
            )
        seen.add(name)


# ---------------------------------------------------------------------------
# 23-24: stage conditions


_ALLOWED_RESULTS = {
    "beforeEntry": frozenset({"FAIL", "SKIP"}),
    "onSuccess": frozenset({"ROLLBACK", "FAIL"}),
    "onFailure": frozenset({"ROLLBACK", "RETRY", "FAIL"}),
}


def _stage_conditions(stage: StageDeclaration) -> list[tuple[str, Condition]]:
    found: list[tuple[str, Condition]] = []
    if stage.before_entry is not None:
        found += [("beforeEntry", c) for c in stage.before_entry.conditions]
    if stage.on_success is not None:
        found += [("onSuccess", c) for c in stage.on_success.conditions]
    if stage.on_failure is not None and stage.on_failure.conditions:
        found += [("onFailure", c) for c in stage.on_failure.conditions]
    return found


def _check_conditions(decl: PipelineDeclaration) -> None:
    variables = {v.name for v in decl.variables or []}
    scopes = _scopes(decl)
    produced = {a.name for _, action in decl.iter_actions() for a in action.output_artifacts}
    for index, stage in enumerate(decl.stages):
        _check_on_failure(index, stage)
        for place, condition in _stage_conditions(stage):
            _check_condition(index, stage, place, condition)
            scope = (
                scopes.before_stage[index] if place == "beforeEntry" else scopes.after_stage[index]
            )
            for rule in condition.rules or []:
                user = f"rule '{rule.name}' of the {place} condition of stage '{stage.name}'"
                _check_inputs(rule.input_artifacts or [], scope.artifacts, produced, user)
                _check_references(
                    (rule.configuration or {}).values(),
                    scope.namespaces,
                    variables,
                    user[0].upper() + user[1:],
                )


def _check_on_failure(index: int, stage: StageDeclaration) -> None:
    on_failure = stage.on_failure
    if on_failure is None:
        return
    result = on_failure.result
    if result is not None and result not in _ALLOWED_RESULTS["onFailure"]:
        raise InvalidStageDeclarationException(
            f"Stage '{stage.name}' declares onFailure result {result}; "
            "allowed results are ROLLBACK, RETRY and FAIL"
        )
    if on_failure.retry_configuration is not None and result != "RETRY":
        raise InvalidStageDeclarationException(
            f"Stage '{stage.name}' declares a retryConfiguration, which needs onFailure "
            "result RETRY"
        )
    if result == "ROLLBACK" and index == 0:
        raise InvalidStageDeclarationException(
            f"Stage '{stage.name}' is the first stage, which cannot be rolled back"
        )


def _check_condition(index: int, stage: StageDeclaration, place: str, condition: Condition) -> None:
    where = f"The {place} condition of stage '{stage.name}'"
    if condition.result is not None and condition.result not in _ALLOWED_RESULTS[place]:
        *others, last = sorted(_ALLOWED_RESULTS[place])
        allowed = f"{', '.join(others)} and {last}"
        raise InvalidStageDeclarationException(
            f"{where} has result {condition.result}; allowed results are {allowed}"
        )
    if condition.result == "ROLLBACK" and index == 0:
        raise InvalidStageDeclarationException(
            f"{where} rolls back, but the first stage cannot be rolled back"
        )
    rules = condition.rules or []
    if not rules:
        raise InvalidStageDeclarationException(f"{where} has no rules")
    names: set[str] = set()
    for rule in rules:
        type_id = rule.rule_type_id
        known = (
            type_id.provider in RULE_PROVIDERS
            and type_id.owner in (None, "AWS")
            and type_id.version in (None, "1")
        )
        if not known:
            raise InvalidStageDeclarationException(
                f"RuleType (Category: '{type_id.category}', Provider: '{type_id.provider}', "
                f"Owner: '{type_id.owner or 'AWS'}', Version: '{type_id.version or '1'}') "
                f"in rule '{rule.name}' is not available"
            )
        if rule.name in names:
            raise InvalidStageDeclarationException(
                f"{where} has more than one rule named '{rule.name}'"
            )
        names.add(rule.name)
    if condition.result == "SKIP":
        for rule in rules:
            if rule.rule_type_id.provider not in SKIP_RULE_PROVIDERS:
                raise InvalidStageDeclarationException(
                    f"{where} has result SKIP, which only LambdaInvoke and VariableCheck "
                    f"rules support, but rule '{rule.name}' is a "
                    f"{rule.rule_type_id.provider} rule"
                )


# ---------------------------------------------------------------------------
# 25: regions


def _check_regions(decl: PipelineDeclaration, region: str) -> None:
    stores = decl.artifact_stores
    if stores is not None and region not in stores:
        raise InvalidStructureException(
            f"artifactStores must include an artifact store for the pipeline's region '{region}'"
        )
    for stage, action in decl.iter_actions():
        action_region = action.region
        if action_region is None or action_region == region:
            continue
        where = f"Action '{action.name}' in stage '{stage.name}'"
        type_id = action.action_type_id
        if type_id.category == "Source" or type_id.owner != "AWS" or _is_commands(action):
            raise InvalidActionDeclarationException(
                f"{where} cannot run in another region ('{action_region}'): cross-region "
                "actions are not supported for source, third-party, custom or Commands actions"
            )
        if stores is None:
            raise InvalidStructureException(
                f"{where} runs in region '{action_region}'; cross-region actions need "
                "artifactStores with an artifact store for that region"
            )
        if action_region not in stores:
            raise InvalidStructureException(
                f"{where} runs in region '{action_region}', which has no artifact store "
                "in artifactStores"
            )
