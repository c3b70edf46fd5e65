"""Health probes: liveliness (the process answers) and readiness (the database answers)."""

from __future__ import annotations

import orjson
from aiohttp import web

from gated import __version__, appkeys
from gated.routes import PUBLIC, Route, Schema
from gated.store.store import Store


class Health(Schema):
    status: str
    version: str
    db: str | None = None


def _json(body: dict[str, object], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def liveliness(request: web.Request) -> web.Response:
    return _json({"status": "alive", "version": __version__})


async def readiness(request: web.Request) -> web.Response:
    try:
        ok = await request.app[appkeys.STORE].run(Store.ping)
    except Exception:  # any database failure means "not ready"; the probe must answer, not raise
        ok = False
    if not ok:
        return _json({"status": "unhealthy", "version": __version__, "db": "unreachable"}, status=503)
    return _json({"status": "healthy", "version": __version__, "db": "connected"})


ROUTES = [
    Route("GET", "/health/liveliness", liveliness, PUBLIC, "Is the process up", None, Health, group="health"),
    Route("GET", "/health/liveness", liveliness, PUBLIC, "Alias of /health/liveliness", None, Health, group="health"),
    Route("GET", "/health/readiness", readiness, PUBLIC, "Is the database reachable", None, Health, group="health"),
]
