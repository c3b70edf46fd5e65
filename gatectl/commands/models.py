"""`gatectl models list`."""

from __future__ import annotations

import typer

from gatectl import output
from gatectl.state import State

app = typer.Typer(help="Model groups the key may use.", no_args_is_help=True)


@app.command("list")
def list_models(ctx: typer.Context) -> None:
    """List the model groups (GET /v1/models)."""
    state: State = ctx.obj
    data = state.client().get("/v1/models")
    if state.json:
        output.emit_json(data)
        return
    output.table("Models", ["model", "owned by"], ((m["id"], m.get("owned_by")) for m in data["data"]))
