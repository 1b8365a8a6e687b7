"""Which provider runs which action type."""

from __future__ import annotations

from collections.abc import Mapping

from tui.local.engine.providers.job import ActionProvider

TypeKey = tuple[str, str, str, str]


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[TypeKey, ActionProvider] = {}
        self._owners: dict[str, ActionProvider] = {}

    def register(
        self, category: str, owner: str, provider: str, version: str, impl: ActionProvider
    ) -> None:
        self._providers[(category, owner, provider, version)] = impl

    def register_owner(self, owner: str, impl: ActionProvider) -> None:
        """Run every action type of `owner` (e.g. Custom) not registered on its own."""
        self._owners[owner] = impl

    def find(self, type_id: Mapping[str, str]) -> ActionProvider | None:
        key = (type_id["category"], type_id["owner"], type_id["provider"], type_id["version"])
        return self._providers.get(key) or self._owners.get(type_id["owner"])

    def names(self) -> list[str]:
        names = [f"{c}/{o}/{p}/{v}" for c, o, p, v in sorted(self._providers)]
        names += [f"every {owner} action type" for owner in sorted(self._owners)]
        return [*names, "Approval/AWS/Manual/1"]
