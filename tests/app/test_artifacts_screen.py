"""The artifacts screen against the real endpoint: a real run's input and output zips in the
endpoint's S3, listed with their locations and downloaded through the client layer."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Checkbox, Input, Label

from tests.app.screen_support import SIZE, app_on, in_thread, screen_text, until
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    ARTIFACT_BUCKET,
    action_executions,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.app.app import PipetopApp
from tui.app.messages import ActionRef, ProblemOccurred
from tui.app.screens.artifacts import ArtifactsScreen, DownloadDialog
from tui.model.projection import ActionView

BUILD = [
    "mkdir -p dist",
    "echo 'hello from the build' > dist/app.txt",
    "echo built",
]


def build_pipeline(endpoint: Endpoint, name: str = "web") -> tuple[Any, str]:
    upload_source(endpoint, {"README.md": "the source\n"})
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            name,
            stage("Build", commands("Compile", BUILD, output="BuildOut", files=["dist/**/*"])),
        )
    )
    execution_id = latest_execution_id(client, name)
    wait_status(client, name, execution_id, "Succeeded")
    return client, execution_id


def ref(name: str, execution_id: str | None, action: str = "Compile") -> ActionRef:
    return ActionRef(name, "Build", action, execution_id, ActionView(name=action))


def artifacts_screen(app: PipetopApp) -> ArtifactsScreen:
    screen = app.screen
    assert isinstance(screen, ArtifactsScreen)
    return screen


async def open_artifacts(app: PipetopApp, pilot: Any, action_ref: ActionRef) -> ArtifactsScreen:
    app.register_screen("artifacts", lambda r: ArtifactsScreen(r))
    app.open_artifacts(action_ref)
    await pilot.pause()
    screen = artifacts_screen(app)
    assert screen.reader is not None
    await screen.reader.wait()
    await pilot.pause()
    return screen


def notifications(messages: list[Message]) -> list[str]:
    return [
        f"{m.notification.title}: {m.notification.message}"
        for m in messages
        if isinstance(m, Notify)
    ]


async def test_inputs_and_outputs_are_listed_with_their_s3_locations(endpoint: Endpoint) -> None:
    client, execution_id = await in_thread(build_pipeline, endpoint)
    detail = next(
        d for d in action_executions(client, "web", execution_id) if d["actionName"] == "Compile"
    )
    source = detail["input"]["inputArtifacts"][0]["s3location"]
    built = detail["output"]["outputArtifacts"][0]["s3location"]
    app = app_on(endpoint, mask_ids=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_artifacts(app, pilot, ref("web", execution_id))
        assert [(a.direction, a.name, a.s3_uri) for a in screen.artifacts] == [
            ("input", "SourceOut", f"s3://{source['bucket']}/{source['key']}"),
            ("output", "BuildOut", f"s3://{built['bucket']}/{built['key']}"),
        ]
        assert source["bucket"] == ARTIFACT_BUCKET
        assert all(a.console_url is None for a in screen.artifacts)
        text = screen_text(app)
        for artifact in screen.artifacts:
            assert artifact.s3_uri in text
        assert "— (local endpoint)" in text
        assert "Local endpoint: artifacts have no S3 console link" in text
        assert f"aws --endpoint-url {endpoint.url} s3 cp" in text
        # No console link to copy on the local endpoint: the key is not even offered.
        assert "Copy console link" not in text

        await pilot.press("down", "y")
        assert app.clipboard == screen.artifacts[1].s3_uri


async def test_download_writes_the_zip_and_never_overwrites(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    _, execution_id = await in_thread(build_pipeline, endpoint)
    messages: list[Message] = []
    app = app_on(endpoint)
    target = tmp_path / "new" / "downloads"
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_artifacts(app, pilot, ref("web", execution_id))
        output = screen.artifacts[1]
        await pilot.press("down", "d")
        await until(pilot, lambda: isinstance(app.screen, DownloadDialog))
        field = app.screen.query_one(Input)
        assert field.value == str(Path.cwd())
        field.value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: output.s3_uri in screen.downloads)
        saved = await screen.downloads[output.s3_uri].wait()
        assert saved is not None
        assert saved.path == target / "BuildOut.zip"
        body = endpoint.client("s3").get_object(Bucket=output.bucket, Key=output.key)["Body"]
        assert saved.path.read_bytes() == body.read()
        with zipfile.ZipFile(saved.path) as archive:
            assert archive.read("dist/app.txt") == b"hello from the build\n"
        assert saved.extracted is None
        assert sorted(p.name for p in target.iterdir()) == ["BuildOut.zip"]
        assert any(
            n.startswith("Downloaded BuildOut: Saved") and str(saved.path) in n
            for n in notifications(messages)
        )

        # The dialog remembers the directory; a second download gets a new name.
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DownloadDialog))
        assert app.screen.query_one(Input).value == str(target)
        await pilot.press("enter")
        await until(pilot, lambda: screen.downloads[output.s3_uri] is not None)
        await pilot.pause()
        again = await screen.downloads[output.s3_uri].wait()
        assert again is not None
        assert again.path == target / "BuildOut-1.zip"
        assert (target / "BuildOut.zip").read_bytes() == again.path.read_bytes()


async def test_download_extracts_when_asked(endpoint: Endpoint, tmp_path: Path) -> None:
    _, execution_id = await in_thread(build_pipeline, endpoint)
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_artifacts(app, pilot, ref("web", execution_id))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DownloadDialog))
        dialog = app.screen
        dialog.query_one(Input).value = str(tmp_path / "downloads")
        dialog.query_one(Checkbox).value = True
        await pilot.press("enter")
        source = screen.artifacts[0]
        await until(pilot, lambda: source.s3_uri in screen.downloads)
        saved = await screen.downloads[source.s3_uri].wait()
        assert saved is not None
        target = tmp_path / "downloads"
        assert saved.extracted == target / "SourceOut"
        assert (target / "SourceOut" / "README.md").read_text() == "the source\n"
        assert (target / "SourceOut.zip").is_file()
        # The choice is remembered for the next download from this screen.
        assert screen.extract


async def test_the_dialog_refuses_a_file_and_escape_cancels(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    _, execution_id = await in_thread(build_pipeline, endpoint)
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_artifacts(app, pilot, ref("web", execution_id))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DownloadDialog))
        dialog = app.screen
        dialog.query_one(Input).value = str(not_a_dir)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        error = dialog.query_one("#download-error", Label)
        assert error.display
        assert "is a file, not a directory" in str(error.render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert screen.downloads == {}
        assert not_a_dir.read_text() == "x"


async def test_a_missing_object_fails_the_download_visibly_and_leaves_nothing(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    _, execution_id = await in_thread(build_pipeline, endpoint)
    messages: list[Message] = []
    app = app_on(endpoint)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_artifacts(app, pilot, ref("web", execution_id))
        output = screen.artifacts[1]
        endpoint.client("s3").delete_object(Bucket=output.bucket, Key=output.key)
        target = tmp_path / "downloads"
        target.mkdir()
        worker = screen.start_download(output, target, extract=True)
        assert await worker.wait() is None
        await pilot.pause()
        failures = [n for n in notifications(messages) if "Download of BuildOut failed" in n]
        assert len(failures) == 1
        assert "NoSuchKey" in failures[0] or "not found" in failures[0].lower()
        assert list(target.iterdir()) == []
        assert not screen.query_one("#artifacts-progress").display


async def test_runs_without_artifacts_and_unknown_pipelines_say_so(endpoint: Endpoint) -> None:
    messages: list[Message] = []
    app = app_on(endpoint)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_artifacts(app, pilot, ref("web", None))
        assert "This action has not run yet" in screen_text(app)
        assert screen.artifacts == []
        await pilot.press("escape")

        screen = await open_artifacts(app, pilot, ref("nowhere", str(uuid.uuid4())))
        problems = [m.problem for m in messages if isinstance(m, ProblemOccurred)]
        assert [p.code for p in problems] == ["PipelineNotFoundException"]
        assert problems[0].title in screen_text(app)
        # Nothing to download: the key is disabled, pressing it does nothing.
        await pilot.press("d")
        assert app.screen is screen


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


async def test_an_archive_that_escapes_is_saved_but_not_extracted(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    _, execution_id = await in_thread(build_pipeline, endpoint)
    messages: list[Message] = []
    app = app_on(endpoint)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_artifacts(app, pilot, ref("web", execution_id))
        output = screen.artifacts[1]
        endpoint.client("s3").put_object(
            Bucket=output.bucket, Key=output.key, Body=_zip({"../escape.txt": "no"})
        )
        target = tmp_path / "in"
        worker = screen.start_download(output, target, extract=True)
        assert await worker.wait() is None
        await pilot.pause()
        assert any("saved but not extracted" in n for n in notifications(messages))
        assert sorted(p.name for p in target.iterdir()) == ["BuildOut.zip"]
        assert not (tmp_path / "escape.txt").exists()
