"""The audit log, read-only: GET /audit (filters, newest first, paged) and GET /audit/{id}."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from gated.admin import schemas
from gated.admin.common import json_response, paging, store_call
from gated.errors import InvalidRequest, NotFound
from gated.routes import ADMIN_ONLY, Route
from gated.store.store import Store

FILTERS = ("object_id", "table_name", "action", "changed_by")


def _day(request: web.Request, name: str, days_after: int) -> str | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date YYYY-MM-DD", param=name) from None
    return (day + dt.timedelta(days=days_after)).isoformat()


async def list_audit(request: web.Request) -> web.Response:
    limit, cursor = paging(request)
    if cursor is not None and not cursor.isdigit():
        raise InvalidRequest("cursor is not one this API returned", param="cursor")
    start, end = _day(request, "start_date", 0), _day(request, "end_date", 1)
    if start and end and start >= end:
        raise InvalidRequest("start_date is after end_date", param="start_date")
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
          schemas.Page, group="audit"),
    Route("GET", "/audit/{id}", entry, ADMIN_ONLY, "One audit log entry", None, schemas.AuditEntry, group="audit"),
]
