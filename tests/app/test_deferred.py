"""Stand-ins that import their module at first use and then step aside (`tui.app.deferred`):
a real module written to disk, imported for real."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tui.app.deferred import Deferred, deferred

MODULE = """
LOADS = []
LOADS.append(1)


class Thing:
    kind = "thing"

    def __init__(self, size: int) -> None:
        self.size = size


def double(value: int) -> int:
    return 2 * value
"""


@pytest.fixture
def module_on_disk(tmp_path: Path) -> Iterator[str]:
    name = f"deferred_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_a_call_imports_the_module_once_and_rebinds_the_name(module_on_disk: str) -> None:
    namespace: dict[str, Any] = {}
    namespace["double"], namespace["Thing"] = deferred(namespace, module_on_disk, "double", "Thing")
    assert module_on_disk not in sys.modules
    assert isinstance(namespace["double"], Deferred)

    assert namespace["double"](21) == 42
    module = sys.modules[module_on_disk]
    assert namespace["double"] is module.double
    # The other name stays a stand-in until it is used, and the module is not loaded again.
    assert isinstance(namespace["Thing"], Deferred)
    thing = namespace["Thing"](3)
    assert type(thing) is module.Thing
    assert thing.size == 3
    assert namespace["Thing"] is module.Thing
    assert module.LOADS == [1]


def test_isinstance_and_attributes_go_to_the_real_class(module_on_disk: str) -> None:
    namespace: dict[str, Any] = {}
    (namespace["Thing"],) = deferred(namespace, module_on_disk, "Thing")
    stand_in = namespace["Thing"]
    assert not isinstance(object(), stand_in)
    real = sys.modules[module_on_disk].Thing
    assert isinstance(real(1), stand_in)
    assert stand_in.kind == "thing"
    assert namespace["Thing"] is real


def test_a_missing_name_fails_at_first_use_with_the_import_error(module_on_disk: str) -> None:
    namespace: dict[str, Any] = {}
    (namespace["nothing"],) = deferred(namespace, module_on_disk, "nothing")
    with pytest.raises(AttributeError, match="nothing"):
        namespace["nothing"]()
    (namespace["gone"],) = deferred(namespace, "no_such_module_here", "gone")
    with pytest.raises(ModuleNotFoundError):
        namespace["gone"]()
