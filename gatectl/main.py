"""gatectl's root: global options, command groups, and the one place errors become exit codes
(0 ok, 1 the API refused, 2 usage error, 3 daemon unreachable)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from gatectl import output
from gatectl.client import ApiError, Unreachable
from gatectl.commands import audit, health, keys, keywords, models, spend, teams, users
from gatectl.state import InvalidUrl, State

EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3

app = typer.Typer(name="gatectl", help="Operate a gated LLM gateway from the terminal.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(teams.app, name="team")
app.add_typer(keys.app, name="key")
app.add_typer(users.app, name="user")
app.add_typer(spend.app, name="spend")
app.add_typer(audit.app, name="audit")
app.add_typer(keywords.app, name="keywords")
app.add_typer(models.app, name="models")
app.command("health")(health.health)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option("--url", envvar="GATED_URL", help="gated base URL")] = None,
    key: Annotated[str | None, typer.Option("--key", envvar="GATED_MASTER_KEY", help="API key")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON unchanged")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="seconds per request", min=0.1)] = None,
) -> None:
    try:
        ctx.obj = State.resolve(url, key, timeout, as_json)
    except InvalidUrl as exc:
        output.error(str(exc), "pass --url http://HOST:PORT or set GATED_URL")
        raise typer.Exit(EXIT_USAGE) from None
    except ValueError as exc:
        output.error(str(exc), "fix or remove the profile file")
        raise typer.Exit(EXIT_USAGE) from None


COMPLETE_VAR = "_GATECTL_COMPLETE"  # set by the completion scripts in completions/ when a shell asks


def main() -> int:
    if COMPLETE_VAR in os.environ:
        from typer.completion import completion_init

        completion_init()  # registers bash/zsh/fish answers; only then, to keep --help fast
    try:
        # without standalone mode click returns a typer.Exit's code instead of raising it
        code = app(standalone_mode=False)
    except ApiError as exc:
        output.error(exc.message, exc.hint)
        return EXIT_API
    except Unreachable as exc:
        output.error(str(exc), "is gated running? start it with `make run`, or pass --url")
        return EXIT_UNREACHABLE
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as exc:  # usage errors (bad option, missing argument, unknown command)
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            output.error(str(exc))
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except Exception as exc:  # anything unexpected: one line, never a traceback
        output.error(f"unexpected failure: {type(exc).__name__}: {exc}")
        return EXIT_API
    return code if isinstance(code, int) else 0
