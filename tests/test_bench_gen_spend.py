"""make bench's /spend/tags database: the generator writes rows through gated's own Store and
the roll-ups /spend/tags reads add up to them (a small run of the same code that builds 1M rows)."""

import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import gen_spend  # noqa: E402


def test_a_small_generated_history_is_consistent_and_in_gated_s_time_format(tmp_path):
    stats = gen_spend.generate(tmp_path / "spend.db", 3000, 30, seed=7, batch=500, quiet=True)
    assert stats["rows"] == 3000 and stats["rollup_check"] == "ok" and stats["tags"] > 0
    conn = sqlite3.connect(tmp_path / "spend.db")
    first, last = conn.execute("SELECT min(start_time), max(start_time) FROM spend_logs").fetchone()
    assert first.endswith("Z") and "T" in first and first < last, "ISO-8601 UTC text, as gated stores it"
    assert conn.execute("SELECT count(DISTINCT day) FROM spend_daily").fetchone()[0] == 30
