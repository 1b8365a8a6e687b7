"""Names a module binds at import and imports on first use, for modules the first frame
needs whose code needs the model (pydantic, ~0.2 s to import) only once data arrives.

    if TYPE_CHECKING:
        from tui.model.fleet import FleetView, split_key
    else:
        FleetView, split_key = deferred(globals(), "tui.model.fleet", "FleetView", "split_key")

Each name is a stand-in until it is first used (called, given to `isinstance`, or an attribute
read): it then imports its module and puts the real object in the namespace in its place, so
every later use is the real object at no extra cost. Type checkers see the real import.

Decisions recorded here:

- Stand-ins, not function-level imports, where the code using the names belongs to someone
  else's edit (a screen's body): the module's import block alone decides when it loads what.
- Used only by modules the first frame imports (`tui.app.screens.pipelines`); everything
  else in the app imports what it needs where it needs it, after the first frame
  (`tui.app.app`).
"""

from __future__ import annotations

import importlib
from typing import Any


class Deferred:
    """One name of one module, imported on first use (see the module docstring)."""

    __slots__ = ("_module", "_name", "_namespace")

    def __init__(self, namespace: dict[str, Any], module: str, name: str) -> None:
        self._namespace = namespace
        self._module = module
        self._name = name

    def resolve(self) -> Any:
        """The real object; from now on the namespace holds it instead of this stand-in."""
        value = getattr(importlib.import_module(self._module), self._name)
        if self._namespace.get(self._name) is self:
            self._namespace[self._name] = value
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __instancecheck__(self, instance: object) -> bool:
        return isinstance(instance, self.resolve())

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.resolve(), attribute)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


def deferred(namespace: dict[str, Any], module: str, *names: str) -> tuple[Any, ...]:
    """Stand-ins for `names` of `module`, bound in `namespace` (a module's `globals()`)."""
    return tuple(Deferred(namespace, module, name) for name in names)
