"""Artifact zips: their keys in the artifact store, packing a directory, unpacking safely.

Every CodePipeline artifact is a zip object in the artifact-store bucket. This module is
shared by the action providers (Commands, CodeBuild) that pack output artifacts and by the
engine, which unpacks input artifacts into a run's workspace.

Decisions recorded here:

- [I] Key rule: `<pipeline>/<artifact name[:10]>/<7 random alphanumerics>`, as observed in
  real events. S3Key is at most 100 characters in the CodePipeline model; the artifact part
  is at most 10 and the random part 7, so the pipeline part is cut to its first
  `100 - 2 - len(artifact part) - 7` characters (81 when the artifact part is 10 long).
- [I] Globs follow CodeBuild's buildspec `artifacts` rules: patterns are relative to the
  base directory, `*`/`?`/`[...]` match within one path component (dotfiles included, as
  CodeBuild's `**/*` includes `.git`), a whole `**` component matches any number of
  components (`**/*` is every file, `dir/*` the files directly in `dir`, `dir/**/*` every
  file under `dir`). A pattern with no wildcard names a file or a directory; a directory
  stands for every file under it. Only files and symlinks become entries (no directory
  entries: empty directories are not archived); sockets, FIFOs and devices are skipped.
- [I] `exclude` patterns use the same rules, relative to the base directory, and win over
  `include`.
- [I] `base_directory` is a relative path whose components may be globs (`'my-build*'`);
  every matching directory contributes its contents (not itself). No match is an error,
  as in CodeBuild ("no matching base directory path found"); so is matching no file at all
  ("no matching artifact paths found"), and so are two files that would get the same name
  in the zip (possible with several base directories or `discard_paths`), since dropping
  one silently would lose data.
- Symlinks are stored as links, never followed, and only when the link stays inside the
  archived tree both on disk and inside the zip; an absolute target inside the tree is
  rewritten as a relative one. Any other link is an error naming it.
- `safe_extract` never writes outside `dest`: every name is checked before anything is
  written, no write ever follows a symlink (parents must be real directories, files are
  opened with O_NOFOLLOW), symlink targets must stay inside `dest` (checked on the name
  and again, after extraction, on the real file system, which catches link chains), and
  limits on the entry count and total size stop zip bombs before they expand.
- [I] Unpacked file modes keep the permission bits (so executables stay executable) but drop
  setuid, setgid and sticky; directories always keep `u+rwx` so the engine can clean up.
  Backslashes in entry names are treated as path separators (zips made on Windows).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import string
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

KEY_MAX_LENGTH = 100
ARTIFACT_NAME_PART = 10
RANDOM_PART = 7
_KEY_ALPHABET = string.ascii_letters + string.digits

# [I] Default limits for unpacking: S3's 5 GB source-artifact quota, and an entry count far
# above any real source tree (a node_modules tree has tens of thousands of files).
MAX_ENTRIES = 500_000
MAX_TOTAL_SIZE = 5 * 1024**3
# A symlink entry's content is its target path; anything longer is not a path.
_MAX_LINK_TARGET = 4096
_COPY_CHUNK = 1024 * 1024
_GLOB_CHARS = frozenset("*?[")


class ArtifactError(Exception):
    """An artifact could not be packed or unpacked; the message says why, for a user."""


class UnsafeArtifactError(ArtifactError):
    """A zip entry would write outside the destination (or break a limit); names the entry."""

    def __init__(self, entry: str, reason: str) -> None:
        super().__init__(f"Unsafe artifact entry {entry!r}: {reason}")
        self.entry = entry
        self.reason = reason


def artifact_key(pipeline_name: str, artifact_name: str) -> str:
    """A fresh artifact-store key: `<pipeline>/<artifact[:10]>/<7 random alphanumerics>`."""
    artifact_part = artifact_name[:ARTIFACT_NAME_PART]
    room = KEY_MAX_LENGTH - len(artifact_part) - RANDOM_PART - 2
    suffix = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(RANDOM_PART))
    return f"{pipeline_name[:room]}/{artifact_part}/{suffix}"


def is_zip(path: Path) -> bool:
    """Whether the file is a readable zip archive (an empty archive counts)."""
    try:
        with zipfile.ZipFile(path) as zf:
            zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------------------
# Globs


def _clean_relative(pattern: str, what: str) -> str:
    """A pattern or path relative to the tree, without `./`, doubled or trailing slashes."""
    text = pattern.strip().replace("\\", "/")
    if not text:
        raise ArtifactError(f"Empty {what}")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ArtifactError(f"The {what} {pattern!r} must be relative, not absolute")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArtifactError(f"The {what} {pattern!r} must not go up with '..'")
    if not parts:
        return "."
    return "/".join(parts)


def _segment_regex(segment: str) -> str:
    """One path component as a regex: wildcards never cross a '/'."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = segment[i + 1 : end]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[{'^/' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Glob:
    text: str
    literal: bool
    regex: re.Pattern[str] | None

    @classmethod
    def compile(cls, pattern: str, what: str = "artifact path") -> _Glob:
        text = _clean_relative(pattern, what)
        if text == ".":
            return cls(text, False, re.compile(r".+"))
        if not _GLOB_CHARS.intersection(text):
            return cls(text, True, None)
        segments = text.split("/")
        pieces: list[str] = []
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment == "**":
                # Zero or more whole components before something else; one or more at the end.
                pieces.append(r"[^/]+(?:/[^/]+)*" if last else r"(?:[^/]+/)*")
            else:
                pieces.append(_segment_regex(segment) + ("" if last else "/"))
        return cls(text, False, re.compile("".join(pieces)))

    def matches(self, path: str) -> bool:
        if self.literal:
            return path == self.text or path.startswith(self.text + "/")
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None


