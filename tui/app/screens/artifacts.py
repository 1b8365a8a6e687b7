"""The artifacts screen: one action run's input and output artifacts, and downloading them.

    web-app › Build › Compile · execution 3f2a9c1e
     Direction  Artifact    S3 location                                          Console
     input      SourceOut   s3://codepipeline-us-east-1-local/web-app/SourceOut/…  —
     output     BuildOut    s3://codepipeline-us-east-1-local/web-app/BuildOut/…   —
    Local endpoint: no S3 console. The s3:// paths work with aws --endpoint-url … s3 cp.

The artifacts are those of the latest attempt of the action in its execution
(ListActionExecutions filtered by the execution), inputs first: each with its S3 location and,
on AWS, a link to the object in the S3 console (`tui.aws.artifacts`).

Keys: `d` downloads the selected artifact (a dialog asks where, the current directory by
default, and whether to extract it), `y` copies its `s3://` path, `c` copies its console link
and enter opens the link in a browser (both on AWS only), escape back.

Decisions recorded here:

- A download never overwrites (`tui.aws.artifacts.download`: `<name>.zip`, `<name>-1.zip`,
  ...; extraction refuses paths that escape). Progress shows under the table while the bytes
  arrive; the result (where it went, how big, where it was extracted) or the failure is a
  notification. [I] Each artifact downloads in its own worker group: downloading a second
  artifact does not cancel the first; downloading the same one again replaces the earlier
  attempt.
- [I] The dialog remembers the last directory and the extract choice for the next download
  from this screen; a directory that does not exist yet is created, a path to a file is
  refused in the dialog.
- While the action runs its outputs do not exist yet: the list is read again when the app
  reports a change of the pipeline, so outputs appear when the run writes them.
"""  # noqa: RUF002 (the title's separator is drawn as in the screen)

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, Label, ProgressBar, Static
from textual.worker import Worker

from tui.app.messages import ActionRef, ProblemOccurred
from tui.app.widgets.glyphs import Palette
from tui.app.widgets.masking import mask_ids_of, mask_port, short_id
from tui.app.widgets.status_bar import StatusBar
from tui.aws.artifacts import ArtifactRef, Downloaded, UnsafeArchive, action_artifacts, download
from tui.aws.watch import Watcher
from tui.model.view import WorkspaceView


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


@dataclass(frozen=True)
class DownloadRequest:
    directory: Path
    extract: bool


