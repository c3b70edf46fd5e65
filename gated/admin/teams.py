"""Teams: new, update, delete (with their keys), block/unblock, info, list (SPEC §5.2).
`members_with_roles` is the source of truth for membership and team-admin rights."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from gated.admin import schemas
from gated.admin.access import require_team_scope
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
from gated.auth import TEAM_ADMIN
from gated.errors import Forbidden, NotFound
from gated.routes import ADMIN_ONLY, PAGING, SCOPED, Param, Route
from gated.store.admin import public
from gated.store.store import Store

DEFAULTS: dict[str, Any] = {"members_with_roles": [], "models": [], "metadata": {}, "tags": [], "blocked": False}
TEAM_ADMIN_FIELDS = {"team_id", "members_with_roles"}


def team_out(row: dict[str, Any]) -> dict[str, Any]:
    return public(row)


def _fields(body: schemas.TeamFields, present: set[str]) -> dict[str, Any]:
    fields = {}
    for name in present - {"admins", "members"}:
        value = getattr(body, name)
        fields[name] = DEFAULTS.get(name) if value is None and name in DEFAULTS else value
    if body.members_with_roles is not None:
        fields["members_with_roles"] = [m.model_dump() for m in body.members_with_roles]
    return fields


async def new(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.TeamNew)
    require_known_models(request, body.models)
    fields = {k: v for k, v in _fields(body, body.model_fields_set).items() if v is not None}
    row = {**DEFAULTS, **fields, "team_id": body.team_id or str(uuid.uuid4())}
    created = await store_call(request, Store.create, "teams", row, principal(request).actor())
    return json_response(team_out(created))


async def update(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.TeamUpdate)
    who = principal(request)
    present = set(body.model_fields_set)
    if {"admins", "members"} & present:
        present.add("members_with_roles")
    require_team_scope(who, body.team_id)
    if who.role == TEAM_ADMIN and present - TEAM_ADMIN_FIELDS:
        raise Forbidden("a team admin may change only members_with_roles", param=sorted(present - TEAM_ADMIN_FIELDS)[0])
    require_known_models(request, body.models)
    changes = _fields(body, present - {"team_id"})
    updated, _ = await store_call(request, Store.update, "teams", body.team_id, changes, who.actor())
    if updated is None:
        raise NotFound(f"team '{body.team_id}' does not exist", param="team_id")
    return json_response(team_out(updated))


async def _set_blocked(request: web.Request, blocked: bool) -> web.Response:
    body = await read_model(request, schemas.TeamRef)
    action = "blocked" if blocked else "unblocked"
    updated, _ = await store_call(request, Store.update, "teams", body.team_id, {"blocked": blocked},
                                  principal(request).actor(), action)
    if updated is None:
        raise NotFound(f"team '{body.team_id}' does not exist", param="team_id")
    return json_response(team_out(updated))


async def block(request: web.Request) -> web.Response:
    return await _set_blocked(request, True)


async def unblock(request: web.Request) -> web.Response:
    return await _set_blocked(request, False)


async def delete(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.TeamDelete)
    deleted = await store_call(request, Store.delete, "teams", body.team_ids, principal(request).actor())
    if not deleted:
        raise NotFound("one of the teams does not exist; nothing was deleted", param="team_ids")
    return json_response({"deleted": [r["team_id"] for r in deleted]})


async def info(request: web.Request) -> web.Response:
    team_id = required_query(request, "team_id")
    require_team_scope(principal(request), team_id)
    row = await store_call(request, Store.get, "teams", team_id)
    if row is None:
        raise NotFound(f"team '{team_id}' does not exist", param="team_id")
    keys = await store_call(request, Store.find_by, "keys", "team_id", team_id)
    summary = [{"token_id": k["token_id"], "key_name": k["key_name"], "key_alias": k.get("key_alias")} for k in keys]
    return json_response({"team_id": team_id, "team_info": team_out(row), "keys": summary})


async def list_teams(request: web.Request) -> web.Response:
    limit, after = keyset_paging(request)
    rows, next_after = await store_call(request, Store.page, "teams", {}, limit, after)
    return json_response({"data": [team_out(r) for r in rows], "next_cursor": keyset_cursor(next_after)})


ROUTES = [
    Route("POST", "/team/new", new, ADMIN_ONLY, "Create a team", schemas.TeamNew, schemas.TeamOut, group="teams"),
    Route("POST", "/team/update", update, SCOPED, "Change a team (team admins: members only)",
          schemas.TeamUpdate, schemas.TeamOut, group="teams"),
    Route("POST", "/team/delete", delete, ADMIN_ONLY, "Delete teams and their keys",
          schemas.TeamDelete, schemas.Deleted, group="teams"),
    Route("POST", "/team/block", block, ADMIN_ONLY, "Block a team", schemas.TeamRef, schemas.TeamOut, group="teams"),
    Route("POST", "/team/unblock", unblock, ADMIN_ONLY, "Unblock a team", schemas.TeamRef, schemas.TeamOut,
          group="teams"),
    Route("GET", "/team/info", info, SCOPED, "A team, its settings and its keys (?team_id=)", None,
          schemas.TeamInfo, group="teams", params=(Param("team_id", "the team's id", required=True),)),
    Route("GET", "/team/list", list_teams, ADMIN_ONLY, "List teams (paged)", None, schemas.Page, group="teams",
          params=PAGING),
]
