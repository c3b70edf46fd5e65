"""How gatectl shows things: `--json` prints the API's JSON unchanged; otherwise rich tables.
Errors go to stderr as one line plus a hint."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def cell(value: Any) -> str:
    """One value as table text: lists and objects as compact JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":")) if value else ""
    return str(value)


MIN_COLUMN = 8  # what the other columns keep at least when a `keep` column takes its full width


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], keep: Sequence[str] = ()) -> None:
    """`keep`: id columns, most important first, that the other columns shrink for while the
    terminal leaves them room, so the ids can be copied whole."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cells = [[cell(value) for value in row] for row in rows]
    room, whole = console.width - 3 * len(columns) - 1, set[str]()
    for name in keep:
        index = columns.index(name)
        width = max([len(name), *(len(row[index]) for row in cells)])
        if room - width >= MIN_COLUMN * (len(columns) - len(whole) - 1):
            room -= width
            whole.add(name)
    view = Table(title=title)
    for column in columns:
        # fold, not ellipsis: when nothing fits, an id is wrapped but never cut
        view.add_column(column, overflow="fold", no_wrap=column in whole)
    for row in cells:
        view.add_row(*row)
    console.print(view)


def record(title: str, obj: Mapping[str, Any]) -> None:
    """One object as a two-column field/value table."""
    table(title, ["field", "value"], obj.items())


def page(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], next_cursor: str | None,
         keep: Sequence[str] = ()) -> None:
    """A list page; when there is more, a hint line with the --cursor value that continues it."""
    table(title, columns, rows, keep)
    if next_cursor:
        sys.stdout.write(f"more rows: continue with --cursor {next_cursor}\n")


def secret(label: str, value: str) -> None:
    """A secret shown once: on its own line, never wrapped, with the warning next to it."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    console.print(f"{label}: [bold green]{value}[/]", markup=True)
    console.print("[yellow]Save it now: it will not be shown again.[/]")


def message(text: str) -> None:
    sys.stdout.write(text + "\n")


def pretty(title: str, data: Any) -> None:
    """A JSON value for people (audit before/after)."""
    sys.stdout.write(f"{title}:\n{'null' if data is None else json.dumps(data, indent=2, sort_keys=True)}\n")


def error(message: str, hint: str | None = None) -> None:
    line = f"gatectl: error: {message}"
    if hint:
        line += f" (hint: {hint})"
    sys.stderr.write(line + "\n")
