"""`gatectl user new|list|info|update|delete`: thin calls to the /user/* routes. A user's budget
applies across all of its keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gatectl import output
from gatectl.commands.options import (
    Alias,
    BudgetDuration,
    Cursor,
    Limit,
    MaxBudget,
    Metadata,
    given,
    json_object,
    require_changes,
)
from gatectl.state import State

app = typer.Typer(help="Users: people or services that own keys.", no_args_is_help=True)

UserId = Annotated[str, typer.Argument(help="the user's id")]
COLUMNS = ["user_id", "alias", "spend", "max_budget", "budget_duration", "created_at"]


def _row(user: dict[str, Any]) -> list[Any]:
    return [user["user_id"], user.get("user_alias"), user.get("spend"), user.get("max_budget"),
            user.get("budget_duration"), user.get("created_at")]


def _fields(alias: str | None, max_budget: float | None, budget_duration: str | None,
            metadata: str | None) -> dict[str, Any]:
    return given(user_alias=alias, max_budget=max_budget, budget_duration=budget_duration,
                 metadata=json_object("--metadata", metadata))


def _show(state: State, title: str, user: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(user)
    else:
        output.record(title, user)


@app.command("new")
def new(
    ctx: typer.Context,
    user_id: Annotated[str | None, typer.Option("--user-id", help="the id (a uuid if absent)")] = None,
    alias: Alias = None, max_budget: MaxBudget = None, budget_duration: BudgetDuration = None,
    metadata: Metadata = None,
) -> None:
    """Create a user (POST /user/new)."""
    state: State = ctx.obj
    body = given(user_id=user_id, **_fields(alias, max_budget, budget_duration, metadata))
    _show(state, "User created", state.client().post("/user/new", body))


@app.command("list")
def list_users(ctx: typer.Context, limit: Limit = None, cursor: Cursor = None) -> None:
    """List users, ordered by id (GET /user/list)."""
    state: State = ctx.obj
    data = state.client().get("/user/list", limit=limit, cursor=cursor)
    if state.json:
        output.emit_json(data)
        return
    output.page("Users", COLUMNS, map(_row, data["data"]), data.get("next_cursor"))


@app.command("info")
def info(ctx: typer.Context, user_id: UserId) -> None:
    """A user's settings, spend and keys (GET /user/info)."""
    state: State = ctx.obj
    data = state.client().get("/user/info", user_id=user_id)
    if state.json:
        output.emit_json(data)
        return
    output.record(f"User {user_id}", data["user_info"])
    keys = [(k.get("key_name"), k.get("token_id"), k.get("key_alias"), k.get("team_id"))
            for k in data.get("keys") or []]
    output.table("Keys of the user", ["key_name", "token_id", "alias", "team_id"], keys, keep=["token_id"])


@app.command("update")
def update(
    ctx: typer.Context, user_id: UserId, alias: Alias = None, max_budget: MaxBudget = None,
    budget_duration: BudgetDuration = None, metadata: Metadata = None,
) -> None:
    """Change a user; only the options given are sent (POST /user/update)."""
    state: State = ctx.obj
    fields = _fields(alias, max_budget, budget_duration, metadata)
    require_changes(fields)
    _show(state, "User updated", state.client().post("/user/update", {"user_id": user_id, **fields}))


@app.command("delete")
def delete(ctx: typer.Context, user_ids: Annotated[list[str], typer.Argument(help="user ids")]) -> None:
    """Delete users and all their keys (POST /user/delete); all or nothing."""
    state: State = ctx.obj
    data = state.client().post("/user/delete", {"user_ids": user_ids})
    if state.json:
        output.emit_json(data)
    else:
        output.message("Deleted users: " + ", ".join(data["deleted"]))


def list_change(state: State, title: str, data: dict[str, Any], guardrail: str) -> None:
    """The answer of a list add/remove: what changed and what already was so."""
    if state.json:
        output.emit_json(data)
        return
    output.table(title, ["changed", "unchanged (already so)"],
                 [(", ".join(data["changed"]) or "-", ", ".join(data["unchanged"]) or "-")])
    not_enforced_notice(data, guardrail)


def not_enforced_notice(data: dict[str, Any], guardrail: str) -> None:
    if data.get("enforced") is False:
        output.notice(f"note: {guardrail} is not in litellm_settings.callbacks of this gated, so the list is "
                      "kept but not enforced")


def list_page(state: State, title: str, column: str, path: str, guardrail: str,
              limit: int | None, cursor: str | None) -> None:
    """One page of a guardrail list (blocked users, banned keywords)."""
    data = state.client().get(path, limit=limit, cursor=cursor)
    if state.json:
        output.emit_json(data)
        return
    output.page(title, [column], ([value] for value in data["data"]), data.get("next_cursor"), keep=[column])
    not_enforced_notice(data, guardrail)


BLOCKING = "blocked_user_check"
EndUserIds = Annotated[list[str], typer.Argument(help="end-user ids (the `user` field of LLM requests)")]


@app.command("block")
def block(ctx: typer.Context, user_ids: EndUserIds) -> None:
    """Block end users: their LLM requests are refused by blocked_user_check (POST /user/block)."""
    state: State = ctx.obj
    list_change(state, "Blocked", state.client().post("/user/block", {"user_ids": user_ids}), BLOCKING)


@app.command("unblock")
def unblock(ctx: typer.Context, user_ids: EndUserIds) -> None:
    """Unblock end users (POST /user/unblock)."""
    state: State = ctx.obj
    list_change(state, "Unblocked", state.client().post("/user/unblock", {"user_ids": user_ids}), BLOCKING)


@app.command("blocked")
def blocked(ctx: typer.Context, limit: Limit = None, cursor: Cursor = None) -> None:
    """List the blocked end-user ids, in order (GET /user/blocked)."""
    list_page(ctx.obj, "Blocked end users", "user_id", "/user/blocked", BLOCKING, limit, cursor)
