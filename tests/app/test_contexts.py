"""Several contexts watched at once, against two real endpoints (two accounts, two regions):
one merged list with account and region columns, each pipeline opened in its own context,
switching the list to one context, each context's own health, and an expired SSO token in
one context while the other keeps working."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import botocore.credentials
import botocore.tokens
import pytest
from textual.widgets import Static

from tests.app.support import app_settings, fixed_clock, plain, wait_until
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.app.app import PipetopApp, make_app
from tui.app.contexts import WatchContext
from tui.app.screens.pipeline import PipelineScreen
from tui.app.screens.pipelines import PipelinesScreen
from tui.app.widgets.pipeline_table import PipelineTable
from tui.app.widgets.status_bar import StatusBar
from tui.aws.session import ConnectionSettings

SIZE = (140, 36)
BETA_ACCOUNT = "111111111111"
BETA_REGION = "eu-west-1"


@pytest.fixture
def beta(tmp_path: Path) -> Iterator[Endpoint]:
    """A second endpoint: another account, another region."""
    ep = Endpoint(tmp_path / "beta", region=BETA_REGION, account=BETA_ACCOUNT).start()
    try:
        yield ep
    finally:
        if ep.loop.is_running():
            ep.stop()


def context(label: str, url: str, *, production: bool = False, **connection: Any) -> WatchContext:
    return WatchContext(
        label,
        ConnectionSettings(endpoint_url=url, max_attempts=1, connect_timeout=1.0, **connection),
        production=production,
    )


def two_context_app(
    alpha: Endpoint, beta: Endpoint, *, beta_production: bool = False, **settings: Any
) -> PipetopApp:
    contexts = [
        context("alpha", alpha.url),
        context("beta", beta.url, region=BETA_REGION, production=beta_production),
    ]
    return make_app(app_settings(**settings), clock=fixed_clock, contexts=contexts)


def table(app: PipetopApp) -> PipelineTable:
    return app.screen.query_one(PipelineTable)


def cells(app: PipetopApp, key: str) -> dict[str, str]:
    grid = table(app)
    values = grid.get_row(key)
    return {str(c.key.value): plain(v) for c, v in zip(grid.ordered_columns, values, strict=True)}


def bar_text(app: PipetopApp) -> str:
    return plain(app.screen.query_one(StatusBar).render())


def summary(app: PipetopApp) -> str:
    return plain(app.screen.query_one("#summary", Static).render())


def calls(endpoint: Endpoint) -> dict[str, int]:
    """What the endpoint received, by service.Operation (its own count)."""
    with urllib.request.urlopen(f"{endpoint.url}/_local/calls", timeout=5) as answer:
        counts: dict[str, int] = json.load(answer)["calls"]
    return counts


def create(endpoint: Endpoint, name: str, *stages: dict[str, Any]) -> None:
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=pipeline(name, *stages))
    wait_status(client, name, latest_execution_id(client, name), "Succeeded", "InProgress")


def seed(alpha: Endpoint, beta: Endpoint) -> None:
    """Both have a "web-app" (alpha's builds, beta's waits for approval); alpha also has
    "only-alpha"."""
    upload_source(alpha)
    upload_source(beta)
    create(alpha, "web-app", stage("Build", commands("Compile", ["echo built"])))
    create(alpha, "only-alpha", stage("Build", commands("Compile", ["true"])))
    create(beta, "web-app", stage("Gate", approval("Release")))


def merged(app: PipetopApp) -> bool:
    if not isinstance(app.screen, PipelinesScreen):
        return False
    keys = table(app).row_keys
    if keys != ["alpha/only-alpha", "alpha/web-app", "beta/web-app"]:
        return False
    return cells(app, "beta/web-app")["account"] == BETA_ACCOUNT and (
        cells(app, "alpha/web-app")["account"] == "000000000000"
    )


async def test_one_list_of_both_contexts_with_account_and_region_columns(
    endpoint: Endpoint, beta: Endpoint
) -> None:
    seed(endpoint, beta)
    contexts = [
        replace(context("alpha", endpoint.url), read_only=True),
        context("beta", beta.url, region=BETA_REGION),
    ]
    app = make_app(app_settings(), clock=fixed_clock, contexts=contexts)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: merged(app), what="three rows from two contexts")
        # Read-only is the context's own.
        assert app.watched.watchers["alpha"].client.read_only
        assert not app.watched.watchers["beta"].client.read_only
        assert "alpha · 000000000000 · us-east-1  READ-ONLY " in bar_text(app)
        assert "READ-ONLY" not in bar_text(app).split("beta")[1]
        grid = table(app)
        assert [str(c.key.value) for c in grid.ordered_columns][:3] == [
            "name",
            "account",
            "region",
        ]
        alpha_row = cells(app, "alpha/web-app")
        beta_row = cells(app, "beta/web-app")
        # The same name in two contexts is two rows, each with its own place and state.
        assert (alpha_row["name"], alpha_row["region"]) == ("web-app", "us-east-1")
        assert (beta_row["name"], beta_row["region"]) == ("web-app", BETA_REGION)
        await wait_until(pilot, lambda: "Awaiting approval" in cells(app, "beta/web-app")["status"])
        assert "Awaiting approval" not in cells(app, "alpha/web-app")["status"]
        assert summary(app).startswith("3 pipelines")
        await wait_until(pilot, lambda: "● beta" in bar_text(app) and "● alpha" in bar_text(app))
        assert f"beta · {BETA_ACCOUNT} · {BETA_REGION}" in bar_text(app)
        assert "alpha · 000000000000 · us-east-1" in bar_text(app)


async def test_opening_a_row_opens_that_pipeline_in_its_own_context(
    endpoint: Endpoint, beta: Endpoint
) -> None:
    seed(endpoint, beta)
    app = two_context_app(endpoint, beta, beta_production=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: merged(app))
        assert f"beta · {BETA_ACCOUNT} · {BETA_REGION}  PROD " in bar_text(app)
        assert "PROD" not in bar_text(app).split("beta")[0]
        before_alpha = calls(endpoint).get("codepipeline.ListActionExecutions", 0)
        grid = table(app)
        grid.move_cursor(row=grid.row_keys.index("beta/web-app"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen))
        screen = app.screen
        assert isinstance(screen, PipelineScreen)
        assert screen.pipeline_name == "web-app"
        assert screen.watcher is app.watched.watchers["beta"]
        assert app.watcher is app.watched.watchers["beta"]
        # Beta is production: its controls ask for the name typed out; alpha's do not.
        assert screen.production
        # What the screen shows is beta's pipeline: its approval stage, not alpha's build.
        await wait_until(pilot, lambda: screen.view is not None and screen.view.stage("Gate"))
        assert screen.view is not None
        assert screen.view.stage("Build") is None
        # Beta was asked for the action runs of the pipeline on screen; alpha was not.
        await wait_until(pilot, lambda: calls(beta).get("codepipeline.ListActionExecutions", 0) > 0)
        assert calls(endpoint).get("codepipeline.ListActionExecutions", 0) == before_alpha
        # The pipeline screen's bar is beta's alone.
        await wait_until(pilot, lambda: f"{BETA_ACCOUNT} · {BETA_REGION}" in bar_text(app))
        assert "alpha" not in bar_text(app)

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelinesScreen))
        grid = table(app)
        grid.move_cursor(row=grid.row_keys.index("alpha/web-app"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen))
        screen = app.screen
        assert isinstance(screen, PipelineScreen)
        assert screen.watcher is app.watched.watchers["alpha"]
        assert not screen.production
        await wait_until(pilot, lambda: screen.view is not None and screen.view.stage("Build"))
        assert screen.view is not None
        assert screen.view.stage("Gate") is None

        # History from the pipeline screen stays in the pipeline's context.
        await pilot.press("h")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen")
        assert app.watched.context_of(app.screen) == "alpha"
        assert getattr(app.screen, "watcher", None) is app.watched.watchers["alpha"]


async def test_the_context_key_shows_one_context_then_the_next_then_all(
    endpoint: Endpoint, beta: Endpoint
) -> None:
    seed(endpoint, beta)
    app = two_context_app(endpoint, beta)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: merged(app))
        await pilot.press("c")
        assert table(app).row_keys == ["alpha/only-alpha", "alpha/web-app"]
        assert "context: alpha" in summary(app)
        assert summary(app).startswith("2 pipelines")
        # The bar is alpha's own, in full.
        assert "alpha" not in bar_text(app)
        assert "000000000000 · us-east-1" in bar_text(app)
        await pilot.press("c")
        assert table(app).row_keys == ["beta/web-app"]
        assert summary(app).startswith("1 pipeline ")
        assert "1 awaiting approval" in summary(app)
        assert f"{BETA_ACCOUNT} · {BETA_REGION}" in bar_text(app)
        # A filter works inside the context shown.
        await pilot.press("slash", *"web")
        assert table(app).row_keys == ["beta/web-app"]
        await pilot.press("escape")
        await pilot.press("c")
        assert table(app).row_keys == ["alpha/only-alpha", "alpha/web-app", "beta/web-app"]
        assert "context:" not in summary(app)
        assert "● alpha" in bar_text(app)
        assert "● beta" in bar_text(app)
        # The command palette switches too, by the context's label.
        await pilot.press("ctrl+p")
        await pilot.press(*"show context: beta")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: table(app).row_keys == ["beta/web-app"])
        await pilot.press("ctrl+p")
        await pilot.press(*"show all contexts")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(table(app).row_keys) == 3)
        app.show_context("beta")
        await pilot.pause()
        assert table(app).row_keys == ["beta/web-app"]
        app.show_context("nowhere")
        await pilot.pause()
        assert table(app).row_keys == ["beta/web-app"]


async def test_a_context_whose_endpoint_goes_down_is_the_only_one_marked(
    endpoint: Endpoint, beta: Endpoint
) -> None:
    seed(endpoint, beta)
    app = two_context_app(endpoint, beta)
    messages: list[Any] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: merged(app))
        beta.stop()
        await wait_until(pilot, lambda: app.watched.statuses["beta"].stale_since is not None)
        await wait_until(pilot, lambda: "✗ beta" in bar_text(app))
        assert "Endpoint unreachable" in bar_text(app)
        assert "● alpha" in bar_text(app)
        assert app.watched.statuses["alpha"].problem is None
        # Beta's rows stay on screen; alpha keeps updating: a new pipeline appears.
        create(endpoint, "late", stage("Build", commands("Compile", ["true"])))
        await wait_until(pilot, lambda: "alpha/late" in table(app).row_keys, what="alpha's new row")
        assert "beta/web-app" in table(app).row_keys

        def titles() -> list[str]:
            return [m.notification.title for m in messages if type(m).__name__ == "Notify"]

        await wait_until(pilot, lambda: "beta: Endpoint unreachable" in titles())
        assert not any(title.startswith("alpha:") for title in titles())


def write_expired_sso_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real AWS config whose profile `prod` uses an SSO session with an expired cached
    token, in a HOME of the test's own."""
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile prod]\n"
        "sso_session = corp\n"
        "sso_account_id = 222222222222\n"
        "sso_role_name = Deployer\n"
        "region = eu-west-1\n"
        "\n"
        "[sso-session corp]\n"
        "sso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = eu-west-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    token = {
        "startUrl": "https://corp.awsapps.com/start",
        "region": "eu-west-1",
        "accessToken": "expired",
        "expiresAt": "2020-01-01T00:00:00Z",
    }
    (cache / f"{hashlib.sha1(b'corp').hexdigest()}.json").write_text(json.dumps(token))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    # botocore computes the token cache directory from HOME once, when it is imported (the
    # real process has its HOME from the start); point it at this test's HOME the same way.
    cache_dir = os.path.expanduser(os.path.join("~", ".aws", "sso", "cache"))
    assert cache_dir == str(cache)
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", cache_dir)
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", cache_dir)


