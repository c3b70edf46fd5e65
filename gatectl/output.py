"""How gatectl shows things: `--json` prints the API's JSON unchanged; otherwise rich tables.
Errors go to stderr as one line plus a hint."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(title=title)
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*("" if value is None else str(value) for value in row))
    Console().print(view)


def error(message: str, hint: str | None = None) -> None:
    line = f"gatectl: error: {message}"
    if hint:
        line += f" (hint: {hint})"
    sys.stderr.write(line + "\n")
