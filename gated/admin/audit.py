"""The audit log, read-only: GET /audit (filters, newest first, paged) and GET /audit/{id}."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from gated.admin import schemas
from gated.admin.common import date_range, json_response, numbered_paging, query_choice, store_call
from gated.errors import NotFound
from gated.routes import ADMIN_ONLY, DATES, PAGING, Param, Route
from gated.store.admin import PRIMARY_KEYS
from gated.store.lists import BANNED_KEYWORDS, BLOCKED_USERS
from gated.store.store import Store

FILTERS = ("object_id", "table_name", "action", "changed_by")
# the closed sets of SPEC §9, so a misspelt filter is a 400 rather than an empty page
ACTIONS = ("created", "updated", "deleted", "blocked", "unblocked", "regenerated")
TABLES = (*PRIMARY_KEYS, BLOCKED_USERS.table, BANNED_KEYWORDS.table)
CHOICES = {"action": ACTIONS, "table_name": TABLES}


async def list_audit(request: web.Request) -> web.Response:
    limit, cursor = numbered_paging(request)
    start_day, end_day = date_range(request)
    start = start_day.isoformat() if start_day else None
    end = (end_day + dt.timedelta(days=1)).isoformat() if end_day else None
    filters = {name: request.query[name] for name in FILTERS if name in request.query}
    for name, known in CHOICES.items():
        query_choice(request, name, known)
    rows, next_cursor = await store_call(request, Store.audit_page, filters, start, end, limit,
                                         cursor)
    return json_response({"data": rows, "next_cursor": None if next_cursor is None else str(next_cursor)})


async def entry(request: web.Request) -> web.Response:
    found = await store_call(request, Store.audit_entry, request.match_info["id"])
    if found is None:
        raise NotFound("no such audit entry", param="id")
    return json_response(found)


ROUTES = [
    Route("GET", "/audit", list_audit, ADMIN_ONLY, "Audit log entries, newest first (paged, filtered)", None,
          schemas.Page, group="audit",
          params=(*(Param(name, f"only entries with this {name}", choices=CHOICES.get(name, ())) for name in FILTERS),
                  *DATES, *PAGING)),
    Route("GET", "/audit/{id}", entry, ADMIN_ONLY, "One audit log entry", None, schemas.AuditEntry, group="audit",
          params=(Param("id", "the entry's id", required=True),)),
]
