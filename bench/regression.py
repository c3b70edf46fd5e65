"""The regression guard of `make bench`: this run's SPEC §12 figures against the committed results.

A figure regresses when it is more than 15% worse than the committed one (every §12 figure is
"lower is better"), after two allowances for a different or busier machine:
- time figures (µs, ms, s) are first scaled by the machine-speed ratio, so a machine 10% slower
  than the one that produced the committed results is allowed 10% more. CPU per request (µs)
  is scaled both ways; wall-clock figures (latencies, start-up, `gatectl --help`, in ms and s)
  only up: the ratio is measured on CPU work, which predicts their slowing down on a busier
  machine but not their speeding up (a 19% "faster" reading once held `gatectl --help`, a
  process start dominated by imports from disk, to 144 ms where it had taken 178). The ratio is the bare
  aiohttp pass-through's CPU per request (non-streaming, c=32) now / then: the same kind of work
  as gated's (system calls, aiohttp), measured between gated's own points. Only when a run lacks
  it, a fixed pure-Python workload timed on gated's core (`calibrate`): on this VM that workload
  once said "43% faster" while the pass-through ran 46% slower, because system calls, not
  bytecode, took the extra time;
- a change smaller than the noise floor of its unit (NOISE_FLOOR) is never a regression: a
  0.8 ms figure moving by 0.1 ms is scheduling noise, not code. A process start timed in ms
  (`gatectl --help`) has a floor of its own (BAR_NOISE_FLOOR): on this VM it spread from 170 to
  305 ms between runs of the same code.
Figures "scaled to SPEC's machine" are not compared: each is the ratio of two figures of the run
(gated's CPU and the bare pass-through's), so it carries the noise of both, and the first is
compared already.
Only runs of the same mode are compared (a quick run's 2 s points against a full run's medians
would be noise). The committed results are read from git HEAD, not from the working tree, which
an earlier uncommitted run may have overwritten.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

TOLERANCE = 0.15
NOISE_FLOOR = {"µs": 15.0, "ms": 0.15, "s": 0.1, "MB": 2.0}
BAR_NOISE_FLOOR = {"gatectl --help": 50.0}   # bar name prefix -> floor, in the bar's unit
DERIVED_UNIT = "µs (scaled)"                  # ratios of two figures of the run: not compared
TIME_UNITS = ("µs", "ms", "s")
CPU_UNIT = "µs"          # CPU per request: scaled by the machine-speed ratio both ways
BARE = "bare-aiohttp"   # bench/run.py's name for the bare aiohttp pass-through

# A fixed workload of the kind gated's hot path does (dicts, strings, JSON); run in its own
# interpreter on gated's core; the figure is the best of several repetitions, in ms.
CALIBRATION = """
import json, time
doc = {"model": "bench", "messages": [{"role": "user", "content": "hello " * 20}], "max_tokens": 16}
best = float("inf")
for _ in range(7):
    t = time.perf_counter()
    for i in range(4000):
        doc["user"] = f"user-{i}"
        json.loads(json.dumps(doc)).get("messages")[0]["content"].split()
    best = min(best, time.perf_counter() - t)
