"""Wires one endpoint together: stores, engine, and the services the API routes to."""

from __future__ import annotations

from pathlib import Path

from tui.local.api.codebuild import CodeBuildService
from tui.local.api.codepipeline import CodePipelineService
from tui.local.api.events import EventsService
from tui.local.api.faults import Faults
from tui.local.api.logs import LogsService
from tui.local.api.s3 import S3Api
from tui.local.api.sqs import SqsService
from tui.local.backend import DEFAULT_ACCOUNT, DEFAULT_REGION, Backend
from tui.local.clock import Clock
from tui.local.config import ConfigError, load_config
from tui.local.engine.builds import BuildStore
from tui.local.engine.custom_types import CustomActionTypes
from tui.local.engine.engine import PipelineEngine
from tui.local.engine.eventbus import EventBus
from tui.local.engine.jobs import JobRegistry
from tui.local.engine.logs import LogStore
from tui.local.engine.objects import ObjectStore
from tui.local.engine.orphans import ProcessGroups
from tui.local.engine.providers.codebuild import CodeBuildProvider
from tui.local.engine.providers.commands import CommandsProvider
from tui.local.engine.providers.custom import CustomActionProvider
from tui.local.engine.providers.git_source import GitSourceProvider, RepositoryLocator
from tui.local.engine.providers.lambda_invoke import LambdaInvokeProvider
from tui.local.engine.providers.registry import ProviderRegistry
from tui.local.engine.providers.s3_deploy import S3DeployProvider
from tui.local.engine.providers.s3_source import S3SourceProvider
from tui.local.engine.queues import QueueStore
from tui.local.engine.source_watch import DEFAULT_INTERVAL_SECONDS, SourceWatcher
from tui.local.engine.state import EngineState


def default_providers(objects: ObjectStore, backend: Backend) -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.register("Source", "AWS", "S3", "1", S3SourceProvider(objects))
    repositories = RepositoryLocator(backend.data_dir, backend.config)
    codecommit = GitSourceProvider(repositories, "CodeCommit")
    registry.register("Source", "AWS", "CodeCommit", "1", codecommit)
    connections = GitSourceProvider(repositories, "CodeStarSourceConnection")
    registry.register("Source", "AWS", "CodeStarSourceConnection", "1", connections)
    registry.register("Deploy", "AWS", "S3", "1", S3DeployProvider(objects))
    groups = ProcessGroups(backend.db)
    registry.register("Compute", "AWS", "Commands", "1", CommandsProvider(groups=groups))
    codebuild = CodeBuildProvider(backend.builds, backend.logs, backend.config, groups=groups)
    registry.register("Build", "AWS", "CodeBuild", "1", codebuild)
    registry.register("Test", "AWS", "CodeBuild", "1", codebuild)
    return registry


async def open_backend(
    data_dir: Path,
    clock: Clock | None = None,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    config_path: Path | None = None,
    watch_interval: float | None = None,
) -> Backend:
    """Open everything an endpoint serves; raises ConfigError for an unusable config file."""
    backend = await Backend.open(data_dir, clock, region, account)
    try:
        backend.config = load_config(backend.data_dir, config_path)
    except ConfigError:
        backend.db.close()
        raise
    objects = ObjectStore(backend.db, backend.data_dir / "objects", backend.clock)
    backend.objects = objects
    backend.s3_api = S3Api(objects, region=region, account=account)
    logs = LogStore(backend.db, backend.clock)
    backend.logs = logs
    builds = BuildStore(backend.db, backend.clock, region, account)
    builds.recover()
    backend.builds = builds
    backend.add_service(LogsService(logs, backend.clock, region, account))
    backend.add_service(CodeBuildService(builds))
    state = EngineState(backend.db, backend.clock, region, account)
    jobs = JobRegistry(account)
    providers = default_providers(objects, backend)
    providers.register_owner("Custom", CustomActionProvider(jobs))
    functions = LambdaInvokeProvider.for_backend(backend, jobs)
    providers.register("Invoke", "AWS", "Lambda", "1", functions)
    engine = PipelineEngine(
        state, objects, logs, providers, backend.data_dir, CustomActionTypes(backend.db), jobs
    )
    backend.engine = engine
    backend.add_service(CodePipelineService(engine))
    # SQS and EventBridge: the default bus follows the engine's event log (delivering after
    # each commit, catching up on start) before the engine starts emitting.
    queues = QueueStore(backend.db, backend.clock, region, account)
    bus = EventBus(backend.db, backend.clock, region, account, queues)
    bus.follow(state.events)
    backend.add_service(SqsService(queues))
    backend.add_service(EventsService(bus))
    backend.faults = Faults(bus, region, account)
    engine.start()
    backend.source_watch = SourceWatcher(
        engine,
        backend.db,
        backend.clock,
        objects,
        RepositoryLocator(backend.data_dir, backend.config),
        region=region,
        account=account,
        interval=DEFAULT_INTERVAL_SECONDS if watch_interval is None else watch_interval,
    )
    backend.source_watch.start()
    return backend
