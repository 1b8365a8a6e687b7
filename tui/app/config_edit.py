"""Changing one key of the config file without touching the rest of it.

    remember(path, "events_queue", url)   # set it (the file is created if missing)
    forget(path, "events_queue", url)     # remove it, only if it still holds `url`
    remember(path, "events_queue", url, context="prod")   # in that `[[contexts]]` entry

Decisions recorded here:

- The file is edited with tomlkit, which keeps the user's comments, order and layout; the
  standard library only reads TOML. The edited text must still load as `Settings` (the same
  strict check `load_settings` makes), else nothing is written and `SettingsError` says why.
- A top-level key goes before the first table (`[poll]`): TOML would otherwise read it as a
  key of that table.
- `context=` names a `[[contexts]]` entry by its label (`tui.app.contexts.label_of`: its
  `name`, else profile/region), as the app and `--context` name it; the key is set in that
  entry's table and the other entries are untouched. A label no entry has (or a file with no
  contexts) is a `SettingsError` listing the labels there are.
- The new text is written to a temporary file in the same directory and renamed over the old
  one, so a crash never leaves half a config file.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import ValidationError

from tui.app.contexts import label_of
from tui.app.settings import Settings, SettingsError


def _load(path: Path) -> tomlkit.TOMLDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None


def _save(path: Path, document: tomlkit.TOMLDocument) -> None:
    text = tomlkit.dumps(document)
    try:
        Settings.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise SettingsError(f"{path}: the edited settings would not load: {exc}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            if path.exists():
                os.chmod(temporary, path.stat().st_mode & 0o7777)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SettingsError(f"cannot write {path}: {exc.strerror or exc}") from None


def context_labels(document: Any) -> list[str]:
    """The labels of the `[[contexts]]` entries of a parsed config, in file order."""
    entries = document.get("contexts") or []
    return [
        label_of(entry.get("profile"), entry.get("region"), entry.get("name"))
        for entry in entries
        if isinstance(entry, dict)
    ]


def _container(path: Path, document: tomlkit.TOMLDocument, context: str | None) -> Any:
    """The table a key lives in: the document, or the `[[contexts]]` entry labelled `context`."""
    if context is None:
        return document
    labels = context_labels(document)
    if context not in labels:
        there = ", ".join(labels) if labels else "none"
        raise SettingsError(f"{path} has no context {context!r} (its contexts: {there})")
    entries = [entry for entry in document["contexts"] if isinstance(entry, dict)]
    return entries[labels.index(context)]


def remember(path: Path, key: str, value: Any, *, context: str | None = None) -> bool:
    """Set `key` (top-level, or in the entry of `context`) to `value`; False when it already
    held it (nothing written)."""
    document = _load(path)
    table = _container(path, document, context)
    if key in table and table[key] == value:
        return False
    # tomlkit puts a new top-level key before the first table.
    table[key] = value
    _save(path, document)
    return True


def forget(path: Path, key: str, value: Any, *, context: str | None = None) -> bool:
    """Remove `key` (top-level, or in the entry of `context`) if it holds `value`; whether it
    did."""
    if not path.exists():
        return False
    document = _load(path)
    table = _container(path, document, context)
    if key not in table or table[key] != value:
        return False
    del table[key]
    _save(path, document)
    return True


def current(path: Path, key: str, *, context: str | None = None) -> Any:
    """`key` in the file, top-level or in the entry of `context` (None when absent or the file
    is missing); `SettingsError` when the file could not be edited (unreadable, not TOML, not
    settings) or has no such context, so a command can refuse before it changes anything
    elsewhere."""
    if not path.exists():
        if context is not None:
            raise SettingsError(f"{path} does not exist, so it has no context {context!r}")
        return None
    document = _load(path)
    try:
        Settings.model_validate(tomllib.loads(tomlkit.dumps(document)))
    except ValidationError as exc:
        raise SettingsError(f"{path}: {exc.errors()[0]['msg']}") from None
    return _container(path, document, context).get(key)
