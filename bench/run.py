"""`make bench` / `make bench-quick`: what gated costs, side by side with a direct baseline (SPEC §12).

One run starts its own 0 ms upstream stand-in (bench/upstream.py) and one gated worker configured
as SPEC §12 asks -- but only with the features gated has today (each is detected, never faked;
the report says which were on). Then, on 127.0.0.1 only:
- wrk (POST body from bench/post.lua) straight at the stand-in ("direct") and through gated (and
  through any `--target NAME=URL`), concurrency 1/8/32, non-streaming and streaming: requests/s,
  p50/p99, CPU time per request of each server's process tree (/proc/<pid>/stat);
- time to first token, ~200 sequential streamed requests, direct vs gated (asyncio client);
- gated's RSS (idle, peak), start-to-ready time, `gatectl --help` wall time;
- micro-benchmarks from the MICROS registry (each reports `n/a (feature not built)` until its
  feature exists), among them what each remote guardrail adds over the bench config when its
  service (bench/guard_standin.py) answers in 0 ms.
Results: bench/results/latest.{md,json} plus a timestamped copy; the markdown is also printed.

Pinning: the load generator, this script and the stand-in run on CPU 1, gated on CPU 0 (taskset),
when the machine has 2+ CPUs. Every process is started in its own session and killed by process
group in `finally`; every phase has a time limit and the whole run has a watchdog.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regression
import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent          # the venv's bin (run as .venv/bin/python bench/run.py)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

PROMPT = "Say hello to the benchmark in one short sentence."
BANNED_KEYWORDS_10 = ["azalea", "bramble", "cobalt", "dervish", "ember", "fjord", "gossamer", "halcyon",
                      "isotope", "juniper"]
BLOCKED_USERS = ["blocked-user-1", "blocked-user-2", "blocked-user-3"]
GUARDRAILS = ("blocked_user_check", "banned_keywords")

# SPEC §12 targets
T_CPU_NONSTREAM_US = 250.0
T_CPU_STREAM_US = 300.0
T_ADDED_P50_MS = 0.5
T_ADDED_TTFT_MS = 1.0
T_IDLE_RSS_MB = 60.0
T_READY_S = 1.0
T_GATECTL_MS = 300.0
T_SPEND_TAGS_MS = 200.0
T_KEYWORDS_MS = 5.0

NA_NOT_BUILT = "n/a (feature not built)"
BARE = "bare-aiohttp"          # the bare aiohttp pass-through target (bench/bare_proxy.py)
BARE_SPEC_US = 160.0           # what SPEC §12 says a bare aiohttp pass-through costs on its machines
SCALED_US = "µs (scaled)"      # a CPU figure × BARE_SPEC_US / this run's bare aiohttp CPU: machine-independent
NOISY_PCT = 10.0   # other processes' share of gated's core above which the report warns

# key variants on the hot path (same gated process, interleaved with the main "gated" target)
KEY_MASTER, KEY_VIRTUAL, KEY_BUDGET = "gated/master-key", "gated", "gated/key+budget+rpm"
KEY_CONCS, KEY_CONCS_QUICK = (1, 32), (32,)   # quick: c=32 only (wall time)
BIG_BUDGET = 1_000_000.0         # dollars: never refuses (a request costs ~$0.0001 worst case)
BIG_RPM = 1_000_000_000          # never refuses, but every request is counted in rate_usage


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- processes


PROCS: list[Proc] = []


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the process group, wait `grace`, then SIGKILL it. Returns the exit code."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:  # stragglers in the group (workers, grandchildren)
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self in PROCS:
            PROCS.remove(self)
        return self.popen.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def spawn(name: str, cmd: list[str], workdir: Path, cpu: int | None, env: dict[str, str] | None = None) -> Proc:
    log_path = workdir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it
    started = time.perf_counter()
    popen = subprocess.Popen(pin(cpu) + cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env={**os.environ, **(env or {})}, cwd=workdir)
    log.close()
    proc = Proc(name, popen, log_path, started)
    PROCS.append(proc)
    return proc


def stop_all() -> None:
    for proc in list(PROCS):
        proc.stop(grace=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
                 timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    assert url.startswith("http://127.0.0.1:") or url.startswith("http://localhost:"), url
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        hdrs = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
        conn.request(method, "/" + path, body=data, headers=hdrs)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


class KeepAlive:
    """One persistent HTTP/1.1 connection to a loopback server (sequential admin calls)."""

    def __init__(self, base: str, timeout: float = 10.0) -> None:
        assert base.startswith("http://127.0.0.1:"), base
        host, _, port = base.split("://", 1)[1].partition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
        self.conn.request(method, path, body=data, headers=hdrs)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def wait_ready(proc: Proc, url: str, timeout: float) -> float:
    """Poll `url` until it answers 200; returns seconds since the process was started."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode} before it was ready:\n{proc.log_tail()}")
        try:
            status, _, _ = http_request("GET", url, timeout=0.5)
            if status == 200:
                return time.perf_counter() - proc.started
        except OSError:
            pass
        time.sleep(0.002)
    raise BenchError(f"{proc.name} not ready after {timeout} s:\n{proc.log_tail()}")


