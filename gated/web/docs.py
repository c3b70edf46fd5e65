"""GET /openapi.json and GET /docs (Swagger UI served from the swagger-ui-py package's static
files: no CDN, works offline). DOCS_TITLE, DOCS_DESCRIPTION, DOCS_FILTERED and NO_DOCS come from
the environment (SPEC §10)."""

from __future__ import annotations

import html
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson
from aiohttp import web

from gated import appkeys
from gated.errors import UnsupportedRoute
from gated.routes import PUBLIC, Param, Route
from gated.web.openapi import HtmlPage, build_document

DEFAULT_TITLE = "gate — LLM gateway"
DEFAULT_DESCRIPTION = "OpenAI-compatible proxy with virtual keys, budgets, guardrails and spend tracking."
ASSETS = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css",
          "favicon-32x32.png": "image/png"}


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class DocsSettings:
    title: str = DEFAULT_TITLE
    description: str = DEFAULT_DESCRIPTION
    filtered: bool = False
    disabled: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DocsSettings:
        return cls(title=env.get("DOCS_TITLE") or DEFAULT_TITLE,
                   description=env.get("DOCS_DESCRIPTION") or DEFAULT_DESCRIPTION,
                   filtered=_flag(env.get("DOCS_FILTERED")), disabled=_flag(env.get("NO_DOCS")))


@cache
def _assets_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # located, not imported: its __init__ pulls in web frameworks
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "static"


def _settings(request: web.Request) -> DocsSettings:
    settings: DocsSettings = request.app[appkeys.SETTINGS]["docs"]
    if settings.disabled:
        raise UnsupportedRoute("the API documentation is turned off on this gateway (NO_DOCS)", param="path")
    return settings


async def openapi_json(request: web.Request) -> web.Response:
    settings = _settings(request)
    body = request.app[appkeys.SETTINGS].get("openapi")
    if body is None:
        from gated.routes import all_routes

        document = build_document(all_routes(), settings.title, settings.description, settings.filtered)
        body = request.app[appkeys.SETTINGS]["openapi"] = orjson.dumps(document)
    return web.Response(body=body, content_type="application/json")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true}});</script>
</body></html>"""


async def docs_page(request: web.Request) -> web.Response:
    settings = _settings(request)
    return web.Response(text=PAGE.format(title=html.escape(settings.title)), content_type="text/html")


async def docs_asset(request: web.Request) -> web.Response:
    _settings(request)
    name = request.match_info["name"]
    if name not in ASSETS:
        raise UnsupportedRoute(f"no documentation asset {name[:100]}", param="path")
    return web.Response(body=(_assets_dir() / name).read_bytes(), content_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400"})


ROUTES = [
    Route("GET", "/openapi.json", openapi_json, PUBLIC, "This OpenAPI 3.1 document", group="docs"),
    Route("GET", "/docs", docs_page, PUBLIC, "Swagger UI for this API", None, HtmlPage, group="docs"),
    Route("GET", "/docs/static/{name}", docs_asset, PUBLIC, "Swagger UI's own files", group="docs",
          params=(Param("name", "one of: " + ", ".join(ASSETS), required=True),)),
]
