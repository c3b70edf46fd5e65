"""Fill a gated database with N synthetic spend rows (default 1,000,000) for the `/spend/tags`
micro-benchmark (SPEC §12). The schema comes from gated's own migrations (`migrate(path)` first);
rows go into `spend_logs` and `spend_log_tags` with executemany in large transactions.

    .venv/bin/python bench/gen_spend.py /tmp/spend.db [--rows 1000000] [--days 90] [--seed 1]

Deterministic for a given seed. Every row has 0-3 tags from a pool of 40; ~5 % are rejected or
errors (cost 0 / unknown), like a real log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gated.store.store import connect, migrate  # noqa: E402

TAGS = [f"team-{i:02d}" for i in range(20)] + [f"feature-{c}" for c in "abcdefghij"] + [
    "prod", "staging", "batch", "interactive", "eval", "chatbot", "search", "summarise", "translate", "agent"]
MODELS = [("gpt-4o", "openai/gpt-4o", 2.5e-6, 1e-5), ("gpt-4o-mini", "openai/gpt-4o-mini", 1.5e-7, 6e-7),
          ("llama3", "openai/llama3", 2e-7, 2e-7)]
BATCH = 50_000


def rows(count: int, days: int, seed: int, first_id: int) -> Iterator[tuple[tuple, list[tuple]]]:
    rng = random.Random(seed)
    random_ = rng.random
    end_day = dt.date(2026, 12, 1)
    day_names = [(end_day - dt.timedelta(days=days - d)).isoformat() for d in range(days + 1)]
    span = days * 86400

    def stamp(seconds: float) -> str:  # seconds since the first day's midnight → ISO-8601 UTC
        whole = int(seconds)
        day, rest = divmod(whole, 86400)
        hour, rest = divmod(rest, 3600)
        minute, sec = divmod(rest, 60)
        return f"{day_names[day]}T{hour:02d}:{minute:02d}:{sec:02d}.{int((seconds - whole) * 1e6):06d}Z"

    for n in range(count):
        log_id = first_id + n
        start = random_() * span
        start_s, end_s = stamp(start), stamp(start + 0.05 + random_() * 4)
        group, model, pin, pout = MODELS[int(random_() * len(MODELS))]
        prompt, completion = 5 + int(random_() * 3000), 1 + int(random_() * 800)
        roll = random_()
        status = "success" if roll < 0.95 else ("rejected" if roll < 0.98 else "error")
        spend = 0.0 if status == "rejected" else prompt * pin + completion * pout
        tags = rng.sample(TAGS, int(random_() * 4))
        tags_json = "[" + ",".join(f'"{t}"' for t in tags) + "]"
        key = f"{int(random_() * 200):064x}"
        log = (log_id, f"req-{log_id}", "chat_completion", key, None, f"team-{int(random_() * 20):02d}",
               f"user-{int(random_() * 500)}", None, group, model, model, prompt, completion, prompt + completion,
               spend, "exact", 0, start_s, end_s, None, status, "banned_keywords" if status == "rejected" else None,
               None, tags_json, None)
        yield log, [(log_id, tag, start_s, spend, status) for tag in tags]


INSERT_LOG = ("INSERT INTO spend_logs (id, request_id, call_type, token_id, key_alias, team_id, user_id, end_user, "
              "model_group, model, deployment, prompt_tokens, completion_tokens, total_tokens, spend, cost_status, "
              "usage_estimated, start_time, end_time, ttft_ms, status, rejected_by, error_code, tags, "
              "spend_logs_metadata) VALUES (" + ",".join("?" * 25) + ")")
INSERT_TAG = "INSERT INTO spend_log_tags (log_id, tag, start_time, spend, status) VALUES (?,?,?,?,?)"


def generate(path: Path, count: int, days: int, seed: int) -> int:
    migrate(path)
    db = connect(path)
    conn = db.conn
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=OFF")   # ids are ours and consistent; skip the per-row lookup
    first_id = (conn.execute("SELECT coalesce(max(id), 0) FROM spend_logs").fetchone()[0] or 0) + 1
    logs: list[tuple] = []
    tags: list[tuple] = []
    written = 0

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany(INSERT_LOG, logs)
        conn.executemany(INSERT_TAG, tags)
        conn.execute("COMMIT")
        logs.clear()
        tags.clear()

    for log, tag_rows in rows(count, days, seed, first_id):
        logs.append(log)
        tags.extend(tag_rows)
        if len(logs) >= BATCH:
            written += len(logs)
            flush()
    if logs:
        written += len(logs)
        flush()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    db.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    written = generate(args.path, args.rows, args.days, args.seed)
    print(f"gen_spend: {written} rows into {args.path} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