# ---------------------------------------------------------------------------------------
# Packing


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk(base: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every file and symlink under `base`, relative posix path first; links not followed."""
    stack: list[tuple[str, str]] = [("", str(base))]
    while stack:
        prefix, directory = stack.pop()
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                yield rel, entry
            elif entry.is_dir(follow_symlinks=False):
                stack.append((rel + "/", entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield rel, entry


def _base_directories(root: Path, base_directory: str | None) -> list[Path]:
    if base_directory is None:
        return [root]
    text = _clean_relative(base_directory, "base directory")
    if text == ".":
        return [root]
    found = [root]
    for segment in text.split("/"):
        next_found: list[Path] = []
        for directory in found:
            if not _GLOB_CHARS.intersection(segment):
                candidate = directory / segment
                if candidate.is_dir():
                    next_found.append(candidate)
                continue
            regex = re.compile(_segment_regex(segment))
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.is_dir() and regex.fullmatch(entry.name):
                        next_found.append(Path(entry.path))
        found = sorted(next_found)
    if not found:
        raise ArtifactError(f"no matching base directory path found for {base_directory}")
    resolved: list[Path] = []
    for directory in found:
        real = directory.resolve()
        if not _inside(str(real), str(root)):
            raise ArtifactError(
                f"The base directory {directory.relative_to(root)} is a link that leads "
                "outside the source directory"
            )
        resolved.append(real)
    return resolved


def _link_target(root: Path, base: Path, fs_rel: str, arcname: str, link: Path) -> str:
    """The target to store for a symlink, relative, or an error if it leaves the tree."""
    target = os.readlink(link)
    link_dir = os.path.dirname(str(link))
    location = os.path.normpath(os.path.join(link_dir, target))
    real = os.path.realpath(link)
    if not _inside(location, str(base)) or not _inside(real, str(root)):
        raise ArtifactError(
            f"The symlink {fs_rel} -> {target} points outside the artifact's directory; "
            "only links that stay inside it can be archived"
        )
    relative = os.path.relpath(location, link_dir)
    in_zip = os.path.normpath(os.path.join(os.path.dirname(arcname), relative))
    if in_zip == ".." or in_zip.startswith("../") or os.path.isabs(in_zip):
        raise ArtifactError(
            f"The symlink {fs_rel} -> {target} would point outside the zip once its path is "
            "shortened (discard-paths)"
        )
    return relative


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    # Zip timestamps cannot express anything before 1980.
    t = time.localtime(max(mtime, 315_532_800.0))
    return (max(t.tm_year, 1980), t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def zip_directory(
    root: Path,
    dest: Path,
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    base_directory: str | None = None,
    discard_paths: bool = False,
) -> list[str]:
    """Zip the files under `root` that the globs select into `dest`; returns the entry names.

    `include` defaults to every file (`**/*`). Entries are in sorted name order, keep their
    permission bits and modification times, and `dest` itself is never archived. Raises
    `ArtifactError` (and leaves no `dest`) when nothing matches, a link leaves the tree, or
    two files would share a name.
    """
    root = root.resolve()
    if not root.is_dir():
        raise ArtifactError(f"The directory {root} to archive does not exist")
    includes = [_Glob.compile(p) for p in (include if include else ["**/*"])]
    excludes = [_Glob.compile(p, "exclude path") for p in (exclude or [])]
    dest_real = os.path.realpath(dest)

    chosen: dict[str, tuple[Path, str, Path]] = {}  # arcname -> (file, path in base, base)
    for base in _base_directories(root, base_directory):
        for rel, entry in _walk(base):
            # Walked paths are canonical already: links are never followed on the way down.
            if entry.path == dest_real:
                continue
            if not any(g.matches(rel) for g in includes):
                continue
            if any(g.matches(rel) for g in excludes):
                continue
            arcname = rel.rsplit("/", 1)[-1] if discard_paths else rel
            path = Path(entry.path)
            if arcname in chosen:
                first = chosen[arcname][0].relative_to(root)
                raise ArtifactError(
                    f"Two files would both be stored as {arcname!r} in the artifact: "
                    f"{first} and {path.relative_to(root)}"
                )
            chosen[arcname] = (path, rel, base)
    if not chosen:
        patterns = ", ".join(g.text for g in includes)
        raise ArtifactError(f"no matching artifact paths found (files: {patterns})")

    names = sorted(chosen)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for arcname in names:
                path, rel, base = chosen[arcname]
                info_stat = path.lstat()
                if stat.S_ISLNK(info_stat.st_mode):
                    target = _link_target(root, base, rel, arcname, path)
                    info = zipfile.ZipInfo(arcname, _zip_time(info_stat.st_mtime))
                    info.create_system = 3
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    zf.writestr(info, target, compress_type=zipfile.ZIP_STORED)
                    continue
                info = zipfile.ZipInfo(arcname, _zip_time(info_stat.st_mtime))
                info.create_system = 3
                info.external_attr = (stat.S_IFREG | stat.S_IMODE(info_stat.st_mode)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                info.file_size = info_stat.st_size
                with (
                    path.open("rb") as src,
                    zf.open(info, "w", force_zip64=info_stat.st_size > 2**31) as out,
                ):
                    shutil.copyfileobj(src, out, _COPY_CHUNK)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return names


# ---------------------------------------------------------------------------------------
# Unpacking


def _entry_parts(name: str) -> tuple[str, ...]:
    """The path components of an entry name, or UnsafeArtifactError."""
    if "\x00" in name:
        raise UnsafeArtifactError(name, "the name contains a NUL character")
    text = name.replace("\\", "/")
    if text.startswith("/"):
        raise UnsafeArtifactError(name, "absolute paths are not allowed")
    if re.match(r"^[A-Za-z]:", text):
        raise UnsafeArtifactError(name, "drive letters are not allowed")
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArtifactError(name, "'..' path components are not allowed")
    if not parts:
        raise UnsafeArtifactError(name, "the name is empty")
    return parts


def _is_symlink_entry(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _unix_mode(info: zipfile.ZipInfo) -> int | None:
    mode = info.external_attr >> 16
    if info.create_system != 3 or mode == 0:
        return None
    return stat.S_IMODE(mode) & 0o777


@dataclass(frozen=True)
class _Planned:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    kind: str  # "dir", "file" or "link"
    link_target: str = ""


def _plan(zf: zipfile.ZipFile, max_entries: int, max_total_size: int) -> list[_Planned]:
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise UnsafeArtifactError(
            infos[max_entries].filename,
            f"the artifact has {len(infos)} entries, more than the limit of {max_entries}",
        )
    planned: list[_Planned] = []
    total = 0
    for info in infos:
        parts = _entry_parts(info.filename)
        if _is_symlink_entry(info):
            if info.file_size > _MAX_LINK_TARGET:
                raise UnsafeArtifactError(info.filename, "the symlink target is too long")
            try:
                target = zf.read(info).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UnsafeArtifactError(info.filename, "the symlink target is not text") from exc
            _check_link_target(info.filename, parts, target)
            planned.append(_Planned(info, parts, "link", target))
            continue
        if info.is_dir() or info.filename.replace("\\", "/").endswith("/"):
            planned.append(_Planned(info, parts, "dir"))
            continue
        total += info.file_size
        if total > max_total_size:
            raise UnsafeArtifactError(
                info.filename,
                f"the artifact expands to more than the limit of {max_total_size} bytes",
            )
        planned.append(_Planned(info, parts, "file"))
    return planned


def _check_link_target(name: str, parts: tuple[str, ...], target: str) -> None:
    text = target.replace("\\", "/")
    if not text or "\x00" in text:
        raise UnsafeArtifactError(name, "the symlink has no usable target")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise UnsafeArtifactError(name, f"the symlink points to the absolute path {target!r}")
    resolved = PurePosixPath(os.path.normpath("/".join((*parts[:-1], text))))
    if resolved.parts[:1] == ("..",):
        raise UnsafeArtifactError(name, f"the symlink target {target!r} leaves the destination")


def _prepare_parent(root: Path, entry: str, parts: tuple[str, ...]) -> Path:
    """Create the entry's parent directories; refuse to pass through anything but real dirs."""
    current = root
    for part in parts[:-1]:
        current = current / part
        try:
            st = current.lstat()
        except FileNotFoundError:
            current.mkdir()
            continue
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeArtifactError(entry, f"it would write through the symlink {part!r}")
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeArtifactError(entry, f"{part!r} is already a file, not a directory")
    return current / parts[-1]


def _write_file(zf: zipfile.ZipFile, item: _Planned, path: Path, budget: list[int]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        # ELOOP: the name is an existing symlink; EISDIR: an existing directory.
        raise UnsafeArtifactError(
            item.info.filename, f"it would overwrite an existing link or directory ({exc.strerror})"
        ) from exc
    with os.fdopen(fd, "wb") as out, zf.open(item.info) as src:
        while chunk := src.read(_COPY_CHUNK):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise UnsafeArtifactError(
                    item.info.filename, "the artifact expands beyond its limit"
                )
            out.write(chunk)
        mode = _unix_mode(item.info)
        os.fchmod(out.fileno(), 0o644 if mode is None else mode)
        try:
            mtime = time.mktime((*item.info.date_time, 0, 0, -1))
        except (OverflowError, ValueError):
            return
        os.utime(out.fileno(), (mtime, mtime))


def safe_extract(
    zip_path: Path,
    dest: Path,
    *,
    max_entries: int = MAX_ENTRIES,
    max_total_size: int = MAX_TOTAL_SIZE,
) -> list[Path]:
    """Unzip `zip_path` into `dest` without ever writing outside it; returns what it created.

    Raises `UnsafeArtifactError` (naming the entry) for absolute names, `..`, drive letters,
    symlinks that leave `dest`, entries that would write through a symlink, and archives
    over the limits; `ArtifactError` when the file is not a readable zip. A name that fails
    the up-front checks leaves `dest` untouched.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArtifactError(
            f"The artifact {zip_path.name} is not a readable zip file: {exc}"
        ) from exc
    created: list[Path] = []
    links: list[tuple[str, Path]] = []
    directories: list[tuple[Path, int | None]] = []
    try:
        with zf:
            planned = _plan(zf, max_entries, max_total_size)
            budget = [max_total_size]
            for item in planned:
                name = item.info.filename
                path = _prepare_parent(root, name, item.parts)
                if item.kind == "dir":
                    try:
                        st = path.lstat()
                    except FileNotFoundError:
                        path.mkdir()
                    else:
                        if not stat.S_ISDIR(st.st_mode):
                            raise UnsafeArtifactError(name, "a file or link of that name exists")
                    directories.append((path, _unix_mode(item.info)))
                elif item.kind == "link":
                    try:
                        os.symlink(item.link_target, path)
                    except FileExistsError as exc:
                        raise UnsafeArtifactError(
                            name, "it would replace an existing path"
                        ) from exc
                    links.append((name, path))
                else:
                    _write_file(zf, item, path, budget)
                created.append(path)
        for name, path in links:
            # Catches chains (a link through another link) that each looked fine alone.
            if not _inside(os.path.realpath(path), str(root)):
                raise UnsafeArtifactError(name, "the symlink resolves outside the destination")
    except UnsafeArtifactError:
        for _, path in links:
            if path.is_symlink():
                path.unlink()
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        for _, path in links:
            if path.is_symlink():
                path.unlink()
        raise ArtifactError(f"The artifact {zip_path.name} could not be unpacked: {exc}") from exc
    for path, mode in reversed(directories):
        os.chmod(path, (0o755 if mode is None else mode) | 0o700)
    return created
