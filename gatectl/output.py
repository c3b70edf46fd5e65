"""How gatectl shows things: `--json` prints the API's JSON unchanged; otherwise rich tables (with
bars for amounts) or CSV. Errors, hints and progress go to stderr, so stdout stays pipeable."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
        view.add_row(*map(escape, row))  # values are data: a tag "[red]" is text, not rich markup
    console.print(view)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


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


BAR_WIDTH = 30
EIGHTHS = " ▏▎▍▌▋▊▉"  # partial blocks, 0/8 to 7/8 of a cell


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of unicode blocks, `fraction` (0..1) of `width` cells, to 1/8 of a cell;
    anything above zero shows at least a sliver."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def bar_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], amounts: Sequence[float | None],
              keep: Sequence[str] = ()) -> None:
    """A table with one more column: a bar per row proportional to its amount; the largest
    amount gets the full bar width, which shrinks (to 4 cells at least) so that a row fits the
    terminal on one line."""
    from rich.console import Console

    rows = [list(row) for row in rows]
    used = sum(max([len(name), *(len(cell(row[i])) for row in rows)]) for i, name in enumerate(columns))
    width = max(4, min(BAR_WIDTH, Console().width - 3 * (len(columns) + 1) - 1 - used))
    top = max((a for a in amounts if a), default=0.0)
    bars = [bar(a / top, width) if a and top > 0 else "" for a in amounts]
    table(title, [*columns, ""], [[*row, b] for row, b in zip(rows, bars, strict=True)], [*keep, ""])


def usd(value: float | None) -> str:
    """Dollars with enough decimals to show three significant digits of tiny amounts
    (0.0000123 → $0.0000123), at least cents; None (unknown price) → "unknown"."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    decimals = min(max(2, 2 - math.floor(math.log10(abs(value)))), 10)
    text = f"{value:,.{decimals}f}"
    if "." in text:  # trailing zeros say nothing, but keep whole cents
        whole, frac = text.split(".")
        text = f"{whole}.{frac.rstrip('0').ljust(2, '0')}"
    if float(text.replace(",", "")) == 0:  # below what 10 decimals show
        text = f"{value:.2e}"
    return ("-$" if text.startswith("-") else "$") + text.lstrip("-")


def short_time(iso: str) -> str:
    """`2026-12-03T19:29:41.515497Z` → `2026-12-03 19:29:41Z` (seconds are enough in a table)."""
    return f"{iso[:10]} {iso[11:19]}Z" if len(iso) >= 19 else iso


def csv_value(value: Any) -> str:
    """One value as CSV text: None empty, booleans and lists/objects as JSON, floats exact (repr)."""
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def csv_writer() -> Callable[[Iterable[Any]], None]:
    """A function writing one CSV row to stdout (LF line ends: friendlier in pipes than CRLF)."""
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    return lambda row: writer.writerow([csv_value(v) for v in row])


@contextmanager
def counting(what: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Progress on stderr (rows fetched so far) while a long export runs; yields `advance(n)`.
    Only when stderr is a terminal: in a pipe or a log it would be noise."""
    if not enabled or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}: {task.completed} rows fetched"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=False,
                  # rich would otherwise capture stdout and print it on its console: CSV into stderr
                  redirect_stdout=False, redirect_stderr=False) as progress:
        task = progress.add_task(what, total=None)
        yield lambda n: progress.advance(task, n)


def notice(text: str) -> None:
    """A line for the person at the terminal that must not end up in piped data (stderr)."""
    sys.stderr.write(text + "\n")


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
