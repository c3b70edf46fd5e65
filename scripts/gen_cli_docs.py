"""Generate gatectl's shell completion scripts (completions/) and the README's CLI reference from
the CLI itself (`make completions`). `--check` exits 1 when a committed file is out of date."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.completion import get_completion_script

from gatectl.main import COMPLETE_VAR, app

ROOT = Path(__file__).resolve().parent.parent
SHELLS = {"bash": "gatectl.bash", "zsh": "_gatectl", "fish": "gatectl.fish"}
HEADER = "# Generated from gatectl by `make completions`; do not edit.\n"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def completion_files() -> dict[Path, str]:
    files = {}
    for shell, name in SHELLS.items():
        script = get_completion_script(prog_name="gatectl", complete_var=COMPLETE_VAR, shell=shell).strip()
        body = f"#compdef gatectl\n{HEADER}{script.removeprefix('#compdef gatectl').lstrip()}\n" if shell == "zsh" \
            else f"{HEADER}{script}\n"
        files[ROOT / "completions" / name] = body
    return files


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def _option_line(param) -> str:  # type: ignore[no-untyped-def]
    names = " / ".join([*param.opts, *param.secondary_opts])
    text = (param.help or "").replace("|", "\\|")
    if getattr(param, "envvar", None):
        text += f" (env `{param.envvar}`)"
    return f"| `{names}` | {text} |"


def _command_section(command, path: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name in sorted(subcommands, key=list(subcommands).index):
            lines += _command_section(subcommands[name], [*path, name])
        return lines
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
    usage = " ".join(["gatectl", *path, *(f"{a.name.upper()}{'...' if a.nargs == -1 else ''}" for a in arguments)])
    lines += [f"#### `{' '.join(path)}`", "", _first_paragraph(command.help), "", f"    {usage}", ""]
    if options:
        lines += ["| option | meaning |", "|---|---|", *(_option_line(p) for p in options), ""]
    return lines


def cli_reference() -> str:
    root = typer.main.get_command(app)
    lines = [START, "", "Generated from the CLI by `make completions`; `gatectl COMMAND --help` says the same.", "",
             "Global options (before the command):", "", "| option | meaning |", "|---|---|",
             *(_option_line(p) for p in root.params if p.name != "help"), ""]
    lines += _command_section(root, [])
    return "\n".join([*lines, END])


def readme_with_reference() -> str:
    readme = (ROOT / "README.md").read_text()
    before, _, rest = readme.partition(START)
    _, _, after = rest.partition(END)
    return before + cli_reference() + after


def main() -> int:
    check = "--check" in sys.argv[1:]
    wanted = {**completion_files(), ROOT / "README.md": readme_with_reference()}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run `make completions`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
