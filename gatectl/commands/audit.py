"""`gatectl audit list|show`: the read-only audit log (GET /audit, GET /audit/{id}), newest first."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from gatectl import output
from gatectl.commands.options import Cursor, Day, Limit, day
from gatectl.state import State

app = typer.Typer(help="The audit log: who changed which team, key or user, and how.", no_args_is_help=True)

COLUMNS = ["id", "time", "changed_by", "action", "table", "object_id"]


def _time(iso: str) -> str:
    """`2026-12-03T19:29:41.515497Z` → `2026-12-03 19:29:41Z` (seconds are enough in a table)."""
    return f"{iso[:10]} {iso[11:19]}Z" if len(iso) >= 19 else iso


@app.command("list")
def list_audit(
    ctx: typer.Context,
    object_id: Annotated[str | None, typer.Option("--object-id", help="team_id, token_id, user_id, ...")] = None,
    table: Annotated[str | None, typer.Option("--table", help="teams, keys, users, ...")] = None,
    action: Annotated[str | None, typer.Option(
        "--action", help="created, updated, deleted, blocked, unblocked, regenerated")] = None,
    changed_by: Annotated[str | None, typer.Option("--changed-by", help="admin, a user_id or a token_id")] = None,
    start: Day = None, end: Day = None, limit: Limit = None, cursor: Cursor = None,
) -> None:
    """List audit entries, newest first (GET /audit)."""
    state: State = ctx.obj
    data = state.client().get("/audit", object_id=object_id, table_name=table, action=action, changed_by=changed_by,
                              start_date=day(start), end_date=day(end), limit=limit, cursor=cursor)
    if state.json:
        output.emit_json(data)
        return
    rows = ((e["id"], _time(e["updated_at"]), e["changed_by"], e["action"], e["table_name"], e["object_id"])
            for e in data["data"])
    output.page("Audit log", COLUMNS, rows, data.get("next_cursor"), keep=["id", "object_id"])


@app.command("show")
def show(ctx: typer.Context, entry_id: Annotated[str, typer.Argument(metavar="ID", help="an audit entry id")]) -> None:
    """One audit entry with the row before and the values after (GET /audit/{id})."""
    state: State = ctx.obj
    data = state.client().get(f"/audit/{quote(entry_id, safe='')}")
    if state.json:
        output.emit_json(data)
        return
    output.record(f"Audit entry {data['id']}",
                  {k: v for k, v in data.items() if k not in ("before_value", "updated_values")})
    output.pretty("before", data.get("before_value"))
    output.pretty("after", data.get("updated_values"))
