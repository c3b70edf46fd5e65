"""gatectl is complete and consistent (SPEC §11): the committed completion scripts and README CLI
reference equal a fresh generation; bash really completes; every admin route of /openapi.json is
used by some command; and every command has the documented exit codes for a daemon that is down
(3), a refused key (1) and bad arguments (2)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import typer

from gatectl.main import app
from gated.routes import ANY_KEY, PUBLIC, all_routes
from tests.support.gated import MASTER_KEY, free_port, mock_config
from tests.test_gatectl import gatectl

ROOT = Path(__file__).parent.parent
VENV_BIN = str(Path(sys.executable).parent)


def leaf_commands() -> list[tuple[list[str], list[str]]]:
    """(command path, placeholder arguments) for every gatectl command."""
    found = []

    def walk(command, path):  # type: ignore[no-untyped-def]
        if getattr(command, "commands", None):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        change = ["--alias", "z"] if path[-1] == "update" else []  # an update needs something to change
        found.append((path, ["x" for a in arguments if a.required] + change))

    walk(typer.main.get_command(app), [])
    return found


def test_generated_files_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def bash_complete(*words: str) -> list[str]:
    script = (f'source {ROOT}/completions/gatectl.bash; COMP_WORDS=({" ".join(words)} ""); '
              f'COMP_CWORD={len(words)}; _gatectl_completion gatectl; printf "%s\\n" "${{COMPREPLY[@]}}"')
    if words[-1] != "":
        script = (f'source {ROOT}/completions/gatectl.bash; COMP_WORDS=({" ".join(words)}); '
                  f'COMP_CWORD={len(words) - 1}; _gatectl_completion gatectl; printf "%s\\n" "${{COMPREPLY[@]}}"')
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completes_commands_and_subcommands():
    assert bash_complete("gatectl", "te") == ["team"]
    assert bash_complete("gatectl", "team", "") == ["new", "list", "info", "update", "delete", "block", "unblock"]
    assert set(bash_complete("gatectl", "spend", "")) == {"tags", "logs", "keys", "teams", "users"}
    assert "--max-budget" in bash_complete("gatectl", "key", "generate", "--max")


def test_every_admin_route_is_used_by_a_command(gated):
    """Run every command (placeholder arguments, master key) and read which routes gated served."""
    instance = gated(mock_config())
    for path, args in leaf_commands():
        gatectl("--url", instance.url, "--key", MASTER_KEY, *path, *args)
    served = set(re.findall(r"gated\.access: (GET|POST) (\S+) ", instance.logs()))
    patterns = {(r.method, r.path): re.compile("^" + re.sub(r"{\w+}", "[^/]+", r.path) + "$") for r in all_routes()}
    used = {key for key, pattern in patterns.items() for method, path in served
            if key[0] == method and pattern.match(path)}
    document = httpx.get(instance.url + "/openapi.json").json()   # what the running daemon documents
    admin = {(r.method, r.path) for r in all_routes() if r.role not in (PUBLIC, ANY_KEY) and not r.openai
             and not re.match(r"^/(customer|end_user)/", r.path)}
    assert {path for _, path in admin} <= set(document["paths"])
    # GET and POST /key/info are one capability (the key in the URL or the body): one of them is enough
    missing = {path for method, path in admin if (method, path) not in used and path not in {p for _, p in used}}
    assert not missing, f"no gatectl command calls {sorted(missing)}"


COMMANDS = leaf_commands()


@pytest.mark.parametrize("path, args", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_exit_codes(mock_gated, path, args):
    down = gatectl("--url", f"http://127.0.0.1:{free_port()}", "--key", "sk-whatever", *path, *args)
    assert down.returncode == 3 and down.stderr.count("\n") == 1 and "hint:" in down.stderr, down.stderr
    bad = gatectl("--url", mock_gated.url, *path, *args, "--no-such-option")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    if path == ["health"]:
        return
    refused = gatectl("--url", mock_gated.url, "--key", "sk-wrong-key-0123456789", *path, *args)
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert refused.stderr.startswith("gatectl: error: ") and "(hint: " in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
