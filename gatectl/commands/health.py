"""`gatectl health`: liveliness and readiness of the daemon."""

from __future__ import annotations

import typer

from gatectl import output
from gatectl.client import ApiError
from gatectl.state import State


def health(ctx: typer.Context) -> None:
    """Check that gated is up and its database answers."""
    state: State = ctx.obj
    client = state.client()
    live = client.get("/health/liveliness")
    try:
        ready = client.get("/health/readiness")
    except ApiError as exc:
        if exc.status != 503:
            raise
        ready = {"status": "unhealthy", "db": "unreachable"}
    if state.json:
        output.emit_json({"liveliness": live, "readiness": ready})
    else:
        output.table("gated health", ["url", "version", "status", "database"],
                     [(state.url, live.get("version"), ready.get("status"), ready.get("db"))])
    if ready.get("status") != "healthy":
        raise typer.Exit(1)
