"""What the screens tell the app (messages up), and what the app's hooks take.

Screens never push each other: they post `OpenPipeline`, `OpenLogs`, ... and the app
decides (`PipetopApp.open_pipeline`, `open_logs`, `open_artifacts`, `open_history`,
`open_help`). The logs, artifacts, history and help screens are registered by name
(`PipetopApp.register_screen`); until one is, its key shows dimmed and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    # Annotations only: the first frame imports these messages, not the model or tui.aws.
    from tui.aws.errors import ClientProblem
    from tui.model.projection import ActionView


@dataclass(frozen=True)
class ActionRef:
    """One action run, as the logs and artifacts screens need it."""

    pipeline: str
    stage: str
    action: str
    execution_id: str | None
    """The pipeline execution whose run of the action is meant (None: its latest run)."""
    view: ActionView
    """What the pipeline screen showed of it (status, log stream ARN, external ids, links,
    artifacts)."""


class OpenPipeline(Message):
    """Open the pipeline screen of `pipeline`."""

    def __init__(self, pipeline: str) -> None:
        super().__init__()
        self.pipeline = pipeline


class OpenLogs(Message):
    def __init__(self, ref: ActionRef) -> None:
        super().__init__()
        self.ref = ref


class OpenArtifacts(Message):
    def __init__(self, ref: ActionRef) -> None:
        super().__init__()
        self.ref = ref


class OpenHistory(Message):
    """Open the execution history of `pipeline`."""

    def __init__(self, pipeline: str) -> None:
        super().__init__()
        self.pipeline = pipeline


class ProblemOccurred(Message):
    """A call a screen made on demand failed; the app shows it like the watcher's problems."""

    def __init__(self, problem: ClientProblem) -> None:
        super().__init__()
        self.problem = problem
