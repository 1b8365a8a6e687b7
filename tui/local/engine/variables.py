"""Resolving `#{namespace.key}` references in an action's configuration.

Resolved just before an action starts, from three sources: the reserved `codepipeline`
namespace (only `PipelineExecutionId`), `variables` (the V2 pipeline variables of the
execution: defaults overlaid with StartPipelineExecution's values) and the namespaces of
actions that already ran in the same execution. A reference that cannot be resolved fails
the action with a summary naming it, rather than passing the literal text on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tui.model.validation import VARIABLE_REFERENCE


class UnresolvedVariable(Exception):
    def __init__(self, references: list[str]) -> None:
        self.references = references
        super().__init__(
            "Unable to resolve the variable reference(s) "
            + ", ".join(f"#{{{r}}}" for r in references)
            + ": no such variable in this execution"
        )


def resolve_configuration(
    configuration: Mapping[str, str],
    *,
    execution_id: str,
    variables: Mapping[str, str],
    namespaces: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    missing: list[str] = []

    def lookup(match: re.Match[str]) -> str:
        namespace, key = match.group(1), match.group(2)
        value: str | None
        if namespace == "codepipeline":
            value = execution_id if key == "PipelineExecutionId" else None
        elif namespace == "variables":
            value = variables.get(key)
        else:
            value = namespaces.get(namespace, {}).get(key)
        if value is None:
            missing.append(f"{namespace}.{key}")
            return match.group(0)
        return value

    resolved = {
        name: VARIABLE_REFERENCE.sub(lookup, value) for name, value in configuration.items()
    }
    if missing:
        raise UnresolvedVariable(sorted(set(missing)))
    return resolved
