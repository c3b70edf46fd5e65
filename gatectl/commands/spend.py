"""`gatectl spend tags|logs|keys|teams|users`: the spend reports (GET /spend/*, SPEC §7), as rich
tables (with a bar per tag), the API's JSON unchanged (--json), or CSV (--csv). `spend logs --all`
follows next_cursor through every page: an export, streamed as CSV page by page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gatectl import output
from gatectl.commands.options import AsCsv, AsJson, Cursor, End, Limit, Start, one_format, window
from gatectl.state import State

if TYPE_CHECKING:
    from gatectl.client import Client

app = typer.Typer(help="Spend reports: per tag, key, team and user, and the request log.", no_args_is_help=True)

# the order of a spend row (SPEC §7); a CSV export of rows uses the API's own field order
LOG_FIELDS = ["request_id", "call_type", "token_id", "key_alias", "team_id", "user_id", "end_user", "model_group",
              "model", "deployment", "prompt_tokens", "completion_tokens", "total_tokens", "spend", "cost_status",
              "usage_estimated", "start_time", "end_time", "ttft_ms", "status", "rejected_by", "error_code", "tags",
              "spend_logs_metadata"]
LOG_COLUMNS = ["time", "request_id", "model_group", "status", "tokens", "spend", "tags"]


class Status(StrEnum):
    success = "success"
    rejected = "rejected"
    error = "error"


@app.command("tags")
def tags(ctx: typer.Context, start: Start = None, end: End = None, as_json: AsJson = False,
         as_csv: AsCsv = False) -> None:
    """Spend per request tag over successful requests, largest first (GET /spend/tags)."""
    state: State = ctx.obj
    one_format(as_json, as_csv)
    start_date, end_date = window(start, end)
    data = state.client().get("/spend/tags", start_date=start_date, end_date=end_date)
    if state.json or as_json:
        output.emit_json(data)
    elif as_csv:
        write = output.csv_writer()
        write(["tag", "log_count", "total_spend"])
        for entry in data:
            write([entry["individual_request_tag"], entry["log_count"], entry["total_spend"]])
    else:
        output.bar_table("Spend per tag", ["tag", "requests", "spend"],
                         [(e["individual_request_tag"], e["log_count"], output.usd(e["total_spend"])) for e in data],
                         [e["total_spend"] for e in data], keep=["tag"])


def _log_row(row: dict[str, Any]) -> list[Any]:
    status = row.get("status")
    if row.get("rejected_by"):
        status = f"{status} ({row['rejected_by']})"
    return [output.short_time(row.get("start_time") or ""), row.get("request_id"), row.get("model_group"), status,
            row.get("total_tokens"), output.usd(row.get("spend")), ", ".join(row.get("tags") or [])]


KeyFilter = Annotated[str | None, typer.Option("--key", metavar="TOKEN_ID", help="only this key's rows")]
TeamFilter = Annotated[str | None, typer.Option("--team", metavar="TEAM_ID", help="only this team's rows")]
UserFilter = Annotated[str | None, typer.Option("--user", metavar="USER_ID", help="only this key owner's rows")]
EndUser = Annotated[str | None, typer.Option("--end-user", help="only rows whose request named this `user`")]
TagFilter = Annotated[str | None, typer.Option("--tag", help="only rows with this tag")]
RequestId = Annotated[str | None, typer.Option("--request-id", help="the row of one request")]
StatusFilter = Annotated[Status | None, typer.Option("--status", help="only rows with this outcome")]
Every = Annotated[bool, typer.Option("--all", help="follow next_cursor through every page (an export; with "
                                     "--json one {data, next_cursor: null} document)")]


@app.command("logs")
def logs(
    ctx: typer.Context, token_id: KeyFilter = None, team: TeamFilter = None, user: UserFilter = None,
    end_user: EndUser = None, tag: TagFilter = None, request_id: RequestId = None, status: StatusFilter = None,
    start: Start = None, end: End = None, limit: Limit = None, cursor: Cursor = None, every: Every = False,
    as_json: AsJson = False, as_csv: AsCsv = False,
) -> None:
    """Spend rows, newest first (GET /spend/logs); a non-admin key sees only its own."""
    state: State = ctx.obj
    one_format(as_json, as_csv)
    start_date, end_date = window(start, end)
    params = {"token_id": token_id, "team_id": team, "user_id": user, "end_user": end_user, "tag": tag,
              "request_id": request_id, "status": status.value if status else None, "start_date": start_date,
              "end_date": end_date, "limit": limit}
    pages = _pages(state.client(), params, cursor, every)
    rows: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    with output.counting("spend logs", enabled=every or as_csv) as advance:
        if as_csv:
            last = _write_csv(pages, advance)
        else:
            for last in pages:
                rows.extend(last["data"])
                advance(len(last["data"]))
    next_cursor = None if every else last.get("next_cursor")
    if as_csv:
        if next_cursor:
            output.notice(f"more rows: continue with --cursor {next_cursor}, or pass --all")
    elif state.json or as_json:
        output.emit_json({"data": rows, "next_cursor": None} if every else last)
    else:
        output.page("Spend logs", LOG_COLUMNS, map(_log_row, rows), next_cursor, keep=["request_id", "time"])


def _pages(client: Client, params: dict[str, Any], cursor: str | None, every: bool) -> Iterator[dict[str, Any]]:
    """One page, or with `every` each page until next_cursor runs out."""
    while True:
        page = client.get("/spend/logs", **params, cursor=cursor)
        yield page
        cursor = page.get("next_cursor")
        if not every or not cursor:
            return


def _write_csv(pages: Iterator[dict[str, Any]], advance: Callable[[int], None]) -> dict[str, Any]:
    """Every field of every row, page by page (an export is never held in memory); the header is
    the first row's fields. Returns the last page."""
    write = output.csv_writer()
    fields: list[str] | None = None
    last: dict[str, Any] = {}
    for last in pages:
        if fields is None:
            fields = list(last["data"][0]) if last["data"] else LOG_FIELDS
            write(fields)
        for row in last["data"]:
            write(row.get(field) for field in fields)
        advance(len(last["data"]))
    return last


