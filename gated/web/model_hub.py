"""The model hub (SPEC §10): GET /public/model_hub (JSON) and GET /model_hub (an HTML page), no
auth, only with `enable_public_model_hub`, limited to `public_model_groups`; GET /model_group/info
for a key: the groups it may use. Prices per million tokens; never an api_key or api_base."""

from __future__ import annotations

import html
from typing import Any

import orjson
from aiohttp import web

from gated import appkeys
from gated.config import Config, Deployment
from gated.errors import UnsupportedRoute
from gated.pricing import price_for
from gated.proxy.access import may_use
from gated.routes import ANY_KEY, PUBLIC, Route, Schema
from gated.web.openapi import HtmlPage


class ModelGroup(Schema):
    model_group: str
    providers: list[str]
    mode: str
    max_input_tokens: int | None
    max_output_tokens: int | None
    input_cost_per_million: float | None
    output_cost_per_million: float | None
    description: str | None
    features: list[str]


class ModelGroups(Schema):
    data: list[ModelGroup]


def _per_million(value: float | None) -> float | None:
    return None if value is None else round(value * 1_000_000, 6)


def describe(name: str, deployments: list[Deployment]) -> dict[str, Any]:
    """One group as the hub shows it: the most expensive deployment's price (what a budget plans for)."""
    prices = [price_for(d.litellm_params) for d in deployments]
    known = [p for p in prices if p is not None]
    priced = len(known) == len(prices)
    info = deployments[0].model_info
    return {
        "model_group": name,
        "providers": sorted({d.litellm_params.provider for d in deployments}),
        "mode": info.mode,
        "max_input_tokens": min((d.model_info.max_input_tokens for d in deployments
                                 if d.model_info.max_input_tokens), default=None),
        "max_output_tokens": min((d.model_info.max_output_tokens for d in deployments
                                  if d.model_info.max_output_tokens), default=None),
        "input_cost_per_million": _per_million(max(p.input for p in known)) if priced else None,
        "output_cost_per_million": _per_million(max(p.output for p in known)) if priced else None,
        "description": next((d.model_info.description for d in deployments if d.model_info.description), None),
        "features": sorted({f for d in deployments for f in d.model_info.features}),
    }


def public_groups(config: Config) -> list[dict[str, Any]]:
    allowed = config.litellm_settings.public_model_groups
    return [describe(name, deps) for name, deps in config.groups().items() if allowed is None or name in allowed]


def _hub(request: web.Request) -> list[dict[str, Any]]:
    config = request.app[appkeys.CONFIG]
    if not config.general_settings.enable_public_model_hub:
        raise UnsupportedRoute("the model hub is off (general_settings.enable_public_model_hub)", param="path")
    return public_groups(config)


async def hub_json(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps({"data": _hub(request)}), content_type="application/json")


async def group_info(request: web.Request) -> web.Response:
    config = request.app[appkeys.CONFIG]
    principal = request[appkeys.PRINCIPAL]
    data = [describe(name, deps) for name, deps in config.groups().items() if may_use(principal, name)]
    return web.Response(body=orjson.dumps({"data": data}), content_type="application/json")


def _price(value: float | None) -> str:
    return "not priced" if value is None else f"${value:,.4g}"


def _tokens(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


CARD = """<article class="card" data-group="{name}">
  <header><h2>{name}</h2><span class="mode">{mode}</span></header>
  <p class="description">{description}</p>
  <dl>
    <dt>Input</dt><dd class="price-in">{price_in} / 1M tokens</dd>
    <dt>Output</dt><dd class="price-out">{price_out} / 1M tokens</dd>
    <dt>Context</dt><dd>{max_in} in · {max_out} out</dd>
    <dt>Provider</dt><dd>{providers}</dd>
  </dl>
</article>"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Model hub — {title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d232b; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 32px 20px; }}
h1 {{ margin: 0 0 4px; font-size: 26px; }} .lead {{ color: #5b6675; margin: 0 0 24px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 16px; }}
.card {{ background: #fff; border: 1px solid #e2e6eb; border-radius: 10px; padding: 18px 20px; }}
.card header {{ display: flex; justify-content: space-between; align-items: baseline; gap: 8px; }}
.card h2 {{ font-size: 17px; margin: 0; overflow-wrap: break-word; min-width: 0; }}
.mode {{ flex-shrink: 0; font-size: 12px; background: #eef2ff; color: #3730a3; padding: 2px 8px;
         border-radius: 999px; }}
.description {{ color: #5b6675; min-height: 1.5em; margin: 8px 0 12px; }}
dl {{ display: grid; grid-template-columns: auto 1fr; gap: 4px 14px; margin: 0; }}
dt {{ color: #5b6675; }} dd {{ margin: 0; font-variant-numeric: tabular-nums; }}
</style></head>
<body><main><h1>Model hub</h1>
<p class="lead">{count} model group(s) available through this gateway. Call them with any OpenAI SDK at
<code>/v1</code>.</p>
<section class="grid">{cards}</section></main></body></html>"""


async def hub_page(request: web.Request) -> web.Response:
    groups = _hub(request)
    cards = "\n".join(CARD.format(
        name=html.escape(g["model_group"]), mode=html.escape(g["mode"]),
        description=html.escape(g["description"] or ""), price_in=_price(g["input_cost_per_million"]),
        price_out=_price(g["output_cost_per_million"]), max_in=_tokens(g["max_input_tokens"]),
        max_out=_tokens(g["max_output_tokens"]), providers=html.escape(", ".join(g["providers"])),
    ) for g in groups)
    title = html.escape(request.app[appkeys.SETTINGS]["docs"].title)
    return web.Response(text=PAGE.format(title=title, count=len(groups), cards=cards), content_type="text/html")


ROUTES = [
    Route("GET", "/model_hub", hub_page, PUBLIC, "The public model hub page", None, HtmlPage, group="model hub"),
    Route("GET", "/public/model_hub", hub_json, PUBLIC, "The public model groups with prices", None, ModelGroups,
          group="model hub"),
    Route("GET", "/model_group/info", group_info, ANY_KEY, "The model groups this key may use", None, ModelGroups,
          group="model hub"),
]
