"""Virtual keys: generate, update, regenerate, delete, info, list (SPEC §5.2). The raw key is
returned once; only its SHA-256 (`token_id`) is stored."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from gated.admin import schemas
from gated.admin.access import require_key_manager, require_team_scope, require_within_team
from gated.admin.common import (
    json_response,
    keyset_cursor,
    keyset_paging,
    principal,
    read_model,
    require_known_models,
    required_query,
    store_call,
)
from gated.auth import ADMIN, TEAM_ADMIN, USER, Principal, hash_key
from gated.durations import add_duration
from gated.errors import Forbidden, NotFound
from gated.routes import PAGING, SCOPED, Param, Route
from gated.spend.record import iso, utc_now
from gated.store.admin import public
from gated.store.store import Store

DEFAULTS: dict[str, Any] = {"models": [], "metadata": {}, "permissions": {}, "tags": [], "blocked": False}


def new_secret() -> tuple[str, str, str]:
    raw = "sk-" + secrets.token_urlsafe(32)
    return raw, hash_key(raw), f"sk-...{raw[-4:]}"


def token_id_of(key: str) -> str:
    """A raw key or a token_id (admin routes identify keys by either)."""
    return hash_key(key) if key.startswith("sk-") else key


def key_out(row: dict[str, Any]) -> dict[str, Any]:
    return public(row)


async def _team(request: web.Request, team_id: str | None) -> dict[str, Any] | None:
    if team_id is None:
        return None
    team = await store_call(request, Store.get, "teams", team_id)
    if team is None:
        raise NotFound(f"team '{team_id}' does not exist", param="team_id")
    return team


def _expires(duration: str | None) -> str | None:
    return iso(add_duration(utc_now(), duration)) if duration else None


async def generate(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.KeyGenerate)
    who = principal(request)
    fields = {k: v for k, v in body.model_dump().items() if v is not None}
    if who.role == TEAM_ADMIN:
        fields.setdefault("team_id", who.team_id)
    require_team_scope(who, fields.get("team_id"))
    require_known_models(request, fields.get("models"))
    require_within_team(who, await _team(request, fields.get("team_id")), fields)
    raw, token_id, key_name = new_secret()
    row = {**DEFAULTS, **fields, "token_id": token_id, "key_name": key_name,
           "expires": _expires(fields.get("duration"))}
    created = await store_call(request, Store.create, "keys", row, who.actor())
    return json_response({**key_out(created), "key": raw})


async def _existing(request: web.Request, key: str) -> dict[str, Any]:
    row = await store_call(request, Store.get, "keys", token_id_of(key))
    if row is None:
        raise NotFound("no such key", param="key")
    return row


async def update(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.KeyUpdate)
    who = principal(request)
    require_key_manager(who)
    row = await _existing(request, body.key)
    require_team_scope(who, row.get("team_id"))
    changes = {name: getattr(body, name) for name in body.model_fields_set if name != "key"}
    for name in ("models", "metadata", "permissions", "tags"):
        if name in changes and changes[name] is None:
            changes[name] = DEFAULTS[name]
    require_known_models(request, changes.get("models"))
    if "duration" in changes:
        changes["expires"] = _expires(changes["duration"])
    if "team_id" in changes:
        require_team_scope(who, changes["team_id"])
    team = await _team(request, changes.get("team_id", row.get("team_id")))
    if who.role == TEAM_ADMIN and ({"max_budget", "models"} & set(changes)):
        require_within_team(who, team, {**row, **changes})
    updated, _ = await store_call(request, Store.update, "keys", row["token_id"], changes, who.actor())
    return json_response(key_out(updated))


async def regenerate(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.KeyRef)
    who = principal(request)
    require_key_manager(who)
    row = await _existing(request, body.key)
    require_team_scope(who, row.get("team_id"))
    raw, token_id, key_name = new_secret()
    updated = await store_call(request, Store.regenerate_key, row["token_id"], token_id, key_name, who.actor())
    if updated is None:
        raise NotFound("no such key", param="key")
    return json_response({**key_out(updated), "key": raw})


async def delete(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.KeyDelete)
    who = principal(request)
    require_key_manager(who)
    rows = [await _existing(request, key) for key in body.keys]
    for row in rows:
        require_team_scope(who, row.get("team_id"))
    deleted = await store_call(request, Store.delete, "keys", [r["token_id"] for r in rows], who.actor())
    if not deleted:
        raise NotFound("no such key", param="keys")
    return json_response({"deleted": [r["token_id"] for r in deleted]})


def _may_read(who: Principal, row: dict[str, Any]) -> bool:
    return who.role == ADMIN or who.token_id == row["token_id"] or (
        who.role == TEAM_ADMIN and row.get("team_id") == who.team_id)


async def info(request: web.Request) -> web.Response:
    if request.method == "POST":
        key = (await read_model(request, schemas.KeyRef)).key
    else:
        key = required_query(request, "key")
    who = principal(request)
    row = await store_call(request, Store.get, "keys", token_id_of(key))
    if row is None or not _may_read(who, row):
        if row is None and who.role == ADMIN:
            raise NotFound("no such key", param="key")
        raise Forbidden("you may read only your own key" if who.role == USER else "not a key of your team")
    return json_response({"key": row["token_id"], "info": key_out(row)})


async def list_keys(request: web.Request) -> web.Response:
    who = principal(request)
    limit, after = keyset_paging(request)
    filters = {name: request.query[name] for name in ("team_id", "user_id", "key_alias") if name in request.query}
    if who.role != ADMIN:
        require_team_scope(who, filters.setdefault("team_id", who.team_id or ""))
    rows, next_after = await store_call(request, Store.page, "keys", filters, limit, after)
    return json_response({"data": [key_out(r) for r in rows], "next_cursor": keyset_cursor(next_after)})


ROUTES = [
    Route("POST", "/key/generate", generate, SCOPED, "Create a virtual key (the raw key is shown once)",
          schemas.KeyGenerate, schemas.KeyGenerated, group="keys"),
    Route("POST", "/key/update", update, SCOPED, "Change fields of a key (fields present in the body)",
          schemas.KeyUpdate, schemas.KeyOut, group="keys"),
    Route("POST", "/key/regenerate", regenerate, SCOPED, "Replace a key's secret, keeping its settings",
          schemas.KeyRef, schemas.KeyGenerated, group="keys"),
    Route("POST", "/key/delete", delete, SCOPED, "Delete keys (raw keys or token ids)",
          schemas.KeyDelete, schemas.Deleted, group="keys"),
    Route("GET", "/key/info", info, SCOPED, "A key's settings and spend (?key=)", None, schemas.KeyInfo, group="keys",
          params=(Param("key", "a raw key or its token_id", required=True),)),
    Route("POST", "/key/info", info, SCOPED, "A key's settings and spend (key in the body)",
          schemas.KeyRef, schemas.KeyInfo, group="keys"),
    Route("GET", "/key/list", list_keys, SCOPED, "List keys (paged)", None, schemas.Page, group="keys",
          params=(Param("team_id", "only this team's keys"), Param("user_id", "only this user's keys"),
                  Param("key_alias", "only the key with this alias"), *PAGING)),
]