# group → (id column, title, label of the row without an id, [(header, field), ...] shown after the id)
SUMMARIES: dict[str, tuple[str, str, str, list[tuple[str, str]]]] = {
    "keys": ("token_id", "Spend per key", "(master key)", [("alias", "key_alias"), ("team_id", "team_id"),
                                                           ("user_id", "user_id")]),
    "teams": ("team_id", "Spend per team", "(no team)", [("alias", "team_alias")]),
    "users": ("user_id", "Spend per user", "(no user)", [("alias", "user_alias")]),
}


def _summary(ctx: typer.Context, group: str, start: str | None, end: str | None, limit: int | None,
             cursor: str | None, as_json: bool) -> None:
    state: State = ctx.obj
    start_date, end_date = window(start, end)
    data = state.client().get(f"/spend/{group}", start_date=start_date, end_date=end_date, limit=limit,
                              cursor=cursor)
    if state.json or as_json:
        output.emit_json(data)
        return
    column, title, no_id, details = SUMMARIES[group]
    columns = [column, *(header for header, _ in details), "requests", "succeeded", "tokens", "spend"]
    rows = ([e.get(column) or no_id, *(e.get(field) for _, field in details), e.get("log_count"),
             e.get("success_count"), e.get("total_tokens"), output.usd(e.get("total_spend"))] for e in data["data"])
    output.page(title, columns, rows, data.get("next_cursor"), keep=[column])


@app.command("keys")
def keys(ctx: typer.Context, start: Start = None, end: End = None, limit: Limit = None, cursor: Cursor = None,
         as_json: AsJson = False) -> None:
    """Spend per key in the window, ordered by token_id (GET /spend/keys)."""
    _summary(ctx, "keys", start, end, limit, cursor, as_json)


@app.command("teams")
def teams(ctx: typer.Context, start: Start = None, end: End = None, limit: Limit = None, cursor: Cursor = None,
          as_json: AsJson = False) -> None:
    """Spend per team in the window, ordered by team_id (GET /spend/teams)."""
    _summary(ctx, "teams", start, end, limit, cursor, as_json)


@app.command("users")
def users(ctx: typer.Context, start: Start = None, end: End = None, limit: Limit = None, cursor: Cursor = None,
          as_json: AsJson = False) -> None:
    """Spend per user (key owner) in the window, ordered by user_id (GET /spend/users)."""
    _summary(ctx, "users", start, end, limit, cursor, as_json)
