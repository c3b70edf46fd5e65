"""create_app(): middlewares, routes and long-lived objects (cleanup contexts); nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from gated import appkeys, middlewares
from gated.auth import Authenticator
from gated.config import CallbackSettings, Config
from gated.directory import Directory
from gated.guardrails import registry
from gated.guardrails.base import GuardrailDeps
from gated.guardrails.runner import GuardrailRunner
from gated.logs import AccessLog
from gated.providers import build_providers
from gated.providers.transport import UpstreamPool
from gated.routes import all_routes
from gated.routing.router import Router
from gated.spend.retention import prune_forever
from gated.spend.writer import SpendWriter
from gated.store.worker import StoreWorker
from gated.turns import Turns
from gated.web.docs import DocsSettings
from gated.web.metrics import Metrics

GC_YOUNG_THRESHOLD = 7000   # allocations between young collections (CPython's default: 700)


def create_app(config: Config, db_path: str | Path, access_log: AccessLog | None = None) -> web.Application:
    app = web.Application(
        middlewares=[middlewares.gateway],
        client_max_size=config.general_settings.max_request_bytes,
    )
    app[appkeys.CONFIG] = config
    app[appkeys.SETTINGS] = {"db_path": str(db_path), "secrets": config.secrets(), "started_at": int(time.time()),
                             "docs": DocsSettings.from_env(os.environ)}
    specs = {}
    for route in all_routes():
        specs[app.router.add_route(route.method, route.path, route.handler)] = route
    app[appkeys.ROUTE_SPECS] = specs
    app[appkeys.METRICS] = Metrics()
    app[appkeys.ACCESS_LOG] = access_log or AccessLog()
    app.cleanup_ctx.extend([_store, _directory, _http, _guardrails, _router, _spend, _retention])
    app.on_startup.append(_settle_garbage_collector)
    return app


async def _settle_garbage_collector(app: web.Application) -> None:
    """What start-up built lives as long as the process: freeze it out of the collector's view,
    and collect the young generation less often. Under load each full collection walked those
    ~100k objects again, and a request allocates enough to trigger a young one every few requests."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def _store(app: web.Application) -> AsyncIterator[None]:
    worker = StoreWorker(app[appkeys.SETTINGS]["db_path"], app[appkeys.CONFIG].litellm_settings.store_audit_logs)
    await worker.start()
    app[appkeys.STORE] = worker
    yield
    await worker.close()


async def _directory(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG]
    directory = Directory(app[appkeys.STORE], app[appkeys.SETTINGS]["db_path"],
                          config.litellm_settings.banned_keywords_match)
    await directory.sync()
    app[appkeys.AUTH] = Authenticator(config.general_settings.master_key, directory)
    yield
    directory.close()


async def _http(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=True) as session:
        app[appkeys.HTTP] = session
        yield


async def _guardrails(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG]
    directory = app[appkeys.AUTH].directory
    assert directory is not None
    deps = GuardrailDeps(base_dir=config.base_dir, is_blocked=directory.is_blocked,
                         keywords=directory.current_keywords, http=app[appkeys.HTTP])
    guardrails = [
        registry.get(name).from_config(config.litellm_settings, config.callback_settings.get(name, CallbackSettings()),
                                       deps)
        for name in config.litellm_settings.callbacks
    ]
    app[appkeys.GUARDRAILS] = GuardrailRunner(guardrails, dict(config.callback_settings),
                                              record=app[appkeys.METRICS].count_guardrail,
                                              timed=app[appkeys.METRICS].time_guardrail)
    yield


async def _router(app: web.Application) -> AsyncIterator[None]:
    app[appkeys.TURNS] = turns = Turns()
    pool = UpstreamPool(turns)
    app[appkeys.ROUTER] = Router(app[appkeys.CONFIG], build_providers(pool),
                                 on_failure=app[appkeys.METRICS].count_upstream_failure)
    yield
    pool.close()


async def _retention(app: web.Application) -> AsyncIterator[None]:
    days = app[appkeys.CONFIG].general_settings.spend_logs_retention_days
    task = asyncio.create_task(prune_forever(app[appkeys.STORE], days)) if days else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _spend(app: web.Application) -> AsyncIterator[None]:
    writer = SpendWriter(app[appkeys.STORE])
    writer.start()
    app[appkeys.SPEND] = writer
    yield
    await writer.close()
