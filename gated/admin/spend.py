"""Spend reports (SPEC §7): /spend/tags (the seed's bare-list shape), /spend/logs (a key may read
its own), /spend/keys|teams|users summaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from pydantic import RootModel

from gated.admin import schemas
from gated.admin.common import (
    date_range,
    json_response,
    keyset_cursor,
    keyset_paging,
    numbered_paging,
    principal,
    query_choice,
    store_call,
)
from gated.auth import ADMIN
from gated.errors import Forbidden
from gated.routes import ADMIN_ONLY, DATES, PAGING, SCOPED, Param, Route, Schema
from gated.spend.record import ERROR, REJECTED, SUCCESS
from gated.store.reports import LOG_FILTERS
from gated.store.store import Store


class TagSpend(Schema):
    individual_request_tag: str
    log_count: int
    total_spend: float


class TagSpendList(RootModel[list[TagSpend]]):
    pass


STATUSES = (SUCCESS, REJECTED, ERROR)


def _iso_days(request: web.Request) -> tuple[str | None, str | None]:
    start, end = date_range(request)
    return (start.isoformat() if start else None, end.isoformat() if end else None)


async def tags(request: web.Request) -> web.Response:
    start, end = _iso_days(request)
    return json_response(await store_call(request, Store.spend_by_tag, start, end))


async def logs(request: web.Request) -> web.Response:
    who = principal(request)
    limit, cursor = numbered_paging(request)
    filters: dict[str, Any] = {name: request.query[name] for name in LOG_FILTERS if request.query.get(name)}
    query_choice(request, "status", STATUSES)
    if who.role != ADMIN:   # a key reads only its own logs; a filter naming another key or team is refused
        for name, own in (("token_id", who.token_id), ("team_id", who.team_id)):
            if filters.get(name, own) != own:
                raise Forbidden(f"a key reads only its own spend logs: leave {name} out or give its own", param=name)
        filters["token_id"] = who.token_id
    start, end = date_range(request)
    rows, next_cursor = await store_call(
        request, Store.spend_logs, filters, request.query.get("tag") or None,
        start.isoformat() if start else None, (end + dt.timedelta(days=1)).isoformat() if end else None,
        limit, cursor)
    return json_response({"data": rows, "next_cursor": None if next_cursor is None else str(next_cursor)})


def _summary(group: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        limit, after = keyset_paging(request)
        start, end = _iso_days(request)
        rows, next_after = await store_call(request, Store.spend_by, group, start, end, limit, after)
        return json_response({"data": rows, "next_cursor": keyset_cursor(next_after)})

    handler.__name__ = f"spend_{group}"
    return handler


ROUTES = [
    Route("GET", "/spend/tags", tags, ADMIN_ONLY,
          "Spend per request tag over successful requests (start_date/end_date: UTC days, inclusive)",
          None, TagSpendList, group="spend", params=DATES),
    Route("GET", "/spend/logs", logs, SCOPED, "Spend rows, newest first (admin; a key reads its own)", None,
          schemas.Page, group="spend",
          params=(*(Param(name, f"only rows with this {name}", choices=STATUSES if name == "status" else ())
                    for name in (*LOG_FILTERS, "tag")), *DATES, *PAGING)),
    *(Route("GET", f"/spend/{group}", _summary(group), ADMIN_ONLY, f"Spend per {group.rstrip('s')}", None,
            schemas.Page, group="spend", params=(*DATES, *PAGING)) for group in ("keys", "teams", "users")),
]
