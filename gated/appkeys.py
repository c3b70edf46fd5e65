"""Every typed key stored on the app or a request, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from gated.auth import Principal

CONFIG = web.AppKey("config", "Config")
SETTINGS = web.AppKey("settings", dict[str, Any])  # runtime facts: db path, host, secrets
AUTH = web.AppKey("auth", "Authenticator")
STORE = web.AppKey("store", "StoreWorker")
HTTP = web.AppKey("http", aiohttp.ClientSession)
ROUTER = web.AppKey("router", "Router")
SPEND = web.AppKey("spend", "SpendWriter")
ROUTE_SPECS = web.AppKey("route_specs", dict[Any, Any])
GUARDRAILS = web.AppKey("guardrails", "GuardrailRunner")
METRICS = web.AppKey("metrics", "Metrics")
ACCESS_LOG = web.AppKey("access_log", "AccessLog")
TURNS = web.AppKey("turns", "Turns")

# request-scoped values (aiohttp requests are MutableMappings; plain string keys, named once here)
REQUEST_ID = "gated.request_id"
STARTED = "gated.started"
PRINCIPAL = "gated.principal"
LOG_FIELDS = "gated.log_fields"

__all__ = ["CONFIG", "SETTINGS", "AUTH", "STORE", "HTTP", "ROUTER", "SPEND", "ROUTE_SPECS", "GUARDRAILS", "METRICS",
           "ACCESS_LOG", "TURNS", "REQUEST_ID", "STARTED", "PRINCIPAL", "LOG_FIELDS", "Principal"]
