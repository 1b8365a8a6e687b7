"""Notifications of approvals now waiting and failed executions, against the real endpoint.

The terminal's bytes are read where Textual writes them: the headless driver's `write` (a
no-op in Textual's headless mode) is wrapped to record what reaches it, and the bell and the
desktop sequences go through it as they would to a real terminal.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.notifications import Notify

from tests.app.support import app_for, app_settings, wait_until
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    approval,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_approval_token,
    wait_status,
)
from tui.app.app import PipetopApp
from tui.app.notifier import desktop_protocol, desktop_sequence
from tui.app.settings import NotifySettings

SIZE = (120, 36)
BELL = "\x07"


def notices(messages: list[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for message in messages:
        if isinstance(message, Notify):
            seen[id(message)] = message.notification
    return [n for n in seen.values() if n.title in ("Approval waiting", "Execution failed")]


def record_terminal(app: PipetopApp) -> list[str]:
    written: list[str] = []
    driver = app._driver
    assert driver is not None
    original = driver.write

    def write(data: str) -> None:
        written.append(data)
        original(data)

    driver.write = write  # type: ignore[method-assign]
    return written


def answer(cp: Any, name: str, execution_id: str, status: str) -> None:
    token = wait_approval_token(cp, name, "Approve", "Gate", execution_id)
    cp.put_approval_result(
        pipelineName=name,
        stageName="Approve",
        actionName="Gate",
        token=token,
        result={"status": status, "summary": "by the test"},
    )


def gated(endpoint: Endpoint, name: str) -> tuple[Any, str]:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline(name, stage("Approve", approval("Gate"))))
    return cp, latest_execution_id(cp, name)


async def reads_after(app: PipetopApp, pilot: Any, name: str, more: int = 2) -> None:
    """Let the app read `name`'s state `more` more times."""
    start = app.watcher.state_reads[name]
    await wait_until(pilot, lambda: app.watcher.state_reads[name] >= start + more)


@pytest.fixture
def osc9_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("TERM_PROGRAM", "WezTerm")
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("WT_SESSION", raising=False)


@pytest.mark.usefixtures("osc9_terminal")
async def test_a_new_approval_and_a_new_failure_notify_once_each(endpoint: Endpoint) -> None:
    # Before the app starts: one execution failed, another pipeline's approval is waiting.
    cp, failed = gated(endpoint, "web")
    answer(cp, "web", failed, "Rejected")
    assert wait_status(cp, "web", failed) == "Failed"
    _, waiting = gated(endpoint, "api")
    wait_approval_token(cp, "api", "Approve", "Gate", waiting)

    app = app_for(endpoint)
    messages: list[Any] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        terminal = record_terminal(app)
        await reads_after(app, pilot, "web")
        await reads_after(app, pilot, "api")
        assert notices(messages) == []
        assert terminal == []

        # A new execution reaches the approval: one notice on each channel.
        second = cp.start_pipeline_execution(name="web")["pipelineExecutionId"]
        await wait_until(pilot, lambda: len(notices(messages)) == 1, what="approval notice")
        notice = notices(messages)[0]
        assert (notice.title, notice.severity) == ("Approval waiting", "warning")
        assert notice.message == "web: Gate in stage Approve waits for approval"
        assert terminal == [
            BELL,
            "\x1b]9;Approval waiting: web: Gate in stage Approve waits for approval\x07",
        ]
        await reads_after(app, pilot, "web")
        assert len(notices(messages)) == 1
        assert len(terminal) == 2

        # Rejected: the execution fails, one failure notice.
        answer(cp, "web", second, "Rejected")
        await wait_until(pilot, lambda: len(notices(messages)) == 2, what="failure notice")
        failure = notices(messages)[1]
        assert (failure.title, failure.severity) == ("Execution failed", "error")
        assert failure.message.startswith("web failed: ")
        assert "Gate" in failure.message
        assert terminal[2] == BELL
        assert terminal[3].startswith("\x1b]9;Execution failed: web failed: ")
        await reads_after(app, pilot, "web")
        assert len(notices(messages)) == 2
        assert len(terminal) == 4


@pytest.mark.usefixtures("osc9_terminal")
@pytest.mark.parametrize("channel", ["app", "bell", "desktop"])
async def test_each_channel_can_be_turned_off(endpoint: Endpoint, channel: str) -> None:
    cp, first = gated(endpoint, "web")
    answer(cp, "web", first, "Approved")
    assert wait_status(cp, "web", first) == "Succeeded"
    settings = app_settings(notify=NotifySettings(**{channel: False}))
    app = app_for(endpoint, settings)
    messages: list[Any] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        terminal = record_terminal(app)
        await reads_after(app, pilot, "web")
        cp.start_pipeline_execution(name="web")
        # The notice is decided either way; wait for whichever channel is still on.
        await wait_until(
            pilot,
            lambda: notices(messages) or any(w.startswith("\x1b]9;") for w in terminal),
            what="a notice on a channel left on",
        )
        await reads_after(app, pilot, "web")
        assert (len(notices(messages)) == 1) == (channel != "app")
        assert (BELL in terminal) == (channel != "bell")
        assert any(w.startswith("\x1b]9;") for w in terminal) == (channel != "desktop")


async def test_no_desktop_sequence_where_the_terminal_has_none(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("TERM_PROGRAM", "WezTerm")
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    cp, first = gated(endpoint, "web")
    answer(cp, "web", first, "Approved")
    assert wait_status(cp, "web", first) == "Succeeded"
    app = app_for(endpoint)
    messages: list[Any] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        terminal = record_terminal(app)
        await reads_after(app, pilot, "web")
        cp.start_pipeline_execution(name="web")
        await wait_until(pilot, lambda: len(notices(messages)) == 1, what="approval notice")
        assert terminal == [BELL]


def test_the_sequence_follows_the_terminal() -> None:
    assert desktop_protocol({"TERM_PROGRAM": "iTerm.app", "TERM": "xterm-256color"}) == "osc9"
    assert desktop_protocol({"WT_SESSION": "x", "TERM": "xterm-256color"}) == "osc9"
    assert desktop_protocol({"TERM": "rxvt-unicode-256color"}) == "osc777"
    assert desktop_protocol({"TERM": "foot"}) == "osc777"
    assert desktop_protocol({"TERM": "xterm-256color"}) is None
    assert desktop_protocol({"TERM": "tmux-256color", "TERM_PROGRAM": "WezTerm"}) is None
    assert desktop_protocol({"TERM": "xterm"}, "osc777") == "osc777"
    # Free text never ends the sequence early; `;` cannot split an OSC 777 title.
    assert desktop_sequence("osc9", "T", "a\x07b\x1b]9;c") == "\x1b]9;T: a b ]9;c\x07"
    assert desktop_sequence("osc777", "a;b", "c;d") == "\x1b]777;notify;a,b;c;d\x07"