async def test_an_expired_sso_token_names_the_login_and_the_other_context_keeps_working(
    endpoint: Endpoint, beta: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_expired_sso_profile(tmp_path, monkeypatch)
    seed(endpoint, beta)
    contexts = [context("alpha", endpoint.url), context("prod", beta.url, profile="prod")]
    app = make_app(app_settings(), clock=fixed_clock, contexts=contexts)
    messages: list[Any] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: app.watched.statuses["prod"].problem is not None)
        problem = app.watched.statuses["prod"].problem
        assert problem is not None
        assert "aws sso login --profile prod" in problem.hint
        # The token was found and is expired (not merely missing).
        assert "Token has expired" in problem.detail

        def sso_notes() -> list[Any]:
            notes = [m.notification for m in messages if type(m).__name__ == "Notify"]
            return [n for n in notes if n.title == "prod: SSO session expired"]

        await wait_until(pilot, sso_notes)
        assert "aws sso login --profile prod" in sso_notes()[0].message
        await wait_until(pilot, lambda: "✗ prod" in bar_text(app))
        assert "SSO session expired" in bar_text(app)
        # Nothing reached the endpoint as prod, and alpha's pipelines are listed and fresh.
        await wait_until(
            pilot, lambda: table(app).row_keys == ["alpha/only-alpha", "alpha/web-app"]
        )
        assert "● alpha" in bar_text(app)
        create(endpoint, "late", stage("Build", commands("Compile", ["true"])))
        await wait_until(pilot, lambda: "alpha/late" in table(app).row_keys)
        assert calls(beta).get("codepipeline.ListPipelines", 0) == 0
        # Said once, though prod's reads keep failing.
        assert len(sso_notes()) == 1


async def test_one_context_is_the_app_as_before(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    create(endpoint, "web-app", stage("Build", commands("Compile", ["true"])))
    app = make_app(app_settings(), clock=fixed_clock, contexts=[context("only", endpoint.url)])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: table(app).row_keys == ["web-app"])
        assert [str(c.key.value) for c in table(app).ordered_columns][:2] == ["name", "status"]
        assert not app.watched.several
        await pilot.press("c")
        assert table(app).row_keys == ["web-app"]
        await wait_until(pilot, lambda: "LOCAL" in bar_text(app))
