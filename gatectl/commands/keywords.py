"""`gatectl keywords add|remove|list`: the banned_keywords guardrail's list (/banned_keywords)."""

from __future__ import annotations

from typing import Annotated

import typer

from gatectl import output
from gatectl.commands.users import list_change
from gatectl.state import State

app = typer.Typer(help="Banned keywords (the banned_keywords guardrail).", no_args_is_help=True)
Words = Annotated[list[str], typer.Argument(help="keywords or phrases (quote phrases)")]


@app.command("add")
def add(ctx: typer.Context, keywords: Words) -> None:
    """Ban keywords (POST /banned_keywords/add)."""
    state: State = ctx.obj
    list_change(state, "Banned", state.client().post("/banned_keywords/add", {"keywords": keywords}))


@app.command("remove")
def remove(ctx: typer.Context, keywords: Words) -> None:
    """Unban keywords (POST /banned_keywords/remove)."""
    state: State = ctx.obj
    list_change(state, "Unbanned", state.client().post("/banned_keywords/remove", {"keywords": keywords}))


@app.command("list")
def list_keywords(ctx: typer.Context) -> None:
    """List the banned keywords (GET /banned_keywords)."""
    state: State = ctx.obj
    data = state.client().get("/banned_keywords")
    if state.json:
        output.emit_json(data)
        return
    output.table("Banned keywords", ["keyword"], ([k] for k in data["data"]))
