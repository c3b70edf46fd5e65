"""Fill a gated database with N synthetic spend rows (default 1,000,000) for the `/spend/tags`
micro-benchmark (SPEC §12), through gated's own write path: the schema comes from gated's
migrations (`migrate(path)`), every row is a `gated.spend.record.SpendRecord(...).to_row()` and
rows are written with `gated.store.store.Store.insert_spend` in batches -- the same call, one
transaction per batch, that gated's SpendWriter makes. So `spend_logs`, `spend_log_tags` and the
daily roll-ups (`spend_daily`, `spend_tag_daily`, which `/spend/tags` reads) are written exactly as
gated writes them, and at the end the generator checks that the roll-up sums equal the row sums.

    .venv/bin/python bench/gen_spend.py /tmp/spend.db [--rows 1000000] [--days 90] [--seed 1]
    .venv/bin/python bench/gen_spend.py --cached [--rows N]   # path of the cached database (built if missing)

Deterministic for a given seed. Rows are spread uniformly, in time order (as a log grows), over
`--days` days ending 2026-11-30, carry 0-3 tags (mean 1.5) from a pool of 50; ~95 % succeed,
~3 % are rejected by a guardrail and ~2 % are upstream errors (both: no usage, cost 0). Only
`end_time` is set after `to_row()` (to_row stamps "now"; a history wants start + duration).
Measured here: ~15,000 rows/s (1M rows in ~65 s, ~800 MB), with a 256 MB page cache on the
connection and rows in time order.

Cache (`--cached`, used by bench/run.py): `$XDG_CACHE_HOME/gate-bench/` (default ~/.cache), one
file named by a hash of the schema version (gated/store/migrations.py) and this file, plus
rows/days/seed. A change to either builds a new file and deletes the old ones. A file is
complete only once renamed into place. gated is started on the cached file itself (its start may
add admin rows, e.g. the config's keyword lists; spend rows are never added). `--no-spend-cache`
in run.py (builds in its temp dir instead), or deleting the directory, forces a rebuild.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gated.pricing import Price  # noqa: E402
from gated.spend.record import ERROR, REJECTED, SUCCESS, SpendRecord, iso  # noqa: E402
from gated.store.store import Store, migrate  # noqa: E402

TAGS = ([f"team-{i:02d}" for i in range(20)] + [f"feature-{c}" for c in "abcdefghijklmnopqrst"]
        + ["prod", "staging", "batch", "interactive", "eval", "chatbot", "search", "summarise", "translate", "agent"])
assert len(TAGS) == 50
MODELS = [("gpt-4o", "openai/gpt-4o", Price(2.5e-6, 1e-5)), ("gpt-4o-mini", "openai/gpt-4o-mini", Price(1.5e-7, 6e-7)),
          ("llama3", "openai/llama3", Price(2e-7, 2e-7))]
END_DAY = dt.date(2026, 12, 1)     # rows start before this day (UTC)
BATCH = 5_000                      # rows per insert_spend call (= one transaction)
# cache key: the schema (gated's migrations) and this generator. A change to how gated fills the
# roll-ups is caught instead by bench/run.py, which compares /spend/tags with the detail rows and
# rebuilds the cached file once when they disagree.
KEY_SOURCES = ["gated/store/migrations.py", "bench/gen_spend.py"]


def records(count: int, days: int, seed: int) -> Iterator[dict[str, Any]]:
    """`count` spend rows as gated's writer queues them (SpendRecord.to_row())."""
    rng = random.Random(seed)
    rand = rng.random
    first = dt.datetime.combine(END_DAY - dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)
    span = days * 86400.0
    keys = [(f"{n:064x}", f"bench-key-{n}") for n in range(200)]
    for n in range(count):
        start = first + dt.timedelta(seconds=(n + rand()) * span / count)   # in time order, as a log grows
        group, model, price = MODELS[int(rand() * len(MODELS))]
        token_id, alias = keys[int(rand() * len(keys))]
        roll = rand()
        status = SUCCESS if roll < 0.95 else (REJECTED if roll < 0.98 else ERROR)
        rec = SpendRecord(
            request_id=f"bench-{seed}-{n}", call_type="chat", model_group=group, start_time=iso(start),
            token_id=token_id, key_alias=alias, team_id=f"team-{int(rand() * 20):02d}",
            user_id=f"user-{int(rand() * 500)}", end_user=None, model=model, deployment=model, price=price,
            status=status, rejected_by="banned_keywords" if status == REJECTED else None,
            error_code="upstream_error" if status == ERROR else None,
            tags=rng.sample(TAGS, int(rand() * 4)))
        if status == SUCCESS:
            rec.set_usage(5 + int(rand() * 3000), 1 + int(rand() * 800), False)
            rec.ttft_ms = 50 + rand() * 500
        row = rec.to_row()
        row["end_time"] = iso(start + dt.timedelta(seconds=0.05 + rand() * 4))
        yield row