# --------------------------------------------------------------------------- /proc accounting


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()   # fields from #3 (state) on


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def tree_cpu_seconds(root: int) -> float:
    """utime+stime of the process tree (threads included), plus reaped children of the root."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if not fields:
            continue
        ticks += int(fields[11]) + int(fields[12])            # utime, stime (fields 14, 15)
        if pid == root:
            ticks += int(fields[13]) + int(fields[14])        # cutime, cstime (fields 16, 17)
    return ticks / CLK_TCK


def cpu_busy_seconds() -> dict[int, float]:
    """Per-CPU busy time (everything but idle and iowait) from /proc/stat, in seconds."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            ticks = [int(v) for v in values]
            out[int(name[3:])] = (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK
    return out


def wake_ups(cpu: int | None) -> int | None:
    """Inter-processor interrupts CPU `cpu` has received (function-call and rescheduling ones):
    each is a process on another core waking a sleeping one there, e.g. gated writing to wrk or
    to the stand-in. On a VM each costs the writer several µs of CPU (bench/PROFILE.md, pass 3)."""
    if cpu is None:
        return None
    try:
        lines = Path("/proc/interrupts").read_text().splitlines()
    except OSError:
        return None
    counts = [line.split() for line in lines]
    return sum(int(c[1 + cpu]) for c in counts if c and c[0] in ("CAL:", "RES:") and len(c) > 1 + cpu)


def tree_memory_kb(root: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) summed over the process tree, in kB."""
    rss = hwm = 0
    for pid in tree_pids(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm += int(line.split()[1])
    return rss, hwm


# --------------------------------------------------------------------------- targets and load


@dataclass
class Target:
    name: str
    url: str                         # POST URL of chat completions
    key: str | None = None
    model: str = "bench"
    pid: int | None = None           # process tree whose CPU is charged to this target
    upstream_pid: int | None = None  # the stand-in, also charged separately
    core: int | None = None          # the CPU the server is pinned to alone (gated), for the noise check

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}


def request_body(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}],
                            "max_tokens": 32, "user": "bench-user"}
    if stream:
        body["stream"] = True
    return body


def body_file(workdir: Path, target: Target, stream: bool) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in target.name)
    path = workdir / f"body-{safe}-{'stream' if stream else 'json'}.json"
    if not path.exists():
        path.write_bytes(json.dumps(request_body(target.model, stream)).encode())
    return path


def run_wrk(target: Target, stream: bool, conc: int, seconds: int, workdir: Path, cpu: int | None,
            body: Path | None = None) -> dict[str, Any]:
    """One wrk phase against `target` (POSTing `body`, default: the chat request of `stream`)."""
    cmd = pin(cpu) + ["wrk", "-t1", f"-c{conc}", f"-d{seconds}s", "--timeout", "5s", "-s", str(BENCH / "post.lua")]
    for name, value in target.headers().items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(target.url)
    env = {**os.environ, "BENCH_BODY": str(body or body_file(workdir, target, stream))}
    cpu0 = tree_cpu_seconds(target.pid) if target.pid else None
    up0 = tree_cpu_seconds(target.upstream_pid) if target.upstream_pid else None
    busy0 = cpu_busy_seconds()
    wakes0 = wake_ups(cpu)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk against {target.name} did not finish in time") from None
    cpu1 = tree_cpu_seconds(target.pid) if target.pid else None
    up1 = tree_cpu_seconds(target.upstream_pid) if target.upstream_pid else None
    busy1 = cpu_busy_seconds()
    wakes1 = wake_ups(cpu)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk against {target.name} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    res = json.loads(line.removeprefix("BENCH_JSON "))
    n = max(res["requests"], 1)
    wall = res["duration_us"] / 1e6
    server_cpu = (cpu1 - cpu0) if cpu0 is not None else None
    # CPU time on the server's core used by anything else (other jobs on the machine): noise warning
    others = None
    core = target.core
    if server_cpu is not None and core is not None and core in busy0 and core in busy1:
        others = max(0.0, (busy1[core] - busy0[core]) - server_cpu) / wall * 100
    errors = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_status"] + res["err_timeout"]
    out = {
        "requests": res["requests"], "rps": res["requests"] / (res["duration_us"] / 1e6),
        "p50_us": res["p50_us"], "p99_us": res["p99_us"], "errors": errors, "non_2xx": res["err_status"],
        "cpu_us_per_req": server_cpu * 1e6 / n if server_cpu is not None else None,
        "cpu_util_pct": server_cpu / wall * 100 if server_cpu is not None else None,
        "others_on_core_pct": others,
        "upstream_cpu_us_per_req": (up1 - up0) * 1e6 / n if up0 is not None else None,
        "load_core_wakeups_per_req": (wakes1 - wakes0) / n if wakes0 is not None and wakes1 is not None else None,
    }
    return out


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        if key in ("requests", "errors", "non_2xx"):
            out[key] = sum(values)
        else:
            out[key] = statistics.median(values) if values else None
    out["runs"] = len(runs)
    return out


# --------------------------------------------------------------------------- time to first token


async def _ttft(targets: list[Target], count: int, warmup: int) -> dict[str, dict[str, Any]]:
    import aiohttp

    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    events: dict[str, list[int]] = {t.name: [] for t in targets}
    bodies = {t.name: json.dumps(request_body(t.model, stream=True)).encode() for t in targets}
    connector = aiohttp.TCPConnector(limit=len(targets) * 2, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        for i in range(warmup + count):
            for target in targets:  # interleaved, so drift hits every target alike
                headers = {"Content-Type": "application/json", **target.headers()}
                t0 = time.perf_counter()
                async with session.post(target.url, data=bodies[target.name], headers=headers) as resp:
                    if resp.status != 200:
                        raise BenchError(f"streaming request to {target.name} answered {resp.status}: "
                                         f"{(await resp.read())[:300]!r}")
                    first = None
                    seen = b""
                    async for chunk in resp.content.iter_any():
                        if first is None and b"data:" in seen + chunk:
                            first = time.perf_counter()
                        seen += chunk
                if first is None:
                    raise BenchError(f"no data: event from {target.name}")
                if i >= warmup:
                    samples[target.name].append((first - t0) * 1000)
                    events[target.name].append(seen.count(b"data:"))
    out = {}
    for target in targets:
        values = sorted(samples[target.name])
        out[target.name] = {
            "requests": len(values), "p50_ms": statistics.median(values),
            "p90_ms": values[int(len(values) * 0.9) - 1], "min_ms": values[0],
            "data_events_per_stream": statistics.median(events[target.name]),
        }
    return out


def measure_ttft(targets: list[Target], count: int) -> dict[str, dict[str, Any]]:
    return asyncio.run(asyncio.wait_for(_ttft(targets, count, warmup=10), timeout=120))


# --------------------------------------------------------------------------- gated and its config


@dataclass
class Features:
    """SPEC §12 bench features: name → (on, note). Filled by detection, never assumed."""
    state: dict[str, tuple[bool, str]] = field(default_factory=dict)

    def on(self, name: str) -> bool:
        return self.state.get(name, (False, ""))[0]

    def set(self, name: str, on: bool, note: str) -> None:
        self.state[name] = (on, note)


def gated_config(upstream_base: str, master_key: str, guardrails: tuple[str, ...] = (),
                 keywords: list[str] | None = None, check_output: bool = False) -> dict[str, Any]:
    litellm: dict[str, Any] = {"store_audit_logs": True}
    if guardrails:
        litellm["callbacks"] = list(guardrails)
    if "blocked_user_check" in guardrails:
        litellm["blocked_user_list"] = BLOCKED_USERS
    if "banned_keywords" in guardrails:
        litellm["banned_keywords_list"] = keywords if keywords is not None else BANNED_KEYWORDS_10
        litellm["banned_keywords_check_output"] = check_output
    return {
        "model_list": [{
            "model_name": "bench",
            "litellm_params": {"model": "openai/bench-model", "api_base": upstream_base, "api_key": "sk-bench-upstream",
                               "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002},
            "model_info": {"mode": "chat", "description": "bench stand-in (0 ms)"},
        }],
        "litellm_settings": litellm,
        "general_settings": {"master_key": master_key},
    }


_PROBE = """
import json, sys
import gated.cli  # the daemon's own imports, so the guardrail registry is what gated would see
from gated.config import ConfigError, load_config
out = {}
for path in sys.argv[1:]:
    try:
        load_config(path)
        out[path] = []
    except ConfigError as exc:
        out[path] = exc.problems
print(json.dumps(out))
"""


def config_problems(configs: dict[str, dict[str, Any]], workdir: Path) -> dict[str, list[str]]:
    """Run gated's own config validation on each config in ONE fresh interpreter (imports cost ~0.5 s);
    returns name -> problems ([] = accepted)."""
    paths = {}
    for name, config in configs.items():
        path = workdir / f"probe-{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        paths[name] = str(path)
    done = subprocess.run([sys.executable, "-c", _PROBE, *paths.values()], capture_output=True, text=True,
                          timeout=60, cwd=workdir)  # not the repo root: import the gated that .venv/bin/gated imports
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
        return {name: list(found[path]) for name, path in paths.items()}
    except (IndexError, KeyError, json.JSONDecodeError):
        raise BenchError(f"config probe failed ({done.returncode}): {done.stderr.strip()[-800:]}") from None


@dataclass
class Gated:
    proc: Proc
    base: str
    db: Path
    ready_s: float
    key: str
    core: int | None

    def target(self, name: str, upstream_pid: int | None) -> Target:
        return Target(name, f"{self.base}/v1/chat/completions", key=self.key, pid=self.proc.pid,
                      upstream_pid=upstream_pid, core=self.core)


GATED_ENV = {"AWS_EC2_METADATA_DISABLED": "true", "NO_GCE_CHECK": "true"}   # SPEC §8.1: no cloud metadata probes


def launch_gated(name: str, config: dict[str, Any], workdir: Path, cpu: int | None, key: str,
                 db: Path | None = None, env: dict[str, str] | None = None) -> Gated:
    """Start gated without waiting for it (ready_s is 0 until wait_gated)."""
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    db = db or workdir / f"{name}.db"
    proc = spawn(name, [str(BIN / "gated"), "--config", str(path), "--host", "127.0.0.1", "--port", str(port),
                        "--db", str(db), "--workers", "1"], workdir, cpu, env={**GATED_ENV, **(env or {})})
    return Gated(proc, f"http://127.0.0.1:{port}", db, 0.0, key, cpu)


def wait_gated(g: Gated, ready_timeout: float = 30.0) -> Gated:
    g.ready_s = wait_ready(g.proc, f"{g.base}/health/readiness", ready_timeout)
    return g


def start_gated(name: str, config: dict[str, Any], workdir: Path, cpu: int | None, key: str,
                db: Path | None = None, ready_timeout: float = 30.0, env: dict[str, str] | None = None) -> Gated:
    return wait_gated(launch_gated(name, config, workdir, cpu, key, db, env), ready_timeout)


def stop_many(procs: list[Proc], grace: float = 10.0) -> None:
    """SIGTERM every process group first, so their graceful stops overlap; then Proc.stop each."""
    for proc in procs:
        if proc.alive():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for proc in procs:
        proc.stop(grace)


def detect_runtime_features(gated: Gated, features: Features, master_key: str) -> None:
    auth = {"Authorization": f"Bearer {master_key}"}
    status, _, body = http_request("POST", f"{gated.base}/key/generate", {}, auth)
    if status == 200:
        raw = json.loads(body).get("key")
        if not raw:
            raise BenchError("/key/generate answered 200 without a key")
        gated.key = raw
        features.set("virtual_key", True, "generated with POST /key/generate {} (no budget, no limits); "
                                          "every `gated` figure uses it")
    else:
        features.set("virtual_key", False, f"feature not built: POST /key/generate answered {status}; "
                                           "requests use the master key")
    status, _, _ = http_request("GET", f"{gated.base}/metrics")
    features.set("metrics", status == 200,
                 "GET /metrics answers 200 (always on)" if status == 200
                 else f"feature not built: GET /metrics answered {status}")
    status, _, _ = http_request("GET", f"{gated.base}/audit", headers=auth)
    if status == 200:
        features.set("audit", True, "store_audit_logs: true; GET /audit answers")
    else:
        features.set("audit", False, f"store_audit_logs: true is set, but the audit log is not built "
                                     f"(GET /audit answered {status})")


def use_virtual_key(g: Gated, features: Features, master_key: str) -> Gated:
    """Extra gated instances call with the same kind of key as the main one."""
    if features.on("virtual_key"):
        status, _, body = http_request("POST", f"{g.base}/key/generate", {},
                                       {"Authorization": f"Bearer {master_key}"})
        if status != 200:
            raise BenchError(f"{g.proc.name}: POST /key/generate answered {status}")
        g.key = json.loads(body)["key"]
    return g


def key_variant_targets(g: Gated, features: Features, master_key: str, upstream_pid: int) -> list[Target]:
    """(a) the master key and (c) a virtual key with a large max_budget and rpm_limit, on the main
    gated; the main target itself is (b), a virtual key without budget or limits. None when gated
    has no virtual keys (then the main target already uses the master key)."""
    if not features.on("virtual_key"):
        return []
    master = g.target(KEY_MASTER, upstream_pid)
    master.key = master_key
    status, _, body = http_request("POST", f"{g.base}/key/generate",
                                   {"key_alias": "bench-budget-rpm", "max_budget": BIG_BUDGET, "rpm_limit": BIG_RPM},
                                   {"Authorization": f"Bearer {master_key}"})
    if status != 200:
        raise BenchError(f"POST /key/generate with max_budget and rpm_limit answered {status}: {body[:300]!r}")
    budget = g.target(KEY_BUDGET, upstream_pid)
    budget.key = json.loads(body)["key"]
    return [master, budget]


def key_costs(load: dict[str, Any], features: Features) -> dict[str, Any]:
    """Per concurrency: (a) master, (b) virtual key, (c) key with budget+rpm, and b−a, c−a, c−b."""
    if not features.on("virtual_key") or KEY_MASTER not in load:
        return {"available": False, "note": "no virtual keys in gated: every request uses the master key"}
    out: dict[str, Any] = {"available": True, "budget": BIG_BUDGET, "rpm_limit": BIG_RPM, "by_conc": {}}
    for conc in KEY_CONCS:
        if str(conc) not in load[KEY_MASTER]["json"]:   # bench-quick: c=32 only
            continue
        c = str(conc)
        a, b, k = load[KEY_MASTER]["json"][c], load[KEY_VIRTUAL]["json"][c], load[KEY_BUDGET]["json"][c]
        row: dict[str, Any] = {}
        for label, res in (("a_master", a), ("b_virtual", b), ("c_budget_rpm", k)):
            row[label] = {"rps": res["rps"], "p50_us": res["p50_us"], "cpu_us_per_req": res["cpu_us_per_req"],
                          "errors": res["errors"], "others_on_core_pct": res["others_on_core_pct"]}
        for label, x, y in (("b_minus_a", b, a), ("c_minus_a", k, a), ("c_minus_b", k, b)):
            row[label] = {"rps": x["rps"] - y["rps"], "p50_us": x["p50_us"] - y["p50_us"],
                          "cpu_us_per_req": (x["cpu_us_per_req"] - y["cpu_us_per_req"]
                                             if x["cpu_us_per_req"] is not None and y["cpu_us_per_req"] is not None
                                             else None)}
        out["by_conc"][c] = row
    return out


def spend_rows(db: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT count(*) FROM spend_logs").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def sanity(target: Target) -> None:
    """One non-streamed and one streamed request must succeed before anything is timed."""
    status, _, body = http_request("POST", target.url, request_body(target.model, False), target.headers())
    if status != 200 or b'"choices"' not in body:
        raise BenchError(f"{target.name}: non-streaming request answered {status}: {body[:300]!r}")
    status, _, body = http_request("POST", target.url, request_body(target.model, True), target.headers())
    if status != 200 or not body.rstrip().endswith(b"data: [DONE]"):
        raise BenchError(f"{target.name}: streaming request answered {status}: {body[:300]!r}")
    content = body.count(b'"content"')
    if target.name in ("direct", "gated") and content < 8:
        raise BenchError(f"{target.name}: expected 8 content chunks, got {content}")


def warm_up(target: Target, requests: int = 20) -> None:
    """Sequential non-streamed and streamed requests on one keep-alive connection: lazy imports, pools
    and caches warmed without a wrk phase (bench-quick, and the short per-feature comparisons)."""
    scheme, _, rest = target.url.partition("://")
    hostport, _, path = rest.partition("/")
    client = KeepAlive(f"{scheme}://{hostport.replace('localhost', '127.0.0.1')}")
    path = "/" + path
    try:
        for stream in (False, True):
            for _ in range(requests):
                status, resp = client.request("POST", path, request_body(target.model, stream), target.headers())
                if status != 200:
                    raise BenchError(f"{target.name}: warm-up request answered {status}: {resp[:200]!r}")
    finally:
        client.close()


# --------------------------------------------------------------------------- micro-benchmarks


@dataclass
class MicroContext:
    args: argparse.Namespace
    workdir: Path
    features: Features
    gated: Gated
    master_key: str
    upstream_base: str
    upstream_pid: int
    gated_cpu: int | None
    load_cpu: int | None
    full_config: dict[str, Any]
    guard_base: str                         # bench/guard_standin.py, the remote guardrails' 0 ms services
    guard_pid: int
    remote_problems: dict[str, list[str]]   # gated's config check of each remote guardrail ([] = known)
    extra: dict[str, Any] = field(default_factory=dict)   # detail a micro-benchmark adds to the JSON/markdown


@dataclass
class Micro:
    name: str
    target: str                                    # as SPEC §12 words it, or "" (report only)
    run: Callable[[MicroContext], list[dict[str, Any]]]


MICROS: list[Micro] = []


def micro(name: str, target: str = "") -> Callable[[Callable[[MicroContext], list[dict[str, Any]]]], Any]:
    """Register a micro-benchmark. It returns result rows: {name, value, unit, target, pass, note}."""
    def register(fn: Callable[[MicroContext], list[dict[str, Any]]]) -> Callable[..., Any]:
        MICROS.append(Micro(name, target, fn))
        return fn
    return register


def na_row(name: str, target: str, note: str = NA_NOT_BUILT) -> dict[str, Any]:
    return {"name": name, "value": None, "unit": "", "baseline": None, "target": target, "pass": None, "note": note}


SPEND_ROWS, SPEND_DAYS, SPEND_SEED = 1_000_000, 90, 1
SPEND_WINDOW = ("2026-11-24", "2026-11-30")   # the last 7 days of gen_spend's history


def _tag_truth(db: Path, window: tuple[str, str] | None) -> tuple[int, float]:
    """(successful tagged rows, their spend) straight from the detail rows, not the roll-ups."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        sql = "SELECT count(*), total(spend) FROM spend_log_tags WHERE status = 'success'"
        params: tuple[str, ...] = ()
        if window:
            sql += " AND start_time >= ? AND start_time < ?"
            end = (dt.date.fromisoformat(window[1]) + dt.timedelta(days=1)).isoformat()
            params = (window[0], end)
        count, spend = conn.execute(sql, params).fetchone()
        return count, spend
    finally:
        conn.close()


def _time_spend_tags(ctx: MicroContext, db: Path, auth: dict[str, str], detail: dict[str, Any]) -> str | None:
    """Time GET /spend/tags (all time, then a 7-day window) on a gated started on `db`; fills
    detail["queries"]. Returns a description of the first disagreement with the rows, or None."""
    g = start_gated("gated-spend", ctx.full_config, ctx.workdir, ctx.gated_cpu, ctx.master_key, db=db, ready_timeout=60)
    try:
        client = KeepAlive(g.base, timeout=60)
        try:
            for label, window in (("all time", None), ("last 7 days", SPEND_WINDOW)):
                query = "" if window is None else f"?start_date={window[0]}&end_date={window[1]}"
                times, answer = [], b""
                for _ in range(6):
                    t1 = time.perf_counter()
                    status, answer = client.request("GET", f"/spend/tags{query}", headers=auth)
                    times.append((time.perf_counter() - t1) * 1000)
                    if status != 200:
                        raise BenchError(f"/spend/tags{query} answered {status}: {answer[:300]!r}")
                tags = json.loads(answer)
                count, spend = _tag_truth(db, window)
                got_count = sum(t["log_count"] for t in tags)
                got_spend = sum(t["total_spend"] for t in tags)
                if got_count != count or abs(got_spend - spend) > 1e-6 * max(1.0, spend):
                    return (f"/spend/tags{query} says {got_count} tagged rows / ${got_spend:.4f}, "
                            f"spend_log_tags has {count} / ${spend:.4f}")
                detail["queries"][label] = {"query": query or "(none)", "first_ms": times[0],
                                            "median_ms": statistics.median(times[1:]), "samples_ms": times[1:],
                                            "tags": len(tags), "tagged_rows": count, "matches_rows": True}
        finally:
            client.close()
    finally:
        g.proc.stop()
    return None


@micro("/spend/tags over 1,000,000 rows", "< 200 ms")
def micro_spend_tags(ctx: MicroContext) -> list[dict[str, Any]]:
    name, target = "/spend/tags over 1,000,000 rows", "< 200 ms"
    auth = {"Authorization": f"Bearer {ctx.master_key}"}
    status, _, _ = http_request("GET", f"{ctx.gated.base}/spend/tags", headers=auth)
    if status == 404:
        ctx.extra["spend_tags"] = {"available": False, "note": NA_NOT_BUILT}
        return [na_row(name, target)]
    if ctx.args.quick:
        ctx.extra["spend_tags"] = {"available": False, "note": "skipped in bench-quick"}
        return [na_row(name, target, "skipped in bench-quick (run `make bench`)")]
    sys.path.insert(0, str(BENCH))
    import gen_spend  # gated's own write path: SpendRecord.to_row() → Store.insert_spend

    detail: dict[str, Any] = {}
    for attempt in (1, 2):
        t0 = time.perf_counter()
        if ctx.args.no_spend_cache:
            db = ctx.workdir / "spend-1m.db"
            db.unlink(missing_ok=True)
            stats: dict[str, Any] | None = gen_spend.generate(db, SPEND_ROWS, SPEND_DAYS, SPEND_SEED, quiet=True)
        else:
            db, stats = gen_spend.cached(SPEND_ROWS, SPEND_DAYS, SPEND_SEED)
        detail = {
            "available": True, "rows": SPEND_ROWS, "days": SPEND_DAYS, "tags": len(gen_spend.TAGS),
            "db_mb": db.stat().st_size / 2**20, "cached": stats is None, "prepare_s": time.perf_counter() - t0,
            "generated": stats, "db": "(temp dir)" if ctx.args.no_spend_cache else str(db), "queries": {}}
        mismatch = _time_spend_tags(ctx, db, auth, detail)
        if mismatch is None:
            break
        if stats is None and attempt == 1:   # a cached file from older roll-up code: rebuild it once
            print(f"bench: cached /spend/tags database disagrees with its rows ({mismatch}); rebuilding",
                  file=sys.stderr)
            for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                stale.unlink(missing_ok=True)
            continue
        raise BenchError(mismatch)
    ctx.extra["spend_tags"] = detail
    how = ("cached database" if stats is None else
           f"built this run: {stats['rows_per_s']:,.0f} rows/s through Store.insert_spend")
    return [{"name": f"{name} ({label})", "value": q["median_ms"], "unit": "ms", "baseline": None, "target": target,
             "pass": q["median_ms"] < T_SPEND_TAGS_MS,
             "note": f"median of 5 after one warm-up call ({q['first_ms']:.1f} ms), over HTTP; {q['tags']} tags, "
                     f"sums equal the rows; {how}"}
            for label, q in detail["queries"].items()]


ABLATION_SECONDS, ABLATION_SECONDS_QUICK = 3, 1   # per point in the per-feature ablations (wall time)
AUDIT_BLOCK = 50   # admin changes per instance before switching to the other one


def _audit_rows(db: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


@micro("audit log: time per admin change")
def micro_audit_cost(ctx: MicroContext) -> list[dict[str, Any]]:
    name = "audit log: time per admin change (POST /key/update)"
    if not ctx.features.on("audit") or not ctx.features.on("virtual_key"):
        ctx.extra["audit_cost"] = {"available": False, "note": NA_NOT_BUILT}
        return [na_row(name, "")]
    changes = 100 if ctx.args.quick else 500
    warmup = 20
    auth = {"Authorization": f"Bearer {ctx.master_key}"}
    instances: dict[str, dict[str, Any]] = {}
    try:
        for label, on in (("on", True), ("off", False)):
            config = json.loads(json.dumps(ctx.full_config))
            config["litellm_settings"]["store_audit_logs"] = on
            g = start_gated(f"gated-audit-{label}", config, ctx.workdir, ctx.gated_cpu, ctx.master_key)
            client = KeepAlive(g.base)
            status, body = client.request("POST", "/key/generate", {"key_alias": f"bench-audit-{label}"}, auth)
            if status != 200:
                raise BenchError(f"gated-audit-{label}: /key/generate answered {status}: {body[:300]!r}")
            instances[label] = {"gated": g, "client": client, "key": json.loads(body)["key"], "lat": [], "cpu": 0.0,
                                "n": 0}
        seq = 0

        def change(inst: dict[str, Any], label: str) -> float:
            nonlocal seq
            seq += 1
            t0 = time.perf_counter()
            status, body = inst["client"].request(
                "POST", "/key/update", {"key": inst["key"], "key_alias": f"bench-audit-{label}-{seq}"}, auth)
            elapsed = time.perf_counter() - t0
            if status != 200:
                raise BenchError(f"gated-audit-{label}: /key/update answered {status}: {body[:300]!r}")
            return elapsed

        for label, inst in instances.items():
            for _ in range(warmup):
                change(inst, label)
            inst["rows_before"] = _audit_rows(inst["gated"].db)   # gated may audit its own start (list seeding)
        for _ in range(changes // AUDIT_BLOCK):          # blocks interleaved, so drift hits both alike
            for label, inst in instances.items():
                pid = inst["gated"].proc.pid
                cpu0 = tree_cpu_seconds(pid)
                inst["lat"].extend(change(inst, label) for _ in range(AUDIT_BLOCK))
                inst["cpu"] += tree_cpu_seconds(pid) - cpu0
                inst["n"] += AUDIT_BLOCK
        out: dict[str, Any] = {"available": True, "changes_each": changes, "call": "POST /key/update (key_alias)",
                               "sequential": True}
        for label, inst in instances.items():
            lat = sorted(inst["lat"])
            out[label] = {"median_us": statistics.median(lat) * 1e6, "mean_us": statistics.fmean(lat) * 1e6,
                          "p90_us": lat[int(len(lat) * 0.9) - 1] * 1e6,
                          "cpu_us_per_change": inst["cpu"] * 1e6 / inst["n"]}
    finally:
        for inst in instances.values():
            inst["client"].close()
            inst["gated"].proc.stop()
    for label, inst in instances.items():   # stopped: the databases are quiet
        after = _audit_rows(inst["gated"].db)
        before = inst.get("rows_before")
        out[label]["audit_rows"] = None if after is None or before is None else after - before
    out["rows_ok"] = out["on"]["audit_rows"] == changes and out["off"]["audit_rows"] == 0
    if not out["rows_ok"]:
        raise BenchError(f"audit rows written by the timed changes: on={out['on']['audit_rows']} (expected "
                         f"{changes}), off={out['off']['audit_rows']} (expected 0)")
    out["diff"] = {k: out["on"][k] - out["off"][k] for k in ("median_us", "mean_us", "cpu_us_per_change")}
    ctx.extra["audit_cost"] = out
    return [{"name": name, "value": out["diff"]["median_us"], "unit": "µs", "baseline": out["off"]["median_us"],
             "target": "", "pass": None,
             "note": f"median latency with store_audit_logs true minus false, {changes} sequential changes each "
                     f"(baseline = false); gated CPU {out['diff']['cpu_us_per_change']:+.0f} µs/change"}]


@micro("10,000 banned keywords on a 100 kB prompt", "< 5 ms")
def micro_keywords(ctx: MicroContext) -> list[dict[str, Any]]:
    name, target = "10,000 banned keywords on a 100 kB prompt", "< 5 ms"
    if not ctx.features.on("banned_keywords"):
        return [na_row(name, target)]
    words = [f"kw{n:05d}x" for n in range(10_000)]
    filler = ("The quick brown fox jumps over the lazy dog while the bench counts every byte. " * 1400)[:100_000]
    body = {"model": "bench", "messages": [{"role": "user", "content": filler}], "max_tokens": 8}
    overhead: dict[str, float] = {}
    for label, guardrails in (("with", ("banned_keywords",)), ("without", ())):
        config = gated_config(ctx.upstream_base, ctx.master_key, guardrails, keywords=words)
        g = start_gated(f"gated-kw-{label}", config, ctx.workdir, ctx.gated_cpu, ctx.master_key)
        try:
            samples = []
            for _ in range(25):
                status, headers, resp = http_request("POST", f"{g.base}/v1/chat/completions", body,
                                                     {"Authorization": f"Bearer {ctx.master_key}"})
                if status != 200:
                    raise BenchError(f"keyword micro ({label}) answered {status}: {resp[:300]!r}")
                samples.append(float(headers.get("x-gated-overhead-ms", "nan")))
            overhead[label] = statistics.median(samples[5:])
        finally:
            g.proc.stop()
    cost = overhead["with"] - overhead["without"]
    return [{"name": name, "value": cost, "unit": "ms", "baseline": overhead["without"], "target": target,
             "pass": cost < T_KEYWORDS_MS,
             "note": "x-gated-overhead-ms median, 10k keywords minus no guardrail (baseline = overhead without)"}]


@micro("per-feature CPU cost (non-streaming, c=32)")
def micro_feature_costs(ctx: MicroContext) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rows.append(na_row("spend logging", "", "n/a (always on in gated; cannot be switched off to compare)"))
    if ctx.features.on("audit"):
        rows.append(na_row("audit log (per LLM request)", "",
                           "n/a (audit rows come from admin changes only; their cost is measured above)"))
    else:
        rows.append(na_row("audit log", ""))
    if ctx.features.on("metrics"):
        rows.append(na_row("metrics", "", "n/a (always on; cannot be switched off to compare)"))
    else:
        rows.append(na_row("metrics", ""))
    built = [g for g in GUARDRAILS if ctx.features.on(g)]
    for g in GUARDRAILS:
        if g not in built:
            rows.append(na_row(f"guardrail {g}", ""))
    if not built:
        return rows
    seconds = ABLATION_SECONDS_QUICK if ctx.args.quick else min(ctx.args.duration, ABLATION_SECONDS)
    full = ctx.gated.target("gated", ctx.upstream_pid)
    others: dict[str, Gated] = {}
    try:
        for g in built:   # all ablated instances up at once (idle ones cost nothing), sharing the full runs
            without = tuple(x for x in built if x != g)
            others[g] = launch_gated(f"gated-no-{g}", gated_config(ctx.upstream_base, ctx.master_key, without),
                                     ctx.workdir, ctx.gated_cpu, ctx.master_key)
        for o in others.values():
            use_virtual_key(wait_gated(o), ctx.features, ctx.master_key)
        ablated = {g: o.target(f"gated-no-{g}", ctx.upstream_pid) for g, o in others.items()}
        for t in ablated.values():
            if ctx.args.quick:
                warm_up(t)
            else:
                run_wrk(t, False, 32, 1, ctx.workdir, ctx.load_cpu)  # warm-up
        f_runs: list[dict[str, Any]] = []
        a_runs: dict[str, list[dict[str, Any]]] = {g: [] for g in ablated}
        for _ in range(ctx.args.runs):   # interleaved, so drift hits all alike
            f_runs.append(run_wrk(full, False, 32, seconds, ctx.workdir, ctx.load_cpu))
            for g, t in ablated.items():
                a_runs[g].append(run_wrk(t, False, 32, seconds, ctx.workdir, ctx.load_cpu))
    finally:
        stop_many([o.proc for o in others.values()])
    f = median_of(f_runs)
    for g in built:
        a = median_of(a_runs[g])
        rows.append({"name": f"guardrail {g}", "value": f["cpu_us_per_req"] - a["cpu_us_per_req"], "unit": "µs CPU/req",
                     "baseline": a["cpu_us_per_req"], "target": "", "pass": None,
                     "note": f"full bench config ({f['cpu_us_per_req']:.0f} µs) minus the same config without it "
                             f"(baseline = without); {ctx.args.runs}× {seconds} s at c=32, interleaved"})
    return rows


REMOTE_SECONDS, REMOTE_SECONDS_QUICK = 3, 1   # per point (one run each) in the remote-guardrail comparison
REMOTE_WARMUP = 20                            # sequential requests through each instance before timing
GUARD_MODEL = "omni-moderation-latest"
GUARD_ENDPOINT = "bench-llamaguard"
# What the remote guardrails read from the environment (SPEC §8): dummy keys for the stand-in, and no
# AWS/Google files or proxies from this machine (loopback only).
REMOTE_ENV = {"OPENAI_API_KEY": "sk-bench-guard", "LAKERA_API_KEY": "bench-lakera-key", "AWS_REGION": "us-east-1",
              "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
              "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def remote_guard_config(config: dict[str, Any], name: str, guard_base: str) -> dict[str, Any]:
    """`config` plus the remote guardrail `name`, its service pointed at the stand-in (README "### name")."""
    out = json.loads(json.dumps(config))
    ls = out["litellm_settings"]
    ls["callbacks"] = [*ls.get("callbacks", []), name]
    ls.update({
        "llmguard_moderations": {"llm_guard_api_base": guard_base, "llm_guard_mode": "all"},
        "openai_moderations": {"openai_moderations_api_base": f"{guard_base}/v1",
                               "openai_moderations_model_name": GUARD_MODEL},
        "lakera_prompt_injection": {"lakera_api_base": guard_base},
        "llamaguard_moderations": {"llamaguard_model_name": f"sagemaker/{GUARD_ENDPOINT}",
                                   "llamaguard_endpoint_url": guard_base},
        "google_text_moderation": {"google_moderation_api_endpoint": guard_base,
                                   "google_moderation_anonymous_credentials": True},
    }[name])
    out["callback_settings"] = {**out.get("callback_settings", {}), name: {"timeout": 5, "on_error": "fail_closed"}}
    return out


def _llamaguard_prompt() -> str:
    """The Llama Guard prompt gated sends for the bench request (gated's own builder when importable)."""
    try:
        from gated.guardrails.llamaguard_moderations import DEFAULT_CATEGORIES, build_prompt
        from gated.guardrails.text import Segment
        return build_prompt([Segment(role="user", text=PROMPT)], DEFAULT_CATEGORIES)
    except Exception:   # noqa: BLE001 - only the body size of the direct call depends on it
        return f"[INST] Task: ... {'categories ' * 150}\n\nUser: {PROMPT}\n\n[/INST]"


REMOTE_GUARDRAILS = ("llmguard_moderations", "openai_moderations", "lakera_prompt_injection",
                     "llamaguard_moderations", "google_text_moderation")


def remote_wire(name: str, guard_base: str) -> dict[str, Any]:
    """The stand-in service of a remote guardrail: its /stats counter, the call gated makes for the bench
    request (as described in gated's module and README), and that call's URL, key and body for wrk."""
    user = [{"role": "user", "content": PROMPT}]
    return {
        "llmguard_moderations": {"service": "llmguard", "call": "POST /analyze/prompt (aiohttp)",
                                 "url": f"{guard_base}/analyze/prompt", "key": None, "body": {"prompt": PROMPT}},
        "openai_moderations": {"service": "openai", "call": "POST /v1/moderations (aiohttp)",
                               "url": f"{guard_base}/v1/moderations", "key": REMOTE_ENV["OPENAI_API_KEY"],
                               "body": {"input": [PROMPT], "model": GUARD_MODEL}},
        "lakera_prompt_injection": {"service": "lakera", "call": "POST /v2/guard (aiohttp)",
                                    "url": f"{guard_base}/v2/guard", "key": REMOTE_ENV["LAKERA_API_KEY"],
                                    "body": {"messages": user, "breakdown": True}},
        "llamaguard_moderations": {"service": "sagemaker",
                                   "call": "boto3 sagemaker-runtime invoke_endpoint (worker thread)",
                                   "url": f"{guard_base}/endpoints/{GUARD_ENDPOINT}/invocations", "key": None,
                                   "body": {"inputs": _llamaguard_prompt(),
                                            "parameters": {"max_new_tokens": 32, "temperature": 0}}},
        "google_text_moderation": {"service": "google",
                                   "call": "google-cloud-language REST moderate_text (worker thread)",
                                   "url": f"{guard_base}/v2/documents:moderateText", "key": None,
                                   "body": {"document": {"type": "PLAIN_TEXT", "content": PROMPT}}},
    }[name]


def _guard_calls(guard_base: str) -> dict[str, int]:
    status, _, body = http_request("GET", f"{guard_base}/stats")
    if status != 200:
        raise BenchError(f"guardrail stand-in /stats answered {status}")
    return json.loads(body)


def _last_log_line(proc: Proc) -> str:
    lines = [ln for ln in proc.log_tail(8).splitlines() if ln.strip()]
    return lines[-1][-220:] if lines else f"exit {proc.popen.returncode}"


@micro("remote guardrails: added latency and CPU vs 0 ms stand-ins")
def micro_remote_guardrails(ctx: MicroContext) -> list[dict[str, Any]]:
    """Base = the §12 bench config; base + one remote guardrail per instance, all started together;
    non-streaming c=1 (p50, p99) and c=8 (req/s, CPU/request), one short run per point."""
    known = [g for g in REMOTE_GUARDRAILS if not ctx.remote_problems.get(g)]
    rows = [na_row(f"remote guardrail {g}", "") for g in REMOTE_GUARDRAILS if g not in known]
    quick = ctx.args.quick
    seconds = REMOTE_SECONDS_QUICK if quick else REMOTE_SECONDS
    concs = (1,) if quick else (1, 8)
    detail: dict[str, Any] = {"available": bool(known), "seconds": seconds, "runs": 1, "concs": list(concs),
                              "not_built": {g: ctx.remote_problems.get(g) for g in REMOTE_GUARDRAILS
                                            if g not in known},
                              "failed": {}, "base": {}, "guardrails": {}}
    ctx.extra["remote_guardrails"] = detail
    if not known:
        detail["note"] = NA_NOT_BUILT
        return rows
    env = {**REMOTE_ENV, "AWS_CONFIG_FILE": str(ctx.workdir / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(ctx.workdir / "no-aws-credentials")}
    instances: dict[str, Gated] = {}
    steps: dict[str, float] = {}
    mark = time.perf_counter()
    try:
        # all six start at once on gated's core, while the stand-in alone is timed on the load core
        instances["base"] = launch_gated("gated-rg-base", ctx.full_config, ctx.workdir, ctx.gated_cpu,
                                         ctx.master_key, env=env)
        for g in known:
            instances[g] = launch_gated(f"gated-rg-{g}", remote_guard_config(ctx.full_config, g, ctx.guard_base),
                                        ctx.workdir, ctx.gated_cpu, ctx.master_key, env=env)
        for g in known:
            wire = remote_wire(g, ctx.guard_base)
            body = ctx.workdir / f"guard-body-{g}.json"
            body.write_bytes(json.dumps(wire["body"]).encode())
            target = Target(f"stand-in/{g}", wire["url"], key=wire["key"], pid=ctx.guard_pid)
            res = run_wrk(target, False, 1, seconds, ctx.workdir, ctx.load_cpu, body=body)
            if res["errors"]:
                raise BenchError(f"guardrail stand-in ({g}): {res['errors']} errors on direct calls")
            detail["guardrails"][g] = {"call": wire["call"], "service": wire["service"], "standin_direct": res,
                                       "by_conc": {}}
        steps["launch + stand-in alone"], mark = time.perf_counter() - mark, time.perf_counter()
        targets: dict[str, Target] = {}
        for label, g_inst in instances.items():
            try:
                wait_gated(g_inst, 60)
                use_virtual_key(g_inst, ctx.features, ctx.master_key)
                target = g_inst.target("gated" if label == "base" else f"gated+{label}", ctx.upstream_pid)
                sanity(target)
                client = KeepAlive(g_inst.base)
                try:
                    for _ in range(REMOTE_WARMUP):
                        status, resp = client.request("POST", "/v1/chat/completions",
                                                      request_body(target.model, False), target.headers())
                        if status != 200:
                            raise BenchError(f"{target.name}: warm-up request answered {status}: {resp[:200]!r}")
                finally:
                    client.close()
            except BenchError as exc:
                if label == "base":
                    raise
                why = _last_log_line(g_inst.proc) if not g_inst.proc.alive() else str(exc).splitlines()[0][:220]
                detail["failed"][label] = why
                detail["guardrails"].pop(label, None)
                print(f"bench: remote guardrail {label} not measured: {why}", file=sys.stderr)
                g_inst.proc.stop()
                continue
            targets[label] = target
        steps["ready, sanity, warm-up"], mark = time.perf_counter() - mark, time.perf_counter()
        for conc in concs:   # instances interleaved at each concurrency, base first
            for label, target in targets.items():
                before = _guard_calls(ctx.guard_base)
                res = run_wrk(target, False, conc, seconds, ctx.workdir, ctx.load_cpu)
                after = _guard_calls(ctx.guard_base)
                if label == "base":
                    res["service_calls_per_req"] = sum(after.values()) - sum(before.values())
                    detail["base"][str(conc)] = res
                else:
                    svc = detail["guardrails"][label]["service"]
                    res["service_calls_per_req"] = (after[svc] - before[svc]) / max(res["requests"], 1)
                    detail["guardrails"][label]["by_conc"][str(conc)] = res
        steps["load"], mark = time.perf_counter() - mark, time.perf_counter()
    finally:
        stop_many([g.proc for g in instances.values()])
    steps["stop"] = time.perf_counter() - mark
    detail["steps_s"] = {k: round(v, 2) for k, v in steps.items()}
    cpu_conc = str(concs[-1])
    base = detail["base"]
    for g in known:
        if g in detail["failed"]:
            rows.append(na_row(f"remote guardrail {g}", "", f"not measured: {detail['failed'][g]}"))
            continue
        item = detail["guardrails"][g]
        one, cpu_point = item["by_conc"]["1"], item["by_conc"][cpu_conc]
        standin_p50 = item["standin_direct"]["p50_us"]
        item["added"] = {
            "p50_us_c1": one["p50_us"] - base["1"]["p50_us"],
            "p99_us_c1": one["p99_us"] - base["1"]["p99_us"],
            "p50_us_c1_minus_standin": one["p50_us"] - base["1"]["p50_us"] - standin_p50,
            "cpu_conc": int(cpu_conc),
            "cpu_us_per_req": (cpu_point["cpu_us_per_req"] - base[cpu_conc]["cpu_us_per_req"]
                               if cpu_point["cpu_us_per_req"] is not None
                               and base[cpu_conc]["cpu_us_per_req"] is not None else None),
            "rps": cpu_point["rps"] - base[cpu_conc]["rps"],
        }
        added = item["added"]
        rows.append({"name": f"remote guardrail {g}: added gated CPU (c={cpu_conc})", "value": added["cpu_us_per_req"],
                     "unit": "µs CPU/req", "baseline": base[cpu_conc]["cpu_us_per_req"], "target": "", "pass": None,
                     "note": f"added p50 at c=1 {added['p50_us_c1'] / 1000:+.3f} ms (stand-in alone "
                             f"{standin_p50 / 1000:.3f} ms); baseline = the same config without it; "
                             f"1× {seconds} s per point (see \"What each remote guardrail adds\")"})
    return rows


# --------------------------------------------------------------------------- the run


def gatectl_help(runs: int) -> dict[str, Any]:
    exe = BIN / "gatectl"
    if not exe.exists():
        return {"available": False}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run([str(exe), "--help"], capture_output=True, timeout=30)
        times.append((time.perf_counter() - t0) * 1000)
        if done.returncode != 0:
            return {"available": False, "error": f"exit {done.returncode}: {done.stderr.decode()[-300:]}"}
    floor = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, timeout=30)
        floor.append((time.perf_counter() - t0) * 1000)
    return {"available": True, "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
            "python_floor_ms": statistics.median(floor), "runs": runs}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    ncpu = len(os.sched_getaffinity(0))
    can_pin = shutil.which("taskset") is not None and ncpu >= 2 and not args.no_pin
    gated_cpu, load_cpu = (0, 1) if can_pin else (None, None)
    if can_pin:
        os.sched_setaffinity(0, {load_cpu})   # this script (TTFT client, probes) shares the load core
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (make bench installs it: apt-get install -y wrk)")
    calibration_ms = regression.calibrate(pin(gated_cpu), sys.executable)   # machine speed, for the guard
    workdir = Path(tempfile.mkdtemp(prefix="gate-bench-"))
    master_key = "sk-bench-" + secrets.token_urlsafe(24)
    features = Features()
    phases: dict[str, float] = {}
    result: dict[str, Any] = {"meta": {}, "features": {}, "load": {}, "ttft": {}, "memory": {}, "startup": {},
                              "gatectl": {}, "micro": [], "key_costs": {}, "spend_tags": {}, "audit_cost": {},
                              "remote_guardrails": {},
                              "spend_check": {}, "targets": []}
    try:
        # the stand-in
        up_port = free_port()
        upstream = spawn("upstream", [sys.executable, str(BENCH / "upstream.py"), "--port", str(up_port)],
                         workdir, load_cpu)
        upstream_ready = wait_ready(upstream, f"http://127.0.0.1:{up_port}/health", 15)
        upstream_base = f"http://127.0.0.1:{up_port}/v1"
        # the remote guardrails' services (all five in one 0 ms process; idle until their micro-benchmark)
        guard_port = free_port()
        guard = spawn("guard-standin", [sys.executable, str(BENCH / "guard_standin.py"), "--port", str(guard_port)],
                      workdir, load_cpu)
        guard_base = f"http://127.0.0.1:{guard_port}"
        wait_ready(guard, f"{guard_base}/health", 15)

        # feature detection: config-level features through gated's own validation
        # (one interpreter checks them all: the base config, each local guardrail, each remote one)
        probes = {"base": gated_config(upstream_base, master_key)}
        probes.update((g, gated_config(upstream_base, master_key, (g,))) for g in GUARDRAILS)
        probes.update((g, remote_guard_config(gated_config(upstream_base, master_key), g, guard_base))
                      for g in REMOTE_GUARDRAILS)
        probed = config_problems(probes, workdir)
        if probed["base"]:
            raise BenchError("the base bench config is refused by gated:\n  " + "\n  ".join(probed["base"]))
        guardrails: list[str] = []
        for g in GUARDRAILS:
            problems = probed[g]
            if problems:
                features.set(g, False, "feature not built: gated's config check says " + "; ".join(problems)[:160])
            else:
                guardrails.append(g)
                note = ("blocked_user_list: 3 ids (the bench user is not one)" if g == "blocked_user_check"
                        else "10 keywords, banned_keywords_check_output: false")
                features.set(g, True, note)
        full_cfg = gated_config(upstream_base, master_key, tuple(guardrails))
        features.set("spend_logging", True, "always on in gated (rows counted after the run)")
        features.set("one_worker", True, "--workers 1")

        # gated: start-to-ready of the main instance, then runtime feature detection
        gated = start_gated("gated", full_cfg, workdir, gated_cpu, master_key)
        ready_times = [gated.ready_s]
        time.sleep(0.5)
        rss_ready_kb, _ = tree_memory_kb(gated.proc.pid)
        detect_runtime_features(gated, features, master_key)
        up_rss_kb, _ = tree_memory_kb(upstream.pid)

        # the yardstick: a bare aiohttp pass-through on gated's core (SPEC §12 "about 160 µs")
        bare_port = free_port()
        bare = spawn("bare-aiohttp", [sys.executable, str(BENCH / "bare_proxy.py"), "--port", str(bare_port),
                                      "--upstream", upstream_base], workdir, gated_cpu)
        wait_ready(bare, f"http://127.0.0.1:{bare_port}/health", 15)
        time.sleep(0.3)
        bare_rss_kb, _ = tree_memory_kb(bare.pid)
        targets = [Target("direct", f"{upstream_base}/chat/completions", key=master_key, pid=upstream.pid),
                   Target(BARE, f"http://127.0.0.1:{bare_port}/v1/chat/completions", key=master_key, pid=bare.pid,
                          upstream_pid=upstream.pid, core=gated_cpu),
                   gated.target("gated", upstream.pid)]
        for spec in args.target:
            name, _, url = spec.partition("=")
            if not name or not url.startswith(("http://127.0.0.1:", "http://localhost:")):
                raise BenchError(f"--target {spec!r}: expected NAME=http://127.0.0.1:PORT/... (loopback only)")
            extra = Target(name, url, key=args.target_key.get(name), model=args.target_model.get(name, "bench"))
            if name in args.target_pid:
                extra.pid = int(args.target_pid[name])
            targets.append(extra)
        # what keys cost: the same gated with (a) the master key and (c) a key with budget + rpm limit,
        # next to the main target (b: a virtual key without limits); non-streaming c=1 and c=32 only
        key_targets = key_variant_targets(gated, features, master_key, upstream.pid)
        for target in targets + key_targets:
            sanity(target)

        phases["setup"] = time.perf_counter() - started
        mark = time.perf_counter()
        # load: non-streaming at 1/8/32 and streaming at 1/32, runs interleaved across targets
        concs = {"json": [1, 32] if args.quick else [1, 8, 32], "stream": [1, 32]}   # quick: no c=8 (time)
        samples: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for target in targets:      # warm-up (connection pools, caches); not measured
            if args.quick:          # quick: sequential requests instead of two 1 s wrk phases per target
                warm_up(target)
            else:
                run_wrk(target, False, 8, 1, workdir, load_cpu)
                run_wrk(target, True, 8, 1, workdir, load_cpu)
        # (key targets hit the same, already warm gated; sanity() above sent each its first request)
        for _ in range(args.runs):
            for mode, levels in concs.items():
                for conc in levels:
                    key_concs = KEY_CONCS_QUICK if args.quick else KEY_CONCS
                    extra = key_targets if mode == "json" and conc in key_concs else []
                    for target in targets + extra:
                        res = run_wrk(target, mode == "stream", conc, args.duration, workdir, load_cpu)
                        samples.setdefault((target.name, mode, conc), []).append(res)
        for (name, mode, conc), runs in samples.items():
            result["load"].setdefault(name, {}).setdefault(mode, {})[str(conc)] = median_of(runs)
        result["key_costs"] = key_costs(result["load"], features)

        phases["load"], mark = time.perf_counter() - mark, time.perf_counter()
        # time to first token
        ttft_targets = targets
        result["ttft"] = measure_ttft(ttft_targets, args.ttft_requests)

        # streaming with the output keyword check on
        if features.on("banned_keywords"):
            cfg = gated_config(upstream_base, master_key, tuple(guardrails), check_output=True)
            g2 = start_gated("gated-outcheck", cfg, workdir, gated_cpu, master_key)
            try:
                t2 = use_virtual_key(g2, features, master_key).target("gated+output-check", upstream.pid)
                sanity(t2)
                run_wrk(t2, True, 8, 1, workdir, load_cpu)
                runs = [run_wrk(t2, True, 32, args.duration, workdir, load_cpu) for _ in range(args.runs)]
                result["load"]["gated+output-check"] = {"stream": {"32": median_of(runs)}}
                result["ttft"].update(measure_ttft([targets[0], t2], args.ttft_requests))
            finally:
                g2.proc.stop()

        phases["ttft+output-check"], mark = time.perf_counter() - mark, time.perf_counter()
        # memory after load, with the process idle again
        time.sleep(1.0)
        rss_after_kb, hwm_kb = tree_memory_kb(gated.proc.pid)
        result["memory"] = {"gated_rss_ready_mb": rss_ready_kb / 1024,
                            "gated_rss_idle_after_load_mb": rss_after_kb / 1024,
                            "gated_peak_hwm_mb": hwm_kb / 1024, "upstream_rss_mb": up_rss_kb / 1024,
                            "bare_rss_mb": bare_rss_kb / 1024}

        # micro-benchmarks
        ctx = MicroContext(args, workdir, features, gated, master_key, upstream_base, upstream.pid, gated_cpu,
                           load_cpu, full_cfg, guard_base, guard.pid,
                           {g: probed[g] for g in REMOTE_GUARDRAILS})
        for m in MICROS:
            t_micro = time.perf_counter()
            result["micro"].extend(m.run(ctx))
            phases[f"micro: {m.name}"] = time.perf_counter() - t_micro
        mark = time.perf_counter()
        result["spend_tags"] = ctx.extra.get("spend_tags", {})
        result["audit_cost"] = ctx.extra.get("audit_cost", {})
        result["remote_guardrails"] = ctx.extra.get("remote_guardrails", {})

        # graceful stop, then every request must have left its spend row
        completed = sum(r["requests"] for t in ("gated", *(k.name for k in key_targets))
                        for mode in result["load"].get(t, {}).values() for r in mode.values())
        code = gated.proc.stop(grace=30)
        rows = spend_rows(gated.db)
        result["spend_check"] = {"gated_exit_code": code, "spend_rows": rows, "timed_requests_completed": completed,
                                 "ok": rows is not None and rows >= completed}

        # more cold starts for start-to-ready (fresh database each time)
        for i in range(args.starts - 1):
            g = start_gated(f"gated-start{i}", full_cfg, workdir, gated_cpu, master_key)
            ready_times.append(g.ready_s)
            g.proc.stop()
        result["startup"] = {"gated_ready_s": statistics.median(ready_times), "samples_s": ready_times,
                             "upstream_ready_s": upstream_ready}
        result["gatectl"] = gatectl_help(5)
        phases["spend check, starts, gatectl"] = time.perf_counter() - mark
    finally:
        stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result["features"] = {k: {"on": v[0], "note": v[1]} for k, v in features.state.items()}
    result["meta"] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "mode": "quick" if args.quick else "full",
        "runs": args.runs, "duration_s": args.duration, "ttft_requests": args.ttft_requests,
        "pinning": (f"gated on CPU {gated_cpu}; wrk, stand-in and TTFT client on CPU {load_cpu}" if can_pin
                    else "none (taskset missing, --no-pin, or one CPU)"),
        "cpus": ncpu, "python": platform.python_version(), "wrk": _wrk_version(), "git": _git_head(),
        "targets": [t.name for t in targets], "wall_s": round(time.perf_counter() - started, 1),
        "phases_s": {k: round(v, 1) for k, v in phases.items()}, "calibration_ms": round(calibration_ms, 3),
    }
    result["targets"] = judge(result)
    return result


def _wrk_version() -> str:
    try:
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
        return (done.stdout + done.stderr).split("Copyright")[0].strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _git_head() -> str:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=5)
        return done.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# --------------------------------------------------------------------------- judging and reporting


def _row(bar: str, value: float | None, unit: str, baseline: str, target: str, ok: bool | None,
         note: str = "") -> dict[str, Any]:
    return {"bar": bar, "value": value, "unit": unit, "baseline": baseline, "target": target, "pass": ok,
            "note": note}


def judge(r: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    load = r["load"]
    g, d = load["gated"], load["direct"]
    cpu = g["json"]["32"]["cpu_us_per_req"]
    rows.append(_row("gated CPU per request, non-streaming (c=32)", cpu, "µs",
                     f"stand-in {d['json']['32']['cpu_us_per_req']:.0f} µs", "≤ 250 µs", cpu <= T_CPU_NONSTREAM_US))
    cpu = g["stream"]["32"]["cpu_us_per_req"]
    rows.append(_row("gated CPU per request, streamed 8 chunks (c=32)", cpu, "µs",
                     f"stand-in {d['stream']['32']['cpu_us_per_req']:.0f} µs", "≤ 300 µs", cpu <= T_CPU_STREAM_US))
    bare = load.get(BARE, {}).get("json", {}).get("32", {}).get("cpu_us_per_req")
    if bare:   # the same figures on a machine where a bare aiohttp pass-through costs what SPEC §12 says
        factor = BARE_SPEC_US / bare
        for mode, label, limit in (("json", "non-streaming", T_CPU_NONSTREAM_US),
                                   ("stream", "streamed", T_CPU_STREAM_US)):
            cpu = g[mode]["32"]["cpu_us_per_req"]
            rows.append(_row(f"… {label}, scaled to SPEC's machine (× {BARE_SPEC_US:.0f} µs / bare aiohttp)",
                             cpu * factor, SCALED_US, f"bare aiohttp {bare:.0f} µs, gated {cpu / bare:.2f}× it",
                             f"≤ {limit:.0f} µs", cpu * factor <= limit))
    oc = load.get("gated+output-check")
    if oc:
        cpu = oc["stream"]["32"]["cpu_us_per_req"]
        # SPEC §12 runs the bench with the output check off and asks for this figure to be reported
        rows.append(_row("… with the output keyword check on", cpu, "µs",
                         f"stand-in {d['stream']['32']['cpu_us_per_req']:.0f} µs", "report (no bar)", None))
    else:
        rows.append(_row("… with the output keyword check on", None, "", "", "report", None, NA_NOT_BUILT))
    added = (g["json"]["1"]["p50_us"] - d["json"]["1"]["p50_us"]) / 1000
    rows.append(_row("added p50 latency, non-streaming (c=1)", added, "ms",
                     f"direct p50 {d['json']['1']['p50_us'] / 1000:.3f} ms", "≤ 0.5 ms", added <= T_ADDED_P50_MS))
    t = r["ttft"]
    added = t["gated"]["p50_ms"] - t["direct"]["p50_ms"]
    rows.append(_row("added time to first token p50", added, "ms", f"direct TTFT p50 {t['direct']['p50_ms']:.3f} ms",
                     "< 1 ms", added < T_ADDED_TTFT_MS))
    if "gated+output-check" in t:
        added = t["gated+output-check"]["p50_ms"] - t["direct"]["p50_ms"]
        rows.append(_row("… with the output keyword check on", added, "ms", "", "< 1 ms", added < T_ADDED_TTFT_MS))
    m = r["memory"]
    idle = max(m["gated_rss_ready_mb"], m["gated_rss_idle_after_load_mb"])
    rows.append(_row("gated idle RSS (worse of: at ready, idle after load)", idle, "MB",
                     f"stand-in {m['upstream_rss_mb']:.0f} MB"
                     + (f", bare aiohttp {m['bare_rss_mb']:.0f} MB" if "bare_rss_mb" in m else ""),
                     "≤ 60 MB", idle <= T_IDLE_RSS_MB))
    s = r["startup"]
    rows.append(_row("gated start to /health/readiness 200", s["gated_ready_s"], "s",
                     f"stand-in {s['upstream_ready_s']:.2f} s", "≤ 1 s", s["gated_ready_s"] <= T_READY_S))
    gc = r["gatectl"]
    if gc.get("available"):
        rows.append(_row("gatectl --help wall time (median of 5)", gc["median_ms"], "ms",
                         f"python -c pass {gc['python_floor_ms']:.0f} ms", "< 300 ms", gc["median_ms"] < T_GATECTL_MS))
    else:
        rows.append(_row("gatectl --help wall time (median of 5)", None, "", "", "< 300 ms", False,
                         gc.get("error", "gatectl not installed")))
    for mrow in r["micro"]:
        if mrow["target"]:
            base = "" if mrow["baseline"] is None else f"{mrow['baseline']:.3f} {mrow['unit']}"
            rows.append(_row(mrow["name"], mrow["value"], mrow["unit"], base, mrow["target"], mrow["pass"],
                             mrow["note"] if mrow["value"] is None else ""))
    return rows


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in ("ms", "s"):
        return f"{value:.3f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"
    return f"{value:.0f} {unit}" if abs(value) >= 10 else f"{value:.1f} {unit}"


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS ✅" if ok else "FAIL ❌")


def _noise_warning(r: dict[str, Any]) -> list[str]:
    others = [res["others_on_core_pct"] for name, per in r["load"].items() if name.startswith("gated")
              for mode in per.values() for res in mode.values() if res.get("others_on_core_pct") is not None]
    if not others or statistics.median(others) < NOISY_PCT:
        return []
    return [f"> **Warning: the machine was busy.** Other processes used a median {statistics.median(others):.0f} % "
            "of gated's core during its load phases (max " f"{max(others):.0f} %). CPU µs/request counts gated's "
            "own time only, but it too rises under contention (cold caches, less batching per wake-up), and req/s "
            "and latencies are disturbed; rerun on a quiet machine for figures to compare.", ""]


def markdown(r: dict[str, Any]) -> str:
    meta = r["meta"]
    out = [f"# gate bench — {meta['date']} ({meta['mode']})", "",
           f"git `{meta['git']}` · {meta['cpus']} CPUs · {meta['pinning']} · median of {meta['runs']} run(s) of "
           f"{meta['duration_s']} s per point · {meta['wrk']} · Python {meta['python']} · wall {meta['wall_s']} s", "",
           "time by phase: " + " · ".join(f"{k} {v:.0f} s" for k, v in meta.get("phases_s", {}).items()), "",
           *_noise_warning(r),
           *(regression.markdown(r["regression"]) if "regression" in r else []),
           "## SPEC §12 targets", "",
           "| bar | gated | direct baseline (same run) | target | result |", "|---|---:|---|---|---|"]
    for row in r["targets"]:
        value = _fmt(row["value"], row["unit"]) if row["value"] is not None else (row["note"] or "n/a")
        out.append(f"| {row['bar']} | {value} | {row['baseline']} | {row['target']} | {_mark(row['pass'])} |")
    out += ["", "## SPEC §12 bench configuration: features on/off", "", "| feature | on | note |", "|---|---|---|"]
    for name, f in r["features"].items():
        out.append(f"| {name} | {'on' if f['on'] else 'off'} | {f['note']} |")
    out += ["", "## Load (wrk, one connection per concurrency level, keep-alive)", "",
            "| mode | c | target | req/s | p50 | p99 | added p50 vs direct | server CPU µs/req | server CPU % "
            "| stand-in CPU µs/req | wake-ups of the load core /req | others on server's core | errors |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    load = r["load"]
    modes = [("json", "non-streaming"), ("stream", "streamed")]
    for mode, label in modes:
        concs = sorted({int(c) for t in load.values() for c in t.get(mode, {})})
        for conc in concs:
            direct = load["direct"].get(mode, {}).get(str(conc))
            for name, per in load.items():
                res = per.get(mode, {}).get(str(conc))
                if not res:
                    continue
                added = ("—" if name == "direct" or not direct
                         else f"{(res['p50_us'] - direct['p50_us']) / 1000:+.3f} ms")
                cpu = "n/a" if res["cpu_us_per_req"] is None else f"{res['cpu_us_per_req']:.0f}"
                up_cpu = res["upstream_cpu_us_per_req"]
                up = "—" if up_cpu is None or name == "direct" else f"{up_cpu:.0f}"
                util = "n/a" if res["cpu_util_pct"] is None else f"{res['cpu_util_pct']:.0f} %"
                others = "—" if res["others_on_core_pct"] is None else f"{res['others_on_core_pct']:.0f} %"
                wakes = res.get("load_core_wakeups_per_req")
                woken = "—" if wakes is None or name == "direct" else f"{wakes:.2f}"
                out.append(f"| {label} | {conc} | {name} | {res['rps']:.0f} | {res['p50_us'] / 1000:.3f} ms | "
                           f"{res['p99_us'] / 1000:.3f} ms | {added} | {cpu} | {util} | {up} | {woken} | {others} | "
                           f"{res['errors']} |")
    out += ["", "## Time to first token (sequential streamed requests, first `data:` chunk)", "",
            "| target | requests | p50 | p90 | min | added p50 vs direct | data events/stream |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for name, t in r["ttft"].items():
        added = "—" if name == "direct" else f"{t['p50_ms'] - r['ttft']['direct']['p50_ms']:+.3f} ms"
        out.append(f"| {name} | {t['requests']} | {t['p50_ms']:.3f} ms | {t['p90_ms']:.3f} ms | {t['min_ms']:.3f} ms | "
                   f"{added} | {t['data_events_per_stream']:.0f} |")
    m, s, gc = r["memory"], r["startup"], r["gatectl"]
    out += ["", "## Process", "", "| figure | value | reference |", "|---|---:|---|",
            f"| gated RSS at ready | {m['gated_rss_ready_mb']:.1f} MB | stand-in {m['upstream_rss_mb']:.1f} MB |",
            f"| gated RSS idle after load | {m['gated_rss_idle_after_load_mb']:.1f} MB | |",
            f"| gated peak RSS (VmHWM) | {m['gated_peak_hwm_mb']:.1f} MB | |",
            f"| gated start → ready (median of {len(s['samples_s'])}) | {s['gated_ready_s']:.3f} s | "
            f"samples {', '.join(f'{x:.3f}' for x in s['samples_s'])} s; stand-in {s['upstream_ready_s']:.3f} s |"]
    if gc.get("available"):
        out.append(f"| gatectl --help (median of {gc['runs']}) | {gc['median_ms']:.0f} ms | min {gc['min_ms']:.0f}, "
                   f"max {gc['max_ms']:.0f}; `python -c pass` {gc['python_floor_ms']:.0f} ms |")
    sc = r["spend_check"]
    out.append(f"| spend rows after SIGTERM | {sc['spend_rows']} | ≥ {sc['timed_requests_completed']} timed requests "
               f"completed through gated; exit {sc['gated_exit_code']} → {'ok' if sc['ok'] else 'ROWS MISSING'} |")
    out += key_costs_md(r.get("key_costs") or {})
    out += spend_tags_md(r.get("spend_tags") or {})
    out += audit_cost_md(r.get("audit_cost") or {})
    out += remote_guardrails_md(r.get("remote_guardrails") or {})
    out += ["", "## Micro-benchmarks and per-feature costs", "", "| item | value | baseline | target | result / note |",
            "|---|---:|---:|---|---|"]
    for row in r["micro"]:
        base = "" if row["baseline"] is None else _fmt(row["baseline"], row["unit"])
        note = row["note"] if row["pass"] is None else f"{_mark(row['pass'])} {row['note']}"
        out.append(f"| {row['name']} | {_fmt(row['value'], row['unit'])} | {base} | {row['target']} | {note} |")
    return "\n".join(out) + "\n"


def _us(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.0f} µs" if signed else f"{value:.0f} µs"


def key_costs_md(k: dict[str, Any]) -> list[str]:
    out = ["", "## What keys cost on the hot path (non-streaming, same gated, interleaved runs)", ""]
    if not k.get("available"):
        return out + [f"n/a: {k.get('note', 'not measured')}"]
    out += [f"(a) master key · (b) virtual key without budget or limits — **the main figures above** · (c) virtual "
            f"key with max_budget ${k['budget']:,.0f} and rpm_limit {k['rpm_limit']:,} (never refuses).", "",
            "| c | figure | (a) master | (b) virtual key | (c) key + budget + rpm | b−a: cost of virtual keys "
            "| c−a: cost of budget+rate-limit enforcement (with the key) | c−b: enforcement alone |",
            "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for conc, row in k["by_conc"].items():
        a, b, c = row["a_master"], row["b_virtual"], row["c_budget_rpm"]
        ba, ca, cb = row["b_minus_a"], row["c_minus_a"], row["c_minus_b"]
        out.append(f"| {conc} | gated CPU µs/req | {_us(a['cpu_us_per_req'])} | {_us(b['cpu_us_per_req'])} | "
                   f"{_us(c['cpu_us_per_req'])} | {_us(ba['cpu_us_per_req'], True)} | "
                   f"{_us(ca['cpu_us_per_req'], True)} | {_us(cb['cpu_us_per_req'], True)} |")
        out.append(f"| {conc} | p50 | {a['p50_us']:.0f} µs | {b['p50_us']:.0f} µs | {c['p50_us']:.0f} µs | "
                   f"{ba['p50_us']:+.0f} µs | {ca['p50_us']:+.0f} µs | {cb['p50_us']:+.0f} µs |")
        out.append(f"| {conc} | req/s | {a['rps']:.0f} | {b['rps']:.0f} | {c['rps']:.0f} | "
                   f"{ba['rps']:+.0f} | {ca['rps']:+.0f} | {cb['rps']:+.0f} |")
        noise = [x.get("others_on_core_pct") for x in (a, b, c)]
        if all(v is not None for v in noise):
            out.append(f"| {conc} | others on gated's core | {noise[0]:.0f} % | {noise[1]:.0f} % | {noise[2]:.0f} % "
                       f"| | | |")
    errors = sum(row[x]["errors"] for row in k["by_conc"].values() for x in ("a_master", "b_virtual", "c_budget_rpm"))
    if errors:
        out += ["", f"**{errors} errors/non-2xx answers during these phases: the figures are not comparable.**"]
    return out


def spend_tags_md(st: dict[str, Any]) -> list[str]:
    out = ["", "## /spend/tags over 1,000,000 logged requests", ""]
    if not st.get("available"):
        return out + [f"n/a: {st.get('note', 'not measured')}"]
    gen = st["generated"]
    made = (f"cached database ({st['db_mb']:.0f} MB, found in {st['prepare_s']:.1f} s)" if gen is None else
            f"built this run through `Store.insert_spend`: {gen['rows']:,} rows in {gen['insert_s']:.1f} s "
            f"({gen['rows_per_s']:,.0f} rows/s), roll-up check {gen['rollup_check']}, {st['db_mb']:.0f} MB")
    out += [f"{st['rows']:,} spend rows over {st['days']} days, {st['tags']} tags (0–3 per row); {made}.", "",
            "| query | median of 5 | first call | tags | tagged successful rows (from spend_log_tags) | answer = rows "
            "| target |", "|---|---:|---:|---:|---:|---|---|"]
    for label, q in st["queries"].items():
        ok = q["median_ms"] < T_SPEND_TAGS_MS
        out.append(f"| {label} `{q['query']}` | {q['median_ms']:.1f} ms | {q['first_ms']:.1f} ms | {q['tags']} | "
                   f"{q['tagged_rows']:,} | {'yes' if q['matches_rows'] else 'NO'} | < 200 ms {_mark(ok)} |")
    return out


def audit_cost_md(a: dict[str, Any]) -> list[str]:
    out = ["", "## What the audit log costs (admin changes)", ""]
    if not a.get("available"):
        return out + [f"n/a: {a.get('note', 'not measured')}"]
    out += [f"{a['changes_each']} sequential `{a['call']}` calls on each of two gated instances (same config, "
            f"store_audit_logs true / false), in interleaved blocks of {AUDIT_BLOCK}, one keep-alive connection; "
            f"audit rows the timed changes wrote: {a['on']['audit_rows']} / {a['off']['audit_rows']}.", "",
            "| store_audit_logs | median per change | mean | p90 | gated CPU per change |", "|---|---:|---:|---:|---:|"]
    for label in ("on", "off"):
        x = a[label]
        out.append(f"| {'true' if label == 'on' else 'false'} | {x['median_us']:.0f} µs | {x['mean_us']:.0f} µs | "
                   f"{x['p90_us']:.0f} µs | {x['cpu_us_per_change']:.0f} µs |")
    d = a["diff"]
    out.append(f"| **cost of the audit row** (true − false) | {d['median_us']:+.0f} µs | {d['mean_us']:+.0f} µs | | "
               f"{d['cpu_us_per_change']:+.0f} µs |")
    return out


def remote_guardrails_md(rg: dict[str, Any]) -> list[str]:
    out = ["", "## What each remote guardrail adds (0 ms stand-in services, non-streaming)", ""]
    if not rg.get("available"):
        return out + [f"n/a: {rg.get('note', 'not measured')}"]
    concs, seconds = rg["concs"], rg["seconds"]
    cpu_c = concs[-1]
    out += [f"Six gated instances started together, each with a fresh database and a virtual key without "
            f"limits: **base** = the SPEC §12 bench config (blocked_user_check + banned_keywords, spend, audit, "
            f"metrics) and base + one remote guardrail, its service answered at once by `bench/guard_standin.py` "
            f"on the load core. **One run of {seconds} s per point** (short, to keep the bench short: single "
            f"points, read them with the noise column), instances interleaved, base first. "
            f"**stand-in alone** = wrk straight at the stand-in with the body gated sends, c=1: the "
            f"service's own round trip. **added p50** = gated+guardrail p50 − base p50 at c=1; "
            f"**− stand-in** subtracts that round trip (what gated spends around the call). "
            f"**added CPU** = gated CPU µs/request (its threads included) − base's, at c={cpu_c}"
            + ("" if 8 in concs else " (bench-quick: c=1 only; `make bench` adds c=8)") + ".", ""]
    head = ["guardrail", "service call", "stand-in alone p50", "c=1 p50", "c=1 p99", "added p50 (c=1)",
            "added p50 − stand-in", "c=1 CPU µs/req"]
    if 8 in concs:
        head += ["c=8 req/s", "c=8 CPU µs/req"]
    head += [f"added CPU µs/req (c={cpu_c})", "service calls/req", "others on gated's core", "errors"]
    out += ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    base = rg["base"]

    def cells(res_by_c: dict[str, Any]) -> list[str]:
        one = res_by_c["1"]
        row = [f"{one['p50_us'] / 1000:.3f} ms", f"{one['p99_us'] / 1000:.3f} ms"]
        return row

    def tail(res_by_c: dict[str, Any]) -> list[str]:
        row = [_us(res_by_c["1"]["cpu_us_per_req"]).removesuffix(" µs")]
        if 8 in concs:
            row += [f"{res_by_c['8']['rps']:.0f}", _us(res_by_c["8"]["cpu_us_per_req"]).removesuffix(" µs")]
        return row

    def noise(res_by_c: dict[str, Any]) -> str:
        vals = [r["others_on_core_pct"] for r in res_by_c.values() if r.get("others_on_core_pct") is not None]
        return "—" if not vals else " / ".join(f"{v:.0f} %" for v in vals)

    def errors(res_by_c: dict[str, Any]) -> str:
        return str(sum(r["errors"] for r in res_by_c.values()))

    out.append("| " + " | ".join(["**base** (no remote guardrail)", "—", "—", *cells(base), "—", "—", *tail(base),
                                   "—", "—", noise(base), errors(base)]) + " |")
    for name, item in rg["guardrails"].items():
        by, added = item["by_conc"], item["added"]
        out.append("| " + " | ".join([
            f"`{name}`", item["call"], f"{item['standin_direct']['p50_us'] / 1000:.3f} ms", *cells(by),
            f"{added['p50_us_c1'] / 1000:+.3f} ms", f"{added['p50_us_c1_minus_standin'] / 1000:+.3f} ms", *tail(by),
            _us(added["cpu_us_per_req"], True).removesuffix(" µs"),
            " / ".join(f"{r['service_calls_per_req']:.2f}" for r in by.values()), noise(by), errors(by)]) + " |")
    for name, why in rg.get("failed", {}).items():
        out.append(f"| `{name}` | not measured: {why} |" + " |" * (len(head) - 2))
    for name, problems in rg.get("not_built", {}).items():
        out.append(f"| `{name}` | {NA_NOT_BUILT}: {'; '.join(problems or [])[:160]} |" + " |" * (len(head) - 2))
    if len(concs) > 1:
        out += ["", "service calls/req and others on gated's core: c=" + " / c=".join(map(str, concs)) + "."]
    return out


def write_results(r: dict[str, Any], out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = markdown(r)
    stamp = r["meta"]["date"].replace(":", "").replace("-", "")
    suffix = "-quick" if r["meta"]["mode"] == "quick" else ""
    for name in ("latest", f"{stamp}{suffix}"):
        (out_dir / f"{name}.md").write_text(md)
        (out_dir / f"{name}.json").write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
    return md


# --------------------------------------------------------------------------- entry point


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, val = v.partition("=")
        if not sep or not name:
            raise SystemExit(f"{flag} {v!r}: expected NAME=VALUE")
        out[name] = val
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="gate's benchmark (SPEC §12): gated next to a direct baseline")
    p.add_argument("--quick", action="store_true", help="1 run, short phases (bench-quick)")
    p.add_argument("--runs", type=int, help="runs per load point (median); default 3, quick 1")
    p.add_argument("--duration", type=int, help="seconds per load point; default 5, quick 2")
    p.add_argument("--ttft-requests", type=int, help="streamed requests per target for TTFT; default 200, quick 100")
    p.add_argument("--starts", type=int, help="cold starts for start-to-ready; default 3, quick 1")
    p.add_argument("--target", action="append", default=[], metavar="NAME=URL",
                   help="another OpenAI-compatible chat completions URL on loopback, measured like gated")
    p.add_argument("--target-key", action="append", default=[], metavar="NAME=KEY", help="Bearer key for a --target")
    p.add_argument("--target-model", action="append", default=[], metavar="NAME=MODEL",
                   help="model name for a --target (default: bench)")
    p.add_argument("--target-pid", action="append", default=[], metavar="NAME=PID",
                   help="process whose tree's CPU time is charged to a --target")
    p.add_argument("--out", type=Path, default=BENCH / "results")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument("--no-spend-cache", action="store_true",
                   help="build the 1M-row /spend/tags database in the temp dir instead of the cache (~1 min)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs, databases)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a SPEC §12 target fails")
    p.add_argument("--no-regression-check", action="store_true",
                   help="report, but do not fail on, figures >15%% worse than the committed results")
    p.add_argument("--time-limit", type=int, help="watchdog in seconds; default 900, quick 180")
    args = p.parse_args(argv)
    quick = args.quick
    args.runs = args.runs or (1 if quick else 3)
    args.duration = args.duration or (2 if quick else 5)
    args.ttft_requests = args.ttft_requests or (100 if quick else 200)
    args.starts = args.starts or (1 if quick else 3)
    args.time_limit = args.time_limit or (180 if quick else 900)
    args.target_key = _pairs(args.target_key, "--target-key")
    args.target_model = _pairs(args.target_model, "--target-model")
    args.target_pid = _pairs(args.target_pid, "--target-pid")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    def on_alarm(_signum: int, _frame: object) -> None:
        raise BenchError(f"the bench ran over its {args.time_limit} s limit")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.time_limit)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.alarm(0)
        stop_all()
    result["regression"] = regression.compare(result, regression.committed_results(ROOT))
    print(write_results(result, args.out))
    print(f"bench: wrote {args.out / 'latest.md'} and {args.out / 'latest.json'}")
    failed = [row["bar"] for row in result["targets"] if row["pass"] is False]
    if not result["spend_check"]["ok"]:
        print("bench: error: spend rows missing after SIGTERM", file=sys.stderr)
        return 1
    check = result["regression"]
    if not check["compared"]:
        print(f"bench: regression guard: {check['why']}", file=sys.stderr)
    elif check["regressions"] and not args.no_regression_check:
        print("bench: error: regressed by more than 15% against the committed results: "
              + "; ".join(check["regressions"]), file=sys.stderr)
        return 1
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
