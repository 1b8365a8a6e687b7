"""Artifacts of action runs: where they are (`s3://`, the S3 console) and downloading them.

    refs = execution_artifacts(details, region=aws.region, local=await aws.is_local())
    saved = await download(aws, refs[0], Path("~/Downloads").expanduser(), extract=True)

Decisions recorded here:

- The artifacts of an action run are the `s3location`s of its ListActionExecutions item
  (`input.inputArtifacts`, `output.outputArtifacts`); an artifact without a location (an
  action that has not produced it yet) is left out.
- The console link is the S3 console's object page for the run's region (AWS's China and
  GovCloud partitions have their own console hosts). On the local endpoint there is no
  console, so no link (`console_url` None); `s3_uri` works in both worlds.
- [I] A download never overwrites anything: the object is saved as `<name>.zip` in the
  destination (every CodePipeline artifact is a zip), or `<name>-1.zip`, `<name>-2.zip`...
  when that exists; extraction goes to `<name>/` (or `<name>-1/`, ...) likewise. The bytes
  are streamed to a hidden partial file that is renamed into place only when complete, so an
  interrupted download leaves no file that looks whole.
- Extraction is all-or-nothing and never writes outside its directory: every entry is
  checked before anything is written (absolute names, drive letters, `..` after
  normalisation and backslashes as separators are refused; a symlink must point inside the
  tree), and symlinks are created after every file and directory, so no write can go
  through one. [I] At most `MAX_ENTRIES` entries and `MAX_EXTRACTED_BYTES` bytes as the zip
  declares them (zipfile never inflates an entry past its declared size): an archive over
  either is refused as a likely zip bomb. Everything is unpacked into a hidden directory
  that is renamed into place at the end, so a refused or failed archive leaves nothing.
- File modes keep their permission bits but not setuid/setgid/sticky.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from tui.aws.session import AwsContext

MAX_ENTRIES = 100_000
MAX_EXTRACTED_BYTES = 10 * 1024**3
CHUNK_SIZE = 256 * 1024

Direction = Literal["input", "output"]


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    bucket: str
    key: str
    direction: Direction
    stage: str
    action: str
    pipeline_execution_id: str
    action_execution_id: str
    console_url: str | None

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Downloaded:
    path: Path
    """The saved zip."""
    size: int
    extracted: Path | None = None
    """The directory it was unpacked into (with `extract=True`)."""


class UnsafeArchive(Exception):
    """The zip would write outside its directory, or is too big to unpack; nothing was written."""


def s3_console_url(bucket: str, key: str, region: str) -> str:
    if region.startswith("cn-"):
        host = "console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        host = "console.amazonaws-us-gov.com"
    else:
        host = "s3.console.aws.amazon.com"
    return (
        f"https://{host}/s3/object/{quote(bucket, safe='')}"
        f"?region={quote(region, safe='')}&prefix={quote(key, safe='')}"
    )


def action_artifacts(
    detail: Mapping[str, Any], *, region: str | None, local: bool
) -> list[ArtifactRef]:
    """The input and output artifacts of one ListActionExecutions item, inputs first."""
    found: list[ArtifactRef] = []
    sides: list[tuple[Direction, list[dict[str, Any]]]] = [
        ("input", (detail.get("input") or {}).get("inputArtifacts") or []),
        ("output", (detail.get("output") or {}).get("outputArtifacts") or []),
    ]
    for direction, artifacts in sides:
        for artifact in artifacts:
            location = artifact.get("s3location") or {}
            bucket, key = location.get("bucket"), location.get("key")
            if not bucket or not key:
                continue
            console = None if local or not region else s3_console_url(bucket, key, region)
            found.append(
                ArtifactRef(
                    name=str(artifact.get("name") or posixpath.basename(key)),
                    bucket=str(bucket),
                    key=str(key),
                    direction=direction,
                    stage=str(detail.get("stageName") or ""),
                    action=str(detail.get("actionName") or ""),
                    pipeline_execution_id=str(detail.get("pipelineExecutionId") or ""),
                    action_execution_id=str(detail.get("actionExecutionId") or ""),
                    console_url=console,
                )
            )
    return found


def execution_artifacts(
    details: Iterable[Mapping[str, Any]], *, region: str | None, local: bool
) -> list[ArtifactRef]:
    """`action_artifacts` of every item, in the order given."""
    return [ref for d in details for ref in action_artifacts(d, region=region, local=local)]


def _free_name(directory: Path, stem: str, suffix: str) -> Path:
    candidate = directory / f"{stem}{suffix}"
    number = 0
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = directory / f"{stem}-{number}{suffix}"
    return candidate


def _safe_stem(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "artifact"


async def download(
    aws: AwsContext,
    artifact: ArtifactRef,
    dest_dir: Path,
    *,
    extract: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Downloaded:
    """GetObject streamed to `<dest_dir>/<name>.zip` (never overwriting); with `extract`,
    also unpacked safely into `<dest_dir>/<name>/`. `on_progress(done, total)` per chunk."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    s3 = await aws.client("s3")
    response = await s3.get_object(Bucket=artifact.bucket, Key=artifact.key)
    total = response.get("ContentLength")
    body = response["Body"]
    stem = _safe_stem(artifact.name)
    handle, partial_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".partial", dir=dest_dir)
    partial = Path(partial_name)
    done = 0
    try:
        with os.fdopen(handle, "wb") as sink:
            async with body:
                async for chunk in body.iter_chunks(CHUNK_SIZE):
                    await asyncio.to_thread(sink.write, chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done, total)
        target = _free_name(dest_dir, stem, ".zip")
        partial.rename(target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    extracted = None
    if extract:
        extracted = await asyncio.to_thread(safe_unzip, target, dest_dir, stem)
    return Downloaded(target, done, extracted)


def _entry_path(name: str) -> str:
    """The normalised relative path of a zip entry; UnsafeArchive if it could escape."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafeArchive(f"entry {name!r} has an absolute path")
    normal = posixpath.normpath(unified)
    if normal == ".." or normal.startswith("../"):
        raise UnsafeArchive(f"entry {name!r} points outside the archive")
    return normal


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _plan(
    archive: zipfile.ZipFile,
) -> tuple[list[tuple[zipfile.ZipInfo, str]], list[tuple[str, str]]]:
    """Check every entry before anything is written: (files and dirs, symlinks)."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise UnsafeArchive(f"{len(infos)} entries (at most {MAX_ENTRIES} are unpacked)")
    if sum(i.file_size for i in infos) > MAX_EXTRACTED_BYTES:
        raise UnsafeArchive(f"unpacks to more than {MAX_EXTRACTED_BYTES} bytes")
    entries: list[tuple[zipfile.ZipInfo, str]] = []
    links: list[tuple[str, str]] = []
    for info in infos:
        path = _entry_path(info.filename)
        if path == ".":
            continue
        if _is_symlink(info):
            target = archive.read(info).decode("utf-8", "surrogateescape")
            if target.startswith("/") or "\\" in target:
                raise UnsafeArchive(f"symlink {info.filename!r} points to {target!r}")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            if resolved == ".." or resolved.startswith("../"):
                raise UnsafeArchive(f"symlink {info.filename!r} points outside: {target!r}")
            links.append((path, target))
        else:
            entries.append((info, path))
    seen: set[str] = set()
    for path in [path for _, path in entries] + [path for path, _ in links]:
        if path in seen:
            raise UnsafeArchive(f"entry {path!r} appears twice")
        seen.add(path)
    link_paths = {path for path, _ in links}
    for _, path in entries:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            if "/".join(parts[:depth]) in link_paths:
                raise UnsafeArchive(f"entry {path!r} would be written through a symlink")
    return entries, links


def safe_unzip(zip_path: Path, dest_dir: Path, stem: str) -> Path:
    """Unpack `zip_path` into a new `<dest_dir>/<stem>[-N]/`; all or nothing."""
    with zipfile.ZipFile(zip_path) as archive:
        entries, links = _plan(archive)
        staging = Path(tempfile.mkdtemp(prefix=f".{stem}.", suffix=".partial", dir=dest_dir))
        try:
            for info, path in entries:
                target = staging / path
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("xb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK_SIZE)
                mode = (info.external_attr >> 16) & 0o777
                if info.create_system == 3 and mode:
                    target.chmod(mode | stat.S_IRUSR | stat.S_IWUSR)
            for path, link_target in links:
                link = staging / path
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(link_target)
            final = _free_name(dest_dir, stem, "")
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return final