print(best * 1000)
"""


def calibrate(pin: list[str], python: str) -> float:
    """Machine speed now: ms for the calibration workload on the pinned core (lower = faster)."""
    done = subprocess.run([*pin, python, "-c", CALIBRATION], capture_output=True, text=True, timeout=60, check=True)
    return float(done.stdout.strip())


def committed_results(root: Path, rel: str = "bench/results/latest.json") -> dict[str, Any] | None:
    try:
        done = subprocess.run(["git", "-C", str(root), "show", f"HEAD:{rel}"], capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return None


def compare(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """{"compared": bool, "why": str, "speed_ratio": float|None, "rows": [...], "regressions": [bar, ...]}"""
    out: dict[str, Any] = {"compared": False, "why": "", "speed_ratio": None, "rows": [], "regressions": []}
    if before is None:
        out["why"] = "no committed bench/results/latest.json to compare with"
        return out
    if before.get("meta", {}).get("mode") != now["meta"]["mode"]:
        out["why"] = (f"the committed results are of a {before.get('meta', {}).get('mode')} run, this is a "
                      f"{now['meta']['mode']} run: not compared")
        return out
    speed, measure = machine_speed(now, before)
    out.update(compared=True, speed_ratio=speed, speed_measure=measure,
               why=f"against git {before['meta'].get('git', '?')} ({before['meta'].get('date', '?')})")
    previous = {row["bar"]: row for row in before.get("targets", [])}
    for row in now["targets"]:
        old = previous.get(row["bar"])
        if (old is None or old["value"] is None or row["value"] is None or old["unit"] != row["unit"]
                or row["unit"] == DERIVED_UNIT):
            continue
        unit = row["unit"]
        allowed = old["value"] * (speed if unit == CPU_UNIT else max(speed, 1.0) if unit in TIME_UNITS else 1.0)
        # the noise floor counts from the figure as committed: on a faster machine the scaled
        # allowance shrinks, and a 0.04 ms wobble of a 0.7 ms figure must still pass
        limit = max(allowed * (1 + TOLERANCE), max(allowed, old["value"]) + noise_floor(row["bar"], unit))
        worse = row["value"] > limit
        out["rows"].append({"bar": row["bar"], "unit": unit, "committed": old["value"], "allowed": limit,
                            "now": row["value"], "change_pct": _pct(row["value"], old["value"]), "regressed": worse})
        if worse:
            out["regressions"].append(row["bar"])
    return out


def noise_floor(bar: str, unit: str) -> float:
    return next((floor for prefix, floor in BAR_NOISE_FLOOR.items() if bar.startswith(prefix)),
                NOISE_FLOOR.get(unit, 0.0))


def _bare_cpu(results: dict[str, Any]) -> float | None:
    return results.get("load", {}).get(BARE, {}).get("json", {}).get("32", {}).get("cpu_us_per_req")


def machine_speed(now: dict[str, Any], before: dict[str, Any]) -> tuple[float, str]:
    """(this machine's slowness now / then, what measured it); see the module's docstring."""
    bare_now, bare_then = _bare_cpu(now), _bare_cpu(before)
    if bare_now and bare_then:
        return bare_now / bare_then, "the bare aiohttp pass-through's CPU per request in both runs"
    then_cal, now_cal = before["meta"].get("calibration_ms"), now["meta"].get("calibration_ms")
    if then_cal and now_cal:
        return now_cal / then_cal, "calibration workload on gated's core"
    return 1.0, "not measured"


def _pct(now: float, then: float) -> float | None:
    return (now - then) / abs(then) * 100 if then else None


def markdown(check: dict[str, Any]) -> list[str]:
    out = ["## Regression guard (against the committed results)", ""]
    if not check["compared"]:
        return [*out, f"Not compared: {check['why']}.", ""]
    out += [f"Compared {check['why']}. Machine slowness now / then ({check.get('speed_measure', '?')}): "
            f"{check['speed_ratio']:.2f}; time figures of the committed run are scaled by it. A figure fails when "
            f"it is more than {TOLERANCE:.0%} worse and beyond its unit's noise floor "
            f"({', '.join(f'{v:g} {k}' for k, v in NOISE_FLOOR.items())}; "
            f"{', '.join(f'{bar}: {v:g}' for bar, v in BAR_NOISE_FLOOR.items())}). Figures scaled to SPEC's "
            "machine are not compared (ratios of two figures of the run).", "",
            "| bar | committed | allowed | now | change | result |", "|---|---:|---:|---:|---:|---|"]
    for row in check["rows"]:
        change = "" if row["change_pct"] is None else f"{row['change_pct']:+.0f} %"
        out.append(f"| {row['bar']} | {row['committed']:.3f} {row['unit']} | {row['allowed']:.3f} {row['unit']} | "
                   f"{row['now']:.3f} {row['unit']} | {change} | {'REGRESSED ❌' if row['regressed'] else 'ok'} |")
    return [*out, ""]


if __name__ == "__main__":   # the calibration alone, e.g. to see how steady it is on this machine
    import sys
    start = time.perf_counter()
    print(f"{calibrate([], sys.executable):.2f} ms (took {time.perf_counter() - start:.1f} s)")
