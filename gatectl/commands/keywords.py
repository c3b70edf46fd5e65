"""`gatectl keywords add|remove|list`: the banned_keywords guardrail's list (/banned_keywords)."""

from __future__ import annotations

from typing import Annotated

import typer

from gatectl.commands.options import Cursor, Limit
from gatectl.commands.users import list_change, list_page
from gatectl.state import State

app = typer.Typer(help="Banned keywords (the banned_keywords guardrail).", no_args_is_help=True)
GUARDRAIL = "banned_keywords"
Words = Annotated[list[str], typer.Argument(help="keywords or phrases (quote phrases)")]


@app.command("add")
def add(ctx: typer.Context, keywords: Words) -> None:
    """Ban keywords (POST /banned_keywords/add)."""
    state: State = ctx.obj
    list_change(state, "Banned", state.client().post("/banned_keywords/add", {"keywords": keywords}), GUARDRAIL)


@app.command("remove")
def remove(ctx: typer.Context, keywords: Words) -> None:
    """Unban keywords (POST /banned_keywords/remove)."""
    state: State = ctx.obj
    list_change(state, "Unbanned", state.client().post("/banned_keywords/remove", {"keywords": keywords}),
                GUARDRAIL)


@app.command("list")
def list_keywords(ctx: typer.Context, limit: Limit = None, cursor: Cursor = None) -> None:
    """List the banned keywords, in order (GET /banned_keywords)."""
    list_page(ctx.obj, "Banned keywords", "keyword", "/banned_keywords", GUARDRAIL, limit, cursor)