class DownloadDialog(ModalScreen[DownloadRequest | None]):
    """Where to save an artifact, and whether to extract it; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="cancel-download"),
    ]

    def __init__(self, artifact: ArtifactRef, directory: Path, extract: bool) -> None:
        super().__init__()
        self.artifact = artifact
        self.directory = directory
        self.extract = extract

    def compose(self) -> ComposeResult:
        with Vertical(id="download-box") as box:
            box.border_title = f"Download {self.artifact.name}"
            yield Label("Save the zip into this directory:")
            yield Input(str(self.directory), id="download-directory")
            yield Checkbox("Also extract it into a folder next to the zip", self.extract)
            yield Label("", id="download-error")
            with Horizontal(id="download-buttons"):
                yield Button("Download", variant="primary", id="download-go")
                yield Button("Cancel", id="download-cancel")

    def on_mount(self) -> None:
        self.query_one("#download-error", Label).display = False
        self.query_one(Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#download-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#download-go")
    @on(Input.Submitted, "#download-directory")
    def _go(self) -> None:
        raw = self.query_one(Input).value.strip() or "."
        directory = Path(raw).expanduser()
        if directory.exists() and not directory.is_dir():
            error = self.query_one("#download-error", Label)
            error.update(f"{directory} is a file, not a directory.")
            error.display = True
            return
        self.dismiss(DownloadRequest(directory, self.query_one(Checkbox).value))


class ArtifactsScreen(Screen[None]):
    """The artifacts of the action run `ref` names (registered as the app's "artifacts")."""

    CSS_PATH = "artifacts.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("d", "download", "Download", id="download"),
        Binding("y", "copy_location", "Copy s3:// path", id="copy-location"),
        Binding("c", "copy_console_url", "Copy console link", id="copy-console-url"),
    ]

    def __init__(
        self,
        ref: ActionRef,
        *,
        watcher: Watcher | None = None,
        download_dir: Path | None = None,
        mask_ids: bool | None = None,
    ) -> None:
        super().__init__()
        self.ref = ref
        self._watcher = watcher
        self.download_dir = download_dir or Path.cwd()
        self.extract = False
        self._mask_ids = mask_ids
        self.artifacts: list[ArtifactRef] = []
        self.local: bool | None = None
        self.loaded = False
        self.found_run = False
        self.problem_text: str | None = None
        self.reader: Worker[None] | None = None
        self.downloads: dict[str, Worker[Downloaded | None]] = {}
        """The download workers by artifact `s3_uri` (tests and the app may await them)."""

    # Dependencies ---------------------------------------------------------------------------------

    @property
    def watcher(self) -> Watcher:
        if self._watcher is None:
            watcher = getattr(self.app, "watcher", None)
            if not isinstance(watcher, Watcher):
                raise RuntimeError("the artifacts screen needs the app's watcher")
            self._watcher = watcher
        return self._watcher

    @property
    def mask_ids(self) -> bool:
        if self._mask_ids is None:
            self._mask_ids = mask_ids_of(self.app)
        return self._mask_ids

    @property
    def execution_id(self) -> str | None:
        return self.ref.execution_id or self.ref.view.execution_id

    # Layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="artifacts-title")
        table: DataTable[Text] = DataTable(id="artifacts-table", cursor_type="row")
        table.add_column("Direction", key="direction")
        table.add_column("Artifact", key="name")
        table.add_column("S3 location", key="location")
        table.add_column("Console", key="console")
        yield table
        with Horizontal(id="artifacts-progress"):
            yield Label(id="artifacts-progress-label")
            yield ProgressBar(show_eta=False, id="artifacts-progress-bar")
        yield Static(id="artifacts-note")
        yield StatusBar()
        yield Footer()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#artifacts-table", DataTable)

    def on_mount(self) -> None:
        status = getattr(self.app, "watch_status", None)
        if status is not None:
            self.query_one(StatusBar).status = status
        self.query_one("#artifacts-progress").display = False
        self._show_title()
        self._show_note()
        self.table.focus()
        self.reader = self.read_artifacts()

    # Reading --------------------------------------------------------------------------------------

    @work(exclusive=True, group="artifacts", exit_on_error=False)
    async def read_artifacts(self, delay: float = 0.0) -> None:
        """The latest attempt of the action in its execution, and its artifacts."""
        if delay:
            await asyncio.sleep(delay)
        execution_id = self.execution_id
        if execution_id is None:
            self.loaded = True
            self._show_note()
            return
        watcher = self.watcher
        try:
            self.local = await watcher.aws.is_local()
            details = await watcher.client.list_action_executions(
                self.ref.pipeline, execution_id=execution_id
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            problem = watcher.aws.describe(exc)
            self.problem_text = f"{problem.title}: {problem.detail}"
            self.loaded = True
            self._show_note()
            self.post_message(ProblemOccurred(problem))
            return
        runs = [
            d
            for d in details
            if d.get("stageName") == self.ref.stage and d.get("actionName") == self.ref.action
        ]
        latest = max(runs, key=lambda d: d.get("startTime") or 0, default=None)
        self.found_run = latest is not None
        self.artifacts = (
            action_artifacts(latest, region=watcher.aws.region, local=self.local)
            if latest is not None
            else []
        )
        self.problem_text = None
        self.loaded = True
        self._show_rows()
        self._show_note()
        self.refresh_bindings()

    def workspace_changed(self, workspace: WorkspaceView, names: Iterable[str]) -> None:
        if self.ref.pipeline in names and self.loaded:
            self.reader = self.read_artifacts(delay=0.2)

    # Drawing --------------------------------------------------------------------------------------

    def _palette(self) -> Palette:
        return Palette.of(self.app.theme_variables)

    def short_id(self, value: str) -> str:
        return short_id(value, self.mask_ids)

    def _show_title(self) -> None:
        muted = self._palette().style("muted")
        ref = self.ref
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(ref.pipeline, style="bold")
        title.append(" › ", style=muted)
        title.append(ref.stage)
        title.append(" › ", style=muted)
        title.append(ref.action, style="bold")
        title.append(" · artifacts", style=muted)
        if self.execution_id:
            title.append(" · execution ", style=muted)
            title.append(self.short_id(self.execution_id))
        self.query_one("#artifacts-title", Static).update(title)

    def _location(self, artifact: ArtifactRef) -> str:
        if self.mask_ids:
            # Keys carry random ids (execution ids, zip names): mask all but the bucket.
            return f"s3://{artifact.bucket}/{'•' * min(len(artifact.key), 24)}"
        return artifact.s3_uri

    def _show_rows(self) -> None:
        palette = self._palette()
        muted = palette.style("muted")
        table = self.table
        keep = self.selected
        table.clear()
        for artifact in self.artifacts:
            direction = Text(
                artifact.direction,
                style=palette.style("info") if artifact.direction == "input" else "bold",
            )
            console = (
                Text(artifact.console_url, style=muted)
                if artifact.console_url
                else Text("— (local endpoint)" if self.local else "—", style=muted)
            )
            table.add_row(
                direction,
                Text(artifact.name, style="bold"),
                Text(self._location(artifact)),
                console,
                key=artifact.s3_uri,
            )
        if keep is not None and keep in self.artifacts:
            table.move_cursor(row=self.artifacts.index(keep))

    def _show_note(self) -> None:
        palette = self._palette()
        muted = palette.style("muted")
        note = Text()
        if self.problem_text is not None:
            note.append(f"✗ {self.problem_text}", style=palette.style("error"))
        elif not self.loaded:
            note.append("loading…", style=muted)
        elif self.execution_id is None:
            note.append("This action has not run yet: it has no artifacts.", style=muted)
        elif not self.found_run:
            note.append("This action has not run in this execution yet.", style=muted)
        elif not self.artifacts:
            note.append("This run has no input or output artifacts (yet).", style=muted)
        elif self.local:
            endpoint = self.watcher.aws.settings.endpoint_url or "<endpoint>"
            if self.mask_ids:
                endpoint = mask_port(endpoint)
            note.append("Local endpoint: artifacts have no S3 console link.\n", style="bold")
            note.append(
                f"Their s3:// paths work with the AWS CLI: aws --endpoint-url {endpoint} s3 cp",
                style=muted,
            )
        else:
            note.append("enter opens the selected artifact in the S3 console.", style=muted)
        self.query_one("#artifacts-note", Static).update(note)

    # Selection ------------------------------------------------------------------------------------

    @property
    def selected(self) -> ArtifactRef | None:
        table = self.table
        if not self.artifacts or not table.row_count:
            return None
        index = table.cursor_row
        return self.artifacts[index] if 0 <= index < len(self.artifacts) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("download", "copy_location"):
            return self.selected is not None
        if action == "copy_console_url":
            if self.local:
                return False
            selected = self.selected
            return selected is not None and selected.console_url is not None
        return True

    @on(DataTable.RowHighlighted, "#artifacts-table")
    def _highlighted(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#artifacts-table")
    def _selected(self) -> None:
        artifact = self.selected
        if artifact is None:
            return
        if artifact.console_url is None:
            self.notify(
                "The local endpoint has no S3 console; use the s3:// path (y copies it).",
                severity="warning",
            )
            return
        self.app.open_url(artifact.console_url)

    def action_back(self) -> None:
        self.dismiss()

    def action_copy_location(self) -> None:
        artifact = self.selected
        if artifact is not None:
            self.app.copy_to_clipboard(artifact.s3_uri)
            self.notify(f"Copied {self._location(artifact)}", timeout=3)

    def action_copy_console_url(self) -> None:
        artifact = self.selected
        if artifact is not None and artifact.console_url is not None:
            self.app.copy_to_clipboard(artifact.console_url)
            self.notify("Copied the S3 console link", timeout=3)

    # Downloading ----------------------------------------------------------------------------------

    def action_download(self) -> None:
        artifact = self.selected
        if artifact is None:
            return

        def chosen(request: DownloadRequest | None) -> None:
            if request is None:
                return
            self.download_dir, self.extract = request.directory, request.extract
            self.start_download(artifact, request.directory, extract=request.extract)

        self.app.push_screen(DownloadDialog(artifact, self.download_dir, self.extract), chosen)

    def start_download(
        self, artifact: ArtifactRef, directory: Path, *, extract: bool
    ) -> Worker[Downloaded | None]:
        worker = self.run_worker(
            self._download(artifact, directory, extract),
            name=f"download {artifact.name}",
            group=f"download:{artifact.s3_uri}",
            exclusive=True,
            exit_on_error=False,
        )
        self.downloads[artifact.s3_uri] = worker
        return worker

    async def _download(
        self, artifact: ArtifactRef, directory: Path, extract: bool
    ) -> Downloaded | None:
        progress = self.query_one("#artifacts-progress")
        bar = self.query_one(ProgressBar)
        label = self.query_one("#artifacts-progress-label", Label)
        label.update(f"Downloading {artifact.name} ")
        bar.update(total=None, progress=0)
        progress.display = True
        self.notify(f"Downloading {artifact.name} to {directory}…", timeout=3)

        def advanced(done: int, total: int | None) -> None:
            bar.update(total=total, progress=done)

        try:
            saved = await download(
                self.watcher.aws, artifact, directory, extract=extract, on_progress=advanced
            )
        except asyncio.CancelledError:
            raise
        except UnsafeArchive as refused:
            self.notify(
                f"{artifact.name} was saved but not extracted: {refused}",
                title="Not extracted",
                severity="error",
                markup=False,
            )
            return None
        except Exception as exc:
            problem = self.watcher.aws.describe(exc)
            self.notify(
                f"{problem.detail}\n{problem.hint}",
                title=f"Download of {artifact.name} failed: {problem.title}",
                severity="error",
                markup=False,
            )
            return None
        finally:
            progress.display = False
        message = f"Saved {saved.path} ({human_size(saved.size)})"
        if saved.extracted is not None:
            message += f"\nExtracted into {saved.extracted}"
        self.notify(message, title=f"Downloaded {artifact.name}", markup=False)
        return saved
