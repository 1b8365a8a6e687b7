"""What AWS accepts in a declaration but the local engine cannot honour, refused up front.

CreatePipeline and UpdatePipeline call `refuse_unsupported` after the structural validation
(`tui.model.validation`), so a declaration AWS itself would refuse still gets AWS's error
first. A pipeline is never stored with parts the engine would silently ignore.

Refused [I]:

- Stage conditions: `beforeEntry.conditions`, `onSuccess.conditions` and
  `onFailure.conditions` (rules of CloudWatchAlarm, DeploymentWindow, LambdaInvoke,
  VariableCheck, Commands, CodeBuild). The engine runs no rules, so it cannot decide a
  condition; running the stage as if the condition had passed would deploy what the
  condition was written to hold back. Before this check such declarations were accepted and
  their conditions ignored. The error is InvalidStageDeclarationException (the class AWS
  uses for a stage's conditions) naming the stage, the field and the rules.

Honoured, so not refused: `onFailure.result` RETRY (with `retryConfiguration`), ROLLBACK
and FAIL without conditions (scheduler.py, rollback.py); `blockers` (reserved by AWS,
accepted and ignored, as AWS does).
"""

from __future__ import annotations

from tui.model.declaration import Condition, PipelineDeclaration, StageDeclaration
from tui.model.errors import InvalidStageDeclarationException


def _conditions(stage: StageDeclaration) -> list[tuple[str, list[Condition]]]:
    found: list[tuple[str, list[Condition]]] = []
    if stage.before_entry is not None and stage.before_entry.conditions:
        found.append(("beforeEntry", stage.before_entry.conditions))
    if stage.on_success is not None and stage.on_success.conditions:
        found.append(("onSuccess", stage.on_success.conditions))
    if stage.on_failure is not None and stage.on_failure.conditions:
        found.append(("onFailure", stage.on_failure.conditions))
    return found


def refuse_unsupported(declaration: PipelineDeclaration) -> None:
    """Raise InvalidStageDeclarationException for the first stage condition declared."""
    for index, stage in enumerate(declaration.stages):
        for place, conditions in _conditions(stage):
            rules = [
                f"{rule.name} ({rule.rule_type_id.provider})"
                for condition in conditions
                for rule in condition.rules or []
            ]
            named = f" with rules {', '.join(rules)}" if rules else ""
            raise InvalidStageDeclarationException(
                f"Stage '{stage.name}' declares {place} conditions{named} "
                f"(pipeline.stages.{index + 1}.member.{place}.conditions), which the local "
                "engine does not evaluate. Remove them to run this pipeline locally; "
                "onFailure results RETRY, ROLLBACK and FAIL without conditions are supported."
            )
