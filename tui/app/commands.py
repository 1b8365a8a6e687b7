"""The command palette finds pipelines: one hit per pipeline, which opens it; with several
contexts (accounts, regions) it also switches the list to one context or back to all."""

from __future__ import annotations

from functools import partial
from typing import Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.app.widgets.glyphs import look
from tui.model.fleet import FleetView, split_key
from tui.model.view import WorkspaceView


class _PipelineApp(Protocol):
    @property
    def listing(self) -> WorkspaceView | FleetView: ...

    def open_pipeline(self, name: str) -> None: ...


class _ContextApp(Protocol):
    def show_context(self, label: str | None) -> None: ...


def _context_labels(app: object) -> tuple[str, ...]:
    watched = getattr(app, "watched", None)
    if watched is None or not watched.several:
        return ()
    labels: tuple[str, ...] = watched.labels
    return labels


def _where(key: str) -> str:
    """The context a list key names, as a hint's suffix (nothing for a plain name)."""
    located = split_key(key)
    return f" · in {located[0]}" if located is not None else ""


class PipelineCommands(Provider):
    """`ctrl+p`, then part of a pipeline's name."""

    def _app(self) -> _PipelineApp | None:
        app = self.app
        if hasattr(app, "listing") and hasattr(app, "open_pipeline"):
            return app
        return None

    async def search(self, query: str) -> Hits:
        app = self._app()
        if app is None:
            return
        matcher = self.matcher(query)
        for name, view in app.listing.pipelines.items():
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(name),
                    partial(app.open_pipeline, name),
                    help=f"Open this pipeline · {look(view.status).word}{_where(name)}",
                )

    async def discover(self) -> Hits:
        app = self._app()
        if app is None:
            return
        for name, view in app.listing.pipelines.items():
            yield DiscoveryHit(
                name,
                partial(app.open_pipeline, name),
                help=f"Open this pipeline · {look(view.status).word}{_where(name)}",
            )


class ContextCommands(Provider):
    """With several contexts: "Show context: <label>" and "Show all contexts"."""

    def _choices(self) -> list[tuple[str, str | None, str]]:
        labels = _context_labels(self.app)
        choices: list[tuple[str, str | None, str]] = [
            (f"Show context: {label}", label, f"Only the pipelines of {label}") for label in labels
        ]
        if labels:
            choices.append(("Show all contexts", None, "The pipelines of every context"))
        return choices

    def _show(self) -> _ContextApp | None:
        app = self.app
        return app if hasattr(app, "show_context") else None

    async def search(self, query: str) -> Hits:
        app = self._show()
        if app is None:
            return
        matcher = self.matcher(query)
        for text, label, help_text in self._choices():
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(text), partial(app.show_context, label), help=help_text
                )

    async def discover(self) -> Hits:
        app = self._show()
        if app is None:
            return
        for text, label, help_text in self._choices():
            yield DiscoveryHit(text, partial(app.show_context, label), help=help_text)
