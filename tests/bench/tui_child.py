"""The app started the way the `pipetop` command starts it, for `bench_tui`'s first-frame and
first-data figures: this module imports nothing the command does not (the benchmark's own
imports, boto3 and the test endpoint among them, would otherwise count as the app's).

    python -m tests.bench.tui_child first-frame URL
    python -m tests.bench.tui_child first-data URL COUNT [MAX_RATE]

Both run `tui.cli.main(["--endpoint-url", URL])` with the app headless at 120x36 and print
`READY <monotonic>` at Textual's `Ready` (the first frame has been displayed) or `FILLED
<monotonic>` at the end of the first frame that shows COUNT pipelines each awaiting approval,
then exit. MAX_RATE replaces the request budgets (`PIPETOP_POLL__MAX_RATE`,
`PIPETOP_BUDGET__RATE` and `__BURST`, as a user would set them).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

SIZE = (120, 36)


def _headless(auto_pilot: Any = None) -> None:
    """The command's `app.run()`, headless at SIZE (no terminal to draw on)."""
    from textual.app import App

    run = App.run

    def headless_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(headless=True, size=SIZE)
        if auto_pilot is not None:
            kwargs["auto_pilot"] = auto_pilot
        return run(self, *args, **kwargs)

    App.run = headless_run  # type: ignore[method-assign]


def first_frame(url: str) -> None:
    from textual import events
    from textual._context import active_app, message_hook

    def hook(message: object) -> None:
        if isinstance(message, events.Ready):
            print(f"READY {time.monotonic():.6f}", flush=True)
            if os.environ.get("BENCH_MARK_STDERR"):
                print("READY-MARK", file=sys.stderr, flush=True)
            active_app.get().exit()

    message_hook.set(hook)
    _headless()
    from tui.cli import main

    main(["--endpoint-url", url])


def first_data(url: str, count: int) -> None:
    async def watch(pilot: Any) -> None:
        import asyncio

        from tui.app.screens.pipelines import PipelinesScreen

        app = pilot.app

        def filled() -> bool:
            screen = app.screen
            if not isinstance(screen, PipelinesScreen) or not screen.is_mounted:
                return False
            views = app.workspace.pipelines
            return (
                len(views) == count
                and screen.table.row_count == count
                and all(view.status == "AwaitingApproval" for view in views.values())
            )

        while not filled():
            await pilot.pause(0.005)
        done = asyncio.get_running_loop().create_future()
        app.call_after_refresh(lambda: done.set_result(time.monotonic()))
        print(f"FILLED {await done:.6f}", flush=True)
        app.exit()

    _headless(auto_pilot=watch)
    from tui.cli import main

    main(["--endpoint-url", url])


if __name__ == "__main__":
    kind, url, *rest = sys.argv[1:]
    if kind == "first-frame":
        first_frame(url)
    else:
        if len(rest) > 1:
            os.environ["PIPETOP_POLL__MAX_RATE"] = rest[1]
            os.environ["PIPETOP_BUDGET__RATE"] = rest[1]
            os.environ["PIPETOP_BUDGET__BURST"] = rest[1]
        first_data(url, int(rest[0]))