def generate(path: Path, count: int, days: int, seed: int, batch: int = BATCH, quiet: bool = False) -> dict[str, Any]:
    """Write `count` rows into `path` (created by gated's migrations) through Store.insert_spend;
    returns timings. Raises AssertionError when the roll-ups disagree with the rows."""
    started = time.perf_counter()
    migrate(path)
    store = Store.open(path, audit_enabled=False)
    store.conn.execute("PRAGMA cache_size=-262144")   # 256 MB page cache for this bulk load (connection setting)
    written = 0
    try:
        pending: list[dict[str, Any]] = []
        for row in records(count, days, seed):
            pending.append(row)
            if len(pending) >= batch:
                written += store.insert_spend(pending)
                pending.clear()
                if not quiet and written % 100_000 == 0:
                    rate = written / (time.perf_counter() - started)
                    print(f"gen_spend: {written} rows, {rate:,.0f} rows/s", file=sys.stderr, flush=True)
        if pending:
            written += store.insert_spend(pending)
        insert_s = time.perf_counter() - started
        check = check_rollups(store.conn)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.conn.execute("ANALYZE")
    finally:
        store.close()
    return {"rows": written, "insert_s": insert_s, "rows_per_s": written / insert_s,
            "total_s": time.perf_counter() - started, **check}


def check_rollups(conn: sqlite3.Connection) -> dict[str, Any]:
    """The roll-ups /spend/tags and /spend/keys read must add up to the detail rows."""
    per_tag_rows = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT tag, count(*), sum(coalesce(spend, 0)) FROM spend_log_tags WHERE status = 'success' GROUP BY tag")}
    per_tag_rollup = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT tag, sum(log_count), sum(total_spend) FROM spend_tag_daily GROUP BY tag")}
    assert per_tag_rows.keys() == per_tag_rollup.keys(), "tags differ between spend_log_tags and spend_tag_daily"
    for tag, (count, spend) in per_tag_rows.items():
        r_count, r_spend = per_tag_rollup[tag]
        assert count == r_count, f"tag {tag}: {count} rows but roll-up log_count {r_count}"
        assert abs(spend - r_spend) <= 1e-9 * max(1.0, abs(spend)), f"tag {tag}: spend {spend} != roll-up {r_spend}"
    rows, spend, tokens = conn.execute(
        "SELECT count(*), sum(coalesce(spend, 0)), sum(total_tokens) FROM spend_logs").fetchone()
    r_rows, r_spend, r_tokens = conn.execute(
        "SELECT sum(log_count), sum(total_spend), sum(total_tokens) FROM spend_daily").fetchone()
    assert rows == r_rows and tokens == r_tokens, f"spend_daily: {r_rows} rows/{r_tokens} tokens vs {rows}/{tokens}"
    assert abs(spend - r_spend) <= 1e-9 * max(1.0, abs(spend)), f"spend_daily spend {r_spend} != rows {spend}"
    days = conn.execute("SELECT count(DISTINCT day) FROM spend_tag_daily").fetchone()[0]
    tag_rows = conn.execute("SELECT count(*) FROM spend_log_tags").fetchone()[0]
    return {"rollup_check": "ok", "tags": len(per_tag_rows), "days": days, "tag_rows": tag_rows,
            "rollup_rows": conn.execute("SELECT count(*) FROM spend_tag_daily").fetchone()[0]}


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gate-bench"


def cache_key(count: int, days: int, seed: int) -> str:
    digest = hashlib.sha256(f"{count}/{days}/{seed}/{BATCH}".encode())
    for rel in KEY_SOURCES:
        digest.update(rel.encode() + b"\0" + (ROOT / rel).read_bytes())
    return digest.hexdigest()[:16]


def cached(count: int, days: int, seed: int, quiet: bool = True) -> tuple[Path, dict[str, Any] | None]:
    """The cached database for these parameters, built first if missing. Returns (path, build
    stats or None when it was already there). Older cache files are removed."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"spend-{count}-{cache_key(count, days, seed)}.db"
    if path.exists():
        return path, None
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        stats = generate(tmp, count, days, seed, quiet=quiet)
        for leftover in (Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            leftover.unlink(missing_ok=True)
        tmp.rename(path)
    finally:
        for leftover in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            leftover.unlink(missing_ok=True)
    for old in directory.glob("spend-*.db"):   # complete files only; another run's .tmp is its own
        if old != path:
            for name in (old, Path(str(old) + "-wal"), Path(str(old) + "-shm")):
                name.unlink(missing_ok=True)
    return path, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cached", action="store_true", help="use/build the cached database; print its path")
    args = parser.parse_args()
    if args.cached:
        path, stats = cached(args.rows, args.days, args.seed, quiet=False)
        print(path)
        if stats:
            print(f"gen_spend: built {stats}", file=sys.stderr)
        return
    if args.path is None:
        parser.error("a database path (or --cached) is required")
    stats = generate(args.path, args.rows, args.days, args.seed)
    print(f"gen_spend: {stats['rows']} rows into {args.path}: insert {stats['insert_s']:.1f} s "
          f"({stats['rows_per_s']:,.0f} rows/s), total {stats['total_s']:.1f} s; roll-ups {stats['rollup_check']} "
          f"({stats['tags']} tags, {stats['days']} days, {stats['tag_rows']} tag rows)")


if __name__ == "__main__":
    main()
