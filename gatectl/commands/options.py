"""Options shared by the command groups (team, key, user, audit, spend), defined once as typer
Annotated aliases, and the small helpers that turn option values into request bodies. Every
option defaults to None so that "only the options given are sent" holds for updates."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any

import typer

from gatectl import output

EXIT_USAGE = 2

Alias = Annotated[str | None, typer.Option("--alias", help="a unique, human-friendly name")]
MaxBudget = Annotated[float | None, typer.Option("--max-budget", min=0, help="budget in USD")]
BudgetDuration = Annotated[str | None, typer.Option(
    "--budget-duration", help="reset period of the budget: 30s, 30m, 30h, 30d, 4w, 3mo")]
Models = Annotated[str | None, typer.Option(
    "--models", help="comma-separated model groups ('' = all models)")]
TpmLimit = Annotated[int | None, typer.Option("--tpm-limit", min=0, help="tokens per minute")]
RpmLimit = Annotated[int | None, typer.Option("--rpm-limit", min=0, help="requests per minute")]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="a tag (repeatable; --tag '' clears the tags)")]
Blocked = Annotated[bool | None, typer.Option("--blocked/--unblocked", help="block or unblock it")]
Metadata = Annotated[str | None, typer.Option("--metadata", help="a JSON object, e.g. '{\"owner\": \"ops\"}'")]
Limit = Annotated[int | None, typer.Option("--limit", min=1, max=1000, help="rows per page (API default 100)")]
Cursor = Annotated[str | None, typer.Option("--cursor", help="continue after a previous page")]
Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="a day, YYYY-MM-DD")]
# report windows: plain text checked by `window`, so a bad day is a one-line usage error
Start = Annotated[str | None, typer.Option("--start", metavar="YYYY-MM-DD", help="first day (UTC, inclusive)")]
End = Annotated[str | None, typer.Option("--end", metavar="YYYY-MM-DD", help="last day (UTC, inclusive)")]
AsJson = Annotated[bool, typer.Option("--json", help="print the API's JSON unchanged (same as gatectl --json)")]
AsCsv = Annotated[bool, typer.Option("--csv", help="write CSV to stdout")]


def csv(value: str | None) -> list[str] | None:
    """`a, b` → ["a", "b"]; "" → [] (which the API reads as "all" / "none")."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def repeated(values: list[str] | None) -> list[str] | None:
    """A repeatable option: not given → None (not sent); only empty strings → [] (cleared)."""
    if not values:
        return None
    return [v for v in values if v]


def json_object(option: str, raw: str | None) -> dict[str, Any] | None:
    """Parse a JSON-object option; bad JSON is a usage error (exit 2, one line)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        output.error(f"{option} is not valid JSON: {exc}", f"quote it, e.g. {option} '{{\"k\": \"v\"}}'")
        raise typer.Exit(EXIT_USAGE) from None
    if not isinstance(value, dict):
        output.error(f"{option} must be a JSON object, got {type(value).__name__}")
        raise typer.Exit(EXIT_USAGE)
    return value


def day(value: datetime | None) -> str | None:
    return None if value is None else value.date().isoformat()


def given(**fields: Any) -> dict[str, Any]:
    """The request body: only the options that were given (None = not given)."""
    return {name: value for name, value in fields.items() if value is not None}


def require_changes(fields: dict[str, Any]) -> None:
    if not fields:
        output.error("nothing to change", "pass at least one option; see --help")
        raise typer.Exit(EXIT_USAGE)


def usage_error(message: str, hint: str | None = None) -> typer.Exit:
    output.error(message, hint)
    return typer.Exit(EXIT_USAGE)


def _iso_day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise usage_error(f"{option} must be a day YYYY-MM-DD, got {value!r}", f"e.g. {option} 2024-05-01") from None


def window(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """--start/--end checked before any request (exit 2, one line): real days, start <= end."""
    first, last = _iso_day("--start", start), _iso_day("--end", end)
    if first and last and first > last:
        raise usage_error(f"--start {first} is after --end {last}")
    return (first.isoformat() if first else None, last.isoformat() if last else None)


def one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise usage_error("--json and --csv exclude each other", "pick one")
