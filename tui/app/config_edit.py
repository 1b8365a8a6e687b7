"""Changing one top-level key of the config file without touching the rest of it.

    remember(path, "events_queue", url)   # set it (the file is created if missing)
    forget(path, "events_queue", url)     # remove it, only if it still holds `url`

Decisions recorded here:

- The file is edited with tomlkit, which keeps the user's comments, order and layout; the
  standard library only reads TOML. The edited text must still load as `Settings` (the same
  strict check `load_settings` makes), else nothing is written and `SettingsError` says why.
- A top-level key goes before the first table (`[poll]`): TOML would otherwise read it as a
  key of that table.
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


def remember(path: Path, key: str, value: Any) -> bool:
    """Set the top-level `key` to `value`; False when it already held it (nothing written)."""
    document = _load(path)
    if key in document and document[key] == value:
        return False
    # tomlkit puts a new top-level key before the first table.
    document[key] = value
    _save(path, document)
    return True


def forget(path: Path, key: str, value: Any) -> bool:
    """Remove the top-level `key` if it holds `value`; whether it did."""
    if not path.exists():
        return False
    document = _load(path)
    if key not in document or document[key] != value:
        return False
    del document[key]
    _save(path, document)
    return True


def current(path: Path, key: str) -> Any:
    """The top-level `key` in the file (None when absent or the file is missing);
    `SettingsError` when the file could not be edited (unreadable, not TOML, not settings), so
    a command can refuse before it changes anything elsewhere."""
    if not path.exists():
        return None
    document = _load(path)
    try:
        Settings.model_validate(tomllib.loads(tomlkit.dumps(document)))
    except ValidationError as exc:
        raise SettingsError(f"{path}: {exc.errors()[0]['msg']}") from None
    return document.get(key)
