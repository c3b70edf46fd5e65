"""What every admin handler shares: body validation into pydantic models (400 naming the field),
paging parameters, JSON responses, and running store calls on the store thread."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gated import appkeys
from gated.auth import Principal
from gated.errors import Conflict, InvalidRequest
from gated.proxy.request import parse_json_object
from gated.store.admin import DuplicateError
from gated.store.store import Store

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def _param(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else str(part))
    return path


def validation_error(exc: ValidationError) -> InvalidRequest:
    first = exc.errors()[0]
    param = _param(tuple(first["loc"]))
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    return InvalidRequest(f"{param}: {message}" if param else message, param=param or None)


async def read_model(request: web.Request, model: type[M]) -> M:
    body = parse_json_object(await request.read())
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from None


def require_known_models(request: web.Request, models: list[str] | None) -> None:
    """Model access lists name model groups of this gated's config; a misspelt one is refused
    rather than silently denying every request."""
    known = request.app[appkeys.CONFIG].groups()
    unknown = [m for m in models or () if m not in known]
    if unknown:
        raise InvalidRequest(f"unknown model group {', '.join(map(repr, unknown))}; this gated has: "
                             f"{', '.join(sorted(known))}", param="models")


def principal(request: web.Request) -> Principal:
    return request[appkeys.PRINCIPAL]


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


_DIGITS = re.compile(r"[0-9]{1,18}")   # ASCII only (str.isdigit() takes "²"), and within SQLite's integers


def paging(request: web.Request) -> tuple[int, str | None]:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}", param="limit")
    return int(raw), request.query.get("cursor") or None


def query_choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    """The query parameter `name` (absent or empty: None), which must be one of `choices`."""
    value = request.query.get(name) or None
    if value is not None and value not in choices:
        raise InvalidRequest(f"{name} must be one of: {', '.join(choices)}", param=name)
    return value


def numbered_paging(request: web.Request) -> tuple[int, int | None]:
    """`limit` and the row number to continue after (cursors of append-only logs)."""
    limit, cursor = paging(request)
    if cursor is not None and not _DIGITS.fullmatch(cursor):
        raise InvalidRequest("cursor is not one this API returned", param="cursor")
    return limit, None if cursor is None else int(cursor)


KEYSET = "after:"   # keyset cursors wrap the last id of the page before (an id may be "")


def keyset_paging(request: web.Request) -> tuple[int, str | None]:
    """`limit` and the id to continue after, from a cursor that keyset_cursor made."""
    limit, cursor = paging(request)
    if cursor is not None and not cursor.startswith(KEYSET):
        raise InvalidRequest("cursor is not one this API returned", param="cursor")
    return limit, None if cursor is None else cursor.removeprefix(KEYSET)


def keyset_cursor(after: str | None) -> str | None:
    return None if after is None else KEYSET + after


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9999, 1, 1)


def date_range(request: web.Request) -> tuple[dt.date | None, dt.date | None]:
    """`start_date` / `end_date` (YYYY-MM-DD, UTC, both inclusive, both optional)."""
    days = []
    for name in ("start_date", "end_date"):
        raw = request.query.get(name)
        try:
            # exactly YYYY-MM-DD (fromisoformat alone also takes 20260101 and week dates); a day is
            # turned into the next day's midnight, so the last year is left out
            day = dt.date.fromisoformat(raw) if raw and _DAY.fullmatch(raw) else None
        except ValueError:
            day = None
        if raw and (day is None or not FIRST_DAY <= day < LAST_DAY):
            raise InvalidRequest(f"{name} must be a date YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}",
                                 param=name)
        days.append(day)
    start, end = days
    if start and end and start > end:
        raise InvalidRequest("start_date is after end_date", param="start_date")
    return start, end


def required_query(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise InvalidRequest(f"query parameter '{name}' is required", param=name)
    return value


async def store_call(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a Store method on the store thread; a taken id or alias becomes 409."""
    try:
        return await request.app[appkeys.STORE].run(fn, *args)
    except DuplicateError as exc:
        what = exc.column or "id or alias"
        raise Conflict(f"this {what} is already taken", param=exc.column) from None


__all__ = ["Store", "read_model", "principal", "json_response", "paging", "store_call", "required_query",
           "date_range"]
