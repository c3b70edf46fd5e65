"""The audit log, read-only: GET /audit (filters, newest first, paged) and GET /audit/{id}."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from gated.admin import schemas
from gated.admin.common import date_range, json_response, paging, store_call
from gated.errors import InvalidRequest, NotFound
from gated.routes import ADMIN_ONLY, DATES, PAGING, Param, Route
from gated.store.store import Store

FILTERS = ("object_id", "table_name", "action", "changed_by")


async def list_audit(request: web.Request) -> web.Response:
    limit, cursor = paging(request)
    if cursor is not None and not cursor.isdigit():
        raise InvalidRequest("cursor is not one this API returned", param="cursor")
    start_day, end_day = date_range(request)
    start = start_day.isoformat() if start_day else None
    end = (end_day + dt.timedelta(days=1)).isoformat() if end_day else None
    filters = {name: request.query[name] for name in FILTERS if name in request.query}
    rows, next_cursor = await store_call(request, Store.audit_page, filters, start, end, limit,
                                         int(cursor) if cursor else None)
    return json_response({"data": rows, "next_cursor": None if next_cursor is None else str(next_cursor)})


async def entry(request: web.Request) -> web.Response:
    found = await store_call(request, Store.audit_entry, request.match_info["id"])
    if found is None:
        raise NotFound("no such audit entry", param="id")
    return json_response(found)


ROUTES = [
    Route("GET", "/audit", list_audit, ADMIN_ONLY, "Audit log entries, newest first (paged, filtered)", None,
          schemas.Page, group="audit",
          params=(*(Param(name, f"only entries with this {name}") for name in FILTERS), *DATES, *PAGING)),
    Route("GET", "/audit/{id}", entry, ADMIN_ONLY, "One audit log entry", None, schemas.AuditEntry, group="audit",
          params=(Param("id", "the entry's id", required=True),)),
]
