"""The command palette finds pipelines: one hit per pipeline, which opens it."""

from __future__ import annotations

from functools import partial
from typing import Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.app.widgets.glyphs import look
from tui.model.view import WorkspaceView


class _PipelineApp(Protocol):
    @property
    def workspace(self) -> WorkspaceView: ...

    def open_pipeline(self, name: str) -> None: ...


class PipelineCommands(Provider):
    """`ctrl+p`, then part of a pipeline's name."""

    def _app(self) -> _PipelineApp | None:
        app = self.app
        if hasattr(app, "workspace") and hasattr(app, "open_pipeline"):
            return app
        return None

    async def search(self, query: str) -> Hits:
        app = self._app()
        if app is None:
            return
        matcher = self.matcher(query)
        for name, view in app.workspace.pipelines.items():
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(name),
                    partial(app.open_pipeline, name),
                    help=f"Open this pipeline · {look(view.status).word}",
                )

    async def discover(self) -> Hits:
        app = self._app()
        if app is None:
            return
        for name, view in app.workspace.pipelines.items():
            yield DiscoveryHit(
                name,
                partial(app.open_pipeline, name),
                help=f"Open this pipeline · {look(view.status).word}",
            )
