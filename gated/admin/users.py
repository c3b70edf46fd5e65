"""Users (people or services that own keys): new, update, delete (with their keys), info, list."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from gated.admin import schemas
from gated.admin.common import (
    json_response,
    keyset_cursor,
    keyset_paging,
    principal,
    read_model,
    required_query,
    store_call,
)
from gated.errors import NotFound
from gated.routes import ADMIN_ONLY, PAGING, Param, Route
from gated.store.admin import public
from gated.store.store import Store


async def new(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.UserNew)
    fields = {k: v for k, v in body.model_dump().items() if v is not None}
    row: dict[str, Any] = {"metadata": {}, **fields, "user_id": body.user_id or str(uuid.uuid4())}
    created = await store_call(request, Store.create, "users", row, principal(request).actor())
    return json_response(public(created))


async def update(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.UserUpdate)
    changes = {name: getattr(body, name) for name in body.model_fields_set if name != "user_id"}
    if "metadata" in changes and changes["metadata"] is None:
        changes["metadata"] = {}
    updated, _ = await store_call(request, Store.update, "users", body.user_id, changes, principal(request).actor())
    if updated is None:
        raise NotFound(f"user '{body.user_id}' does not exist", param="user_id")
    return json_response(public(updated))


async def delete(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.UserDelete)
    deleted = await store_call(request, Store.delete, "users", body.user_ids, principal(request).actor())
    if not deleted:
        raise NotFound("one of the users does not exist; nothing was deleted", param="user_ids")
    return json_response({"deleted": [r["user_id"] for r in deleted]})


async def info(request: web.Request) -> web.Response:
    user_id = required_query(request, "user_id")
    row = await store_call(request, Store.get, "users", user_id)
    if row is None:
        raise NotFound(f"user '{user_id}' does not exist", param="user_id")
    keys = await store_call(request, Store.find_by, "keys", "user_id", user_id)
    summary = [{"token_id": k["token_id"], "key_name": k["key_name"], "key_alias": k.get("key_alias"),
                "team_id": k.get("team_id")} for k in keys]
    return json_response({"user_id": user_id, "user_info": public(row), "keys": summary})


async def list_users(request: web.Request) -> web.Response:
    limit, after = keyset_paging(request)
    rows, next_after = await store_call(request, Store.page, "users", {}, limit, after)
    return json_response({"data": [public(r) for r in rows], "next_cursor": keyset_cursor(next_after)})


ROUTES = [
    Route("POST", "/user/new", new, ADMIN_ONLY, "Create a user", schemas.UserNew, schemas.UserOut, group="users"),
    Route("POST", "/user/update", update, ADMIN_ONLY, "Change a user", schemas.UserUpdate, schemas.UserOut,
          group="users"),
    Route("POST", "/user/delete", delete, ADMIN_ONLY, "Delete users and their keys", schemas.UserDelete,
          schemas.Deleted, group="users"),
    Route("GET", "/user/info", info, ADMIN_ONLY, "A user and its keys (?user_id=)", None, schemas.UserInfo,
          group="users", params=(Param("user_id", "the user's id", required=True),)),
    Route("GET", "/user/list", list_users, ADMIN_ONLY, "List users (paged)", None, schemas.Page, group="users",
          params=PAGING),
]
