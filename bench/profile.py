"""Where gated's CPU goes per request, by stage: py-spy samples gated under the bench load.

    make bench-profile                       # non-streaming, c=8, 10 s
    make bench-profile PROFILE_ARGS="--stream --seconds 20"

Starts the 0 ms stand-in (bench/upstream.py) and one gated worker with the SPEC §12 bench config
(the same config, virtual key and pinning as `make bench`), warms it, then runs wrk while
`py-spy record --format raw` samples gated. Every sample is charged to one stage: walking its stack
from the innermost frame outwards, the first frame that matches a STAGES rule decides (so a call
into the upstream transport from gated's provider code counts as the upstream client, and a stdlib frame
called from gated's spend writer counts as the writer). A stage's µs per request = its share of
the samples × gated's measured CPU µs per request in the same window. py-spy stops the process to
sample it, so the total is a few % above what `make bench` reports; compare shares, not totals.
Findings and before/after figures: bench/PROFILE.md. Loopback only; bounded by --seconds.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import run as bench

# (substring of the frame's file path, stage): the first match from the innermost frame wins
STAGES: tuple[tuple[str, str], ...] = (
    ("gated/spend/writer.py", "spend writer (batched SQLite inserts)"),
    ("gated/store/", "spend writer (batched SQLite inserts)"),
    ("sqlite3/", "spend writer (batched SQLite inserts)"),
    ("gated/spend/", "spend record (cost, row building)"),
    ("gated/auth.py", "auth + key lookup (Directory)"),
    ("gated/directory.py", "auth + key lookup (Directory)"),
    ("gated/limits.py", "auth + key lookup (Directory)"),
    ("gated/routing/", "routing (deployment choice, lease)"),
    ("gated/guardrails/", "guardrails (blocked user, keywords)"),
    ("prometheus_client/", "metrics"),
    ("gated/web/metrics.py", "metrics"),
    ("logging/", "access log"),
    ("gated/logs.py", "access log"),
    ("aiohttp/client", "aiohttp client (remote guardrails only)"),
    ("aiohttp/connector.py", "aiohttp client (remote guardrails only)"),
    ("gated/providers/transport.py", "upstream client (gated.providers.transport, httptools)"),
    ("httptools/", "upstream client (gated.providers.transport, httptools)"),
    ("gated/providers/", "gated provider code (upstream request/response)"),
    ("gated/proxy/", "gated proxy handler (parse, forward rules, relay)"),
    ("gated/middlewares.py", "gated middlewares (context, errors, role check)"),
    ("gated/turns.py", "end-of-turn writes (gated.turns)"),
    ("gated/", "gated other"),
    ("aiohttp/", "aiohttp server (HTTP parse, response)"),
    ("yarl/", "aiohttp server (HTTP parse, response)"),
    ("multidict/", "aiohttp server (HTTP parse, response)"),
    ("asyncio/", "event loop (uvloop, asyncio tasks)"),
    ("uvloop/", "event loop (uvloop, asyncio tasks)"),
)
OTHER = "other (interpreter, GC, unattributed)"
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def stage_of(stack: list[str]) -> str:
    for frame in reversed(stack):          # innermost first
        m = FRAME.match(frame)
        if m is None:
            continue
        path = m["file"].replace("\\", "/")
        for needle, stage in STAGES:
            if needle in path:
                return stage
    return OTHER


def stage_samples(raw: str) -> collections.Counter[str]:
    """py-spy's raw (collapsed) output: `frame;frame;... count` per line."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack.split(";"))] += int(count)
    return counts


def profile(args: argparse.Namespace) -> dict:
    if shutil.which("py-spy") is None and not (bench.BIN / "py-spy").exists():
        raise bench.BenchError("py-spy is not installed (make bench-profile installs the bench extras)")
    py_spy = str(bench.BIN / "py-spy") if (bench.BIN / "py-spy").exists() else "py-spy"
    workdir = Path(tempfile.mkdtemp(prefix="gate-profile-"))
    gated_cpu, load_cpu = (0, 1) if shutil.which("taskset") else (None, None)
    master_key = "sk-profile-master"
    try:
        port = bench.free_port()
        upstream = bench.spawn("upstream", [sys.executable, str(bench.BENCH / "upstream.py"), "--port", str(port)],
                               workdir, load_cpu)
        bench.wait_ready(upstream, f"http://127.0.0.1:{port}/health", 15)
        config = bench.gated_config(f"http://127.0.0.1:{port}/v1", master_key, bench.GUARDRAILS)
        gated = bench.start_gated("gated", config, workdir, gated_cpu, master_key)
        status, _, body = bench.http_request("POST", f"{gated.base}/key/generate", {},
                                             {"Authorization": f"Bearer {master_key}"})
        if status != 200:
            raise bench.BenchError(f"POST /key/generate answered {status}")
        gated.key = json.loads(body)["key"]
        target = gated.target("gated", upstream.pid)
        bench.warm_up(target, 200)
        raw_path = workdir / "profile.raw"
        spy = subprocess.Popen([py_spy, "record", "--pid", str(gated.proc.pid), "--rate", str(args.rate),
                                "--format", "raw", "--output", str(raw_path), "--duration", str(args.seconds + 2),
                                "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        load = bench.run_wrk(target, args.stream, args.conc, args.seconds, workdir, load_cpu)
        _, err = spy.communicate(timeout=args.seconds + 60)
        if not raw_path.exists():
            raise bench.BenchError(f"py-spy wrote nothing ({spy.returncode}): {err.decode(errors='replace')[-400:]}")
        counts = stage_samples(raw_path.read_text())
        if args.keep_raw:
            shutil.copy(raw_path, args.keep_raw)
    finally:
        bench.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    total = sum(counts.values()) or 1
    cpu = load["cpu_us_per_req"]
    return {"mode": "streamed" if args.stream else "non-streaming", "conc": args.conc, "seconds": args.seconds,
            "requests": load["requests"], "cpu_us_per_req": cpu, "samples": total,
            "stages": [{"stage": s, "share": n / total, "us_per_req": n / total * cpu}
                       for s, n in counts.most_common()]}


def markdown(p: dict) -> str:
    out = [f"{p['mode']}, c={p['conc']}, {p['seconds']} s: {p['requests']} requests, gated "
           f"{p['cpu_us_per_req']:.0f} µs CPU/request (under py-spy), {p['samples']} samples", "",
           "| stage | share | µs/request |", "|---|---:|---:|"]
    out += [f"| {s['stage']} | {s['share']:.1%} | {s['us_per_req']:.0f} |" for s in p["stages"]]
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description="gated's CPU per request by stage (py-spy under wrk load)")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--conc", type=int, default=8)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--keep-raw", type=Path, help="copy py-spy's collapsed stacks here (for a flame graph)")
    args = p.parse_args()
    try:
        print(markdown(profile(args)))
    except bench.BenchError as exc:
        print(f"profile: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
