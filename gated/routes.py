"""The route table: every HTTP route of gated is declared once here, with method, path, the role
it needs and its request/response models (the OpenAPI document is generated from this)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, ConfigDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC = "public"        # no authentication
ANY_KEY = "any"          # any valid key (or open mode)
ADMIN_ONLY = "admin"     # the master key
SCOPED = "scoped"        # a master key or a virtual key; the handler applies the SPEC §5.1 matrix


class Schema(BaseModel):
    """Base of the routes' request and response models. Each model's validator is built on its
    first use rather than at import: it holds memory for as long as gated runs (idle RSS is a
    SPEC §12 bar), and a deployment uses only some of the models."""

    model_config = ConfigDict(defer_build=True)


@dataclass(frozen=True)
class Param:
    """A query parameter (or a `{name}` in the path), for the OpenAPI document."""

    name: str
    description: str
    required: bool = False
    type: str = "string"
    choices: tuple[str, ...] = ()   # the only values accepted (an enum in the OpenAPI document)


PAGING = (Param("limit", "rows per page, 1–1000 (default 100)", type="integer"),
          Param("cursor", "next_cursor of the previous page"))
DATES = (Param("start_date", "first day, YYYY-MM-DD (UTC, inclusive)"),
         Param("end_date", "last day, YYYY-MM-DD (UTC, inclusive)"))


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    role: str
    summary: str
    request_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    openai: bool = False   # part of the OpenAI-compatible surface
    group: str = "gateway"
    params: tuple[Param, ...] = ()


def all_routes() -> list[Route]:
    from gated.admin import audit, keys, lists, spend, teams, users
    from gated.proxy.handlers import ROUTES as proxy_routes
    from gated.web import docs, metrics, model_hub
    from gated.web.health import ROUTES as health_routes

    return [*proxy_routes, *health_routes, *metrics.ROUTES, *docs.ROUTES, *model_hub.ROUTES, *keys.ROUTES,
            *teams.ROUTES,
            *users.ROUTES, *audit.ROUTES, *spend.ROUTES, *lists.ROUTES]
