"""Blocked end users and banned keywords (SPEC §8.2–§8.3): idempotent adds and removes, audited per
changed value, effective on the next request in every worker. The routes exist even when the
guardrail is off; enforcement needs the guardrail in `litellm_settings.callbacks`."""

from __future__ import annotations

from aiohttp import web

from gated import appkeys
from gated.admin import schemas
from gated.admin.common import json_response, keyset_cursor, keyset_paging, principal, read_model, store_call
from gated.errors import InvalidRequest
from gated.guardrails.keywords import normalise
from gated.routes import ADMIN_ONLY, PAGING, Route
from gated.store.lists import BANNED_KEYWORDS, BLOCKED_USERS, ListKind
from gated.store.store import Store

GUARDRAIL_OF = {BLOCKED_USERS: "blocked_user_check", BANNED_KEYWORDS: "banned_keywords"}


def _enforced(request: web.Request, kind: ListKind) -> bool:
    """Whether the list's guardrail is on: the list can be kept either way, but only then it acts."""
    return GUARDRAIL_OF[kind] in request.app[appkeys.CONFIG].litellm_settings.callbacks


async def _change(request: web.Request, kind: ListKind, values: list[str], add: bool) -> web.Response:
    changed = await store_call(request, Store.change_list, kind, values, add, principal(request).actor())
    unchanged = [v for v in dict.fromkeys(values) if v not in changed]
    return json_response({"changed": changed, "unchanged": unchanged, "enforced": _enforced(request, kind)})


async def _page(request: web.Request, kind: ListKind) -> web.Response:
    limit, after = keyset_paging(request)
    values, next_after = await store_call(request, Store.list_page, kind, limit, after)
    return json_response({"data": values, "next_cursor": keyset_cursor(next_after),
                          "enforced": _enforced(request, kind)})


async def block_users(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.UserIds)
    return await _change(request, BLOCKED_USERS, body.user_ids, add=True)


async def unblock_users(request: web.Request) -> web.Response:
    body = await read_model(request, schemas.UserIds)
    return await _change(request, BLOCKED_USERS, body.user_ids, add=False)


async def blocked_users(request: web.Request) -> web.Response:
    return await _page(request, BLOCKED_USERS)


async def _keywords(request: web.Request) -> list[str]:
    """The keywords of the body, each as it is already stored when a stored one matches the same
    text ("Foo" and "foo" are one keyword: matching is on normalised text), once each."""
    body = await read_model(request, schemas.Keywords)
    stored = {normalise(k).strip(): k for k in await store_call(request, Store.list_values, BANNED_KEYWORDS)}
    keywords: dict[str, str] = {}
    for index, keyword in enumerate(body.keywords):
        normalised = normalise(keyword).strip()
        if not normalised:
            raise InvalidRequest("a keyword must contain visible characters", param=f"keywords[{index}]")
        keywords.setdefault(normalised, stored.get(normalised, keyword))
    return list(keywords.values())


async def add_keywords(request: web.Request) -> web.Response:
    return await _change(request, BANNED_KEYWORDS, await _keywords(request), add=True)


async def remove_keywords(request: web.Request) -> web.Response:
    return await _change(request, BANNED_KEYWORDS, await _keywords(request), add=False)


async def list_keywords(request: web.Request) -> web.Response:
    return await _page(request, BANNED_KEYWORDS)


def _block_routes() -> list[Route]:
    routes = []
    for prefix in ("/user", "/customer", "/end_user"):
        alias = "" if prefix == "/user" else " (alias of the /user/ route)"
        routes += [
            Route("POST", f"{prefix}/block", block_users, ADMIN_ONLY, "Block end users by id" + alias,
                  schemas.UserIds, schemas.ListChange, group="guardrails"),
            Route("POST", f"{prefix}/unblock", unblock_users, ADMIN_ONLY, "Unblock end users by id" + alias,
                  schemas.UserIds, schemas.ListChange, group="guardrails"),
        ]
    return routes


ROUTES = [
    *_block_routes(),
    Route("GET", "/user/blocked", blocked_users, ADMIN_ONLY, "The blocked end-user ids (paged, in order)", None,
          schemas.ListValues, group="guardrails", params=PAGING),
    Route("GET", "/banned_keywords", list_keywords, ADMIN_ONLY, "The banned keywords (paged, in order)", None,
          schemas.ListValues, group="guardrails", params=PAGING),
    Route("POST", "/banned_keywords/add", add_keywords, ADMIN_ONLY, "Ban keywords", schemas.Keywords,
          schemas.ListChange, group="guardrails"),
    Route("POST", "/banned_keywords/remove", remove_keywords, ADMIN_ONLY, "Unban keywords", schemas.Keywords,
          schemas.ListChange, group="guardrails"),
]
