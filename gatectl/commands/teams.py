"""`gatectl team new|list|info|update|delete|block|unblock`: thin calls to the /team/* routes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gatectl import output
from gatectl.commands.options import (
    Alias,
    Blocked,
    BudgetDuration,
    Cursor,
    Limit,
    MaxBudget,
    Metadata,
    Models,
    RpmLimit,
    Tags,
    TpmLimit,
    csv,
    given,
    json_object,
    repeated,
    require_changes,
)
from gatectl.state import State

app = typer.Typer(help="Teams: shared budgets, models and limits for their keys.", no_args_is_help=True)

TeamId = Annotated[str, typer.Argument(help="the team's id")]
Admins = Annotated[list[str] | None, typer.Option("--admin", help="USER_ID of a team admin (repeatable)")]
Members = Annotated[list[str] | None, typer.Option("--member", help="USER_ID of a member (repeatable)")]
COLUMNS = ["team_id", "alias", "models", "spend", "max_budget", "budget_duration", "members", "blocked"]


def _row(team: dict[str, Any]) -> list[Any]:
    return [team["team_id"], team.get("team_alias"), team.get("models"), team.get("spend"), team.get("max_budget"),
            team.get("budget_duration"), len(team.get("members_with_roles") or []), team.get("blocked")]


def _fields(alias: str | None, max_budget: float | None, budget_duration: str | None, models: str | None,
            admins: list[str] | None, members: list[str] | None, tpm_limit: int | None, rpm_limit: int | None,
            tags: list[str] | None, blocked: bool | None, metadata: str | None) -> dict[str, Any]:
    return given(team_alias=alias, max_budget=max_budget, budget_duration=budget_duration, models=csv(models),
                 admins=repeated(admins), members=repeated(members), tpm_limit=tpm_limit, rpm_limit=rpm_limit,
                 tags=repeated(tags), blocked=blocked, metadata=json_object("--metadata", metadata))


def _show(state: State, title: str, team: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(team)
    else:
        output.record(title, team)


@app.command("new")
def new(
    ctx: typer.Context,
    team_id: Annotated[str | None, typer.Option("--team-id", help="the id (a uuid if absent)")] = None,
    alias: Alias = None, max_budget: MaxBudget = None, budget_duration: BudgetDuration = None,
    models: Models = None, admin: Admins = None, member: Members = None, tpm_limit: TpmLimit = None,
    rpm_limit: RpmLimit = None, tag: Tags = None, blocked: Blocked = None, metadata: Metadata = None,
) -> None:
    """Create a team (POST /team/new)."""
    state: State = ctx.obj
    body = given(team_id=team_id, **_fields(alias, max_budget, budget_duration, models, admin, member, tpm_limit,
                                            rpm_limit, tag, blocked, metadata))
    _show(state, "Team created", state.client().post("/team/new", body))


@app.command("list")
def list_teams(ctx: typer.Context, limit: Limit = None, cursor: Cursor = None) -> None:
    """List teams, ordered by id (GET /team/list)."""
    state: State = ctx.obj
    data = state.client().get("/team/list", limit=limit, cursor=cursor)
    if state.json:
        output.emit_json(data)
        return
    output.page("Teams", COLUMNS, map(_row, data["data"]), data.get("next_cursor"))


@app.command("info")
def info(ctx: typer.Context, team_id: TeamId) -> None:
    """A team's settings, spend and keys (GET /team/info)."""
    state: State = ctx.obj
    data = state.client().get("/team/info", team_id=team_id)
    if state.json:
        output.emit_json(data)
        return
    output.record(f"Team {team_id}", data["team_info"])
    keys = [(k.get("key_name"), k.get("token_id"), k.get("key_alias")) for k in data.get("keys") or []]
    output.table("Keys of the team", ["key_name", "token_id", "alias"], keys, keep=["token_id"])


@app.command("update")
def update(
    ctx: typer.Context, team_id: TeamId,
    alias: Alias = None, max_budget: MaxBudget = None, budget_duration: BudgetDuration = None,
    models: Models = None, admin: Admins = None, member: Members = None, tpm_limit: TpmLimit = None,
    rpm_limit: RpmLimit = None, tag: Tags = None, blocked: Blocked = None, metadata: Metadata = None,
) -> None:
    """Change a team; only the options given are sent (POST /team/update). --admin/--member replace the
    member list."""
    state: State = ctx.obj
    fields = _fields(alias, max_budget, budget_duration, models, admin, member, tpm_limit, rpm_limit, tag, blocked,
                     metadata)
    require_changes(fields)
    _show(state, "Team updated", state.client().post("/team/update", {"team_id": team_id, **fields}))


@app.command("delete")
def delete(ctx: typer.Context, team_ids: Annotated[list[str], typer.Argument(help="team ids")]) -> None:
    """Delete teams and all their keys (POST /team/delete)."""
    state: State = ctx.obj
    data = state.client().post("/team/delete", {"team_ids": team_ids})
    if state.json:
        output.emit_json(data)
    else:
        output.message("Deleted teams: " + ", ".join(data["deleted"]))


@app.command("block")
def block(ctx: typer.Context, team_id: TeamId) -> None:
    """Block a team: its keys are refused until unblocked (POST /team/block)."""
    state: State = ctx.obj
    data = state.client().post("/team/block", {"team_id": team_id})
    if state.json:
        output.emit_json(data)
    else:
        output.message(f"Team {data['team_id']} blocked.")


@app.command("unblock")
def unblock(ctx: typer.Context, team_id: TeamId) -> None:
    """Unblock a team (POST /team/unblock)."""
    state: State = ctx.obj
    data = state.client().post("/team/unblock", {"team_id": team_id})
    if state.json:
        output.emit_json(data)
    else:
        output.message(f"Team {data['team_id']} unblocked.")
