"""`gatectl key generate|list|info|update|regenerate|delete`: thin calls to the /key/* routes.
A raw key is printed once, by generate and regenerate; it is sent in bodies, never in URLs."""

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

app = typer.Typer(help="Virtual keys: who may call which models, with what budget and limits.",
                  no_args_is_help=True)

Key = Annotated[str, typer.Argument(help="the raw key (sk-...) or its token_id")]
Team = Annotated[str | None, typer.Option("--team", help="TEAM_ID")]
User = Annotated[str | None, typer.Option("--user", help="USER_ID")]
Duration = Annotated[str | None, typer.Option("--duration", help="lifetime: 30s, 30m, 30h, 30d, 4w, 3mo")]
MaxParallel = Annotated[int | None, typer.Option("--max-parallel", min=0, help="concurrent requests")]
Permissions = Annotated[str | None, typer.Option(
    "--permissions", help="a JSON object, e.g. '{\"enable_llm_guard_check\": true}'")]
COLUMNS = ["token_id", "key_name", "alias", "team_id", "user_id", "models", "spend / budget", "blocked"]


def _row(key: dict[str, Any]) -> list[Any]:
    budget = key.get("max_budget")
    return [key.get("token_id"), key.get("key_name"), key.get("key_alias"), key.get("team_id"), key.get("user_id"),
            key.get("models"), f"{key.get('spend')} / {'-' if budget is None else budget}", key.get("blocked")]


def _fields(team: str | None, user: str | None, alias: str | None, models: str | None, max_budget: float | None,
            budget_duration: str | None, duration: str | None, tpm_limit: int | None, rpm_limit: int | None,
            max_parallel: int | None, tags: list[str] | None, metadata: str | None, permissions: str | None,
            blocked: bool | None) -> dict[str, Any]:
    return given(team_id=team, user_id=user, key_alias=alias, models=csv(models), max_budget=max_budget,
                 budget_duration=budget_duration, duration=duration, tpm_limit=tpm_limit, rpm_limit=rpm_limit,
                 max_parallel_requests=max_parallel, tags=repeated(tags),
                 metadata=json_object("--metadata", metadata),
                 permissions=json_object("--permissions", permissions), blocked=blocked)


def _show_new(state: State, title: str, data: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(data)
        return
    output.record(title, {k: v for k, v in data.items() if k != "key"})
    output.secret("Key", data["key"])


@app.command("generate")
def generate(
    ctx: typer.Context, team: Team = None, user: User = None, alias: Alias = None, models: Models = None,
    max_budget: MaxBudget = None, budget_duration: BudgetDuration = None, duration: Duration = None,
    tpm_limit: TpmLimit = None, rpm_limit: RpmLimit = None, max_parallel: MaxParallel = None, tag: Tags = None,
    metadata: Metadata = None, permissions: Permissions = None, blocked: Blocked = None,
) -> None:
    """Create a key (POST /key/generate). The raw key is shown once."""
    state: State = ctx.obj
    body = _fields(team, user, alias, models, max_budget, budget_duration, duration, tpm_limit, rpm_limit,
                   max_parallel, tag, metadata, permissions, blocked)
    _show_new(state, "Key created", state.client().post("/key/generate", body))


@app.command("list")
def list_keys(ctx: typer.Context, team: Team = None, user: User = None,
              alias: Annotated[str | None, typer.Option("--alias", help="only the key with this alias")] = None,
              limit: Limit = None, cursor: Cursor = None) -> None:
    """List keys, ordered by token_id (GET /key/list)."""
    state: State = ctx.obj
    data = state.client().get("/key/list", team_id=team, user_id=user, key_alias=alias, limit=limit, cursor=cursor)
    if state.json:
        output.emit_json(data)
        return
    output.page("Keys", COLUMNS, map(_row, data["data"]), data.get("next_cursor"), keep=["token_id"])


@app.command("info")
def info(ctx: typer.Context, key: Key) -> None:
    """A key's settings and spend (POST /key/info, so the key stays out of URLs and logs)."""
    state: State = ctx.obj
    data = state.client().post("/key/info", {"key": key})
    if state.json:
        output.emit_json(data)
    else:
        output.record(f"Key {data['info'].get('key_name')}", data["info"])


@app.command("update")
def update(
    ctx: typer.Context, key: Key, team: Team = None, user: User = None, alias: Alias = None, models: Models = None,
    max_budget: MaxBudget = None, budget_duration: BudgetDuration = None, duration: Duration = None,
    tpm_limit: TpmLimit = None, rpm_limit: RpmLimit = None, max_parallel: MaxParallel = None, tag: Tags = None,
    metadata: Metadata = None, permissions: Permissions = None, blocked: Blocked = None,
) -> None:
    """Change a key; only the options given are sent (POST /key/update)."""
    state: State = ctx.obj
    fields = _fields(team, user, alias, models, max_budget, budget_duration, duration, tpm_limit, rpm_limit,
                     max_parallel, tag, metadata, permissions, blocked)
    require_changes(fields)
    data = state.client().post("/key/update", {"key": key, **fields})
    if state.json:
        output.emit_json(data)
    else:
        output.record(f"Key {data.get('key_name')} updated", data)


@app.command("regenerate")
def regenerate(ctx: typer.Context, key: Key) -> None:
    """Give a key a new secret, keeping its settings (POST /key/regenerate). The old secret stops working."""
    state: State = ctx.obj
    _show_new(state, "Key regenerated", state.client().post("/key/regenerate", {"key": key}))


@app.command("delete")
def delete(ctx: typer.Context, keys: Annotated[list[str], typer.Argument(help="raw keys or token_ids")]) -> None:
    """Delete keys (POST /key/delete); all or nothing."""
    state: State = ctx.obj
    data = state.client().post("/key/delete", {"keys": keys})
    if state.json:
        output.emit_json(data)
    else:
        output.message("Deleted keys (token_id): " + ", ".join(data["deleted"]))
