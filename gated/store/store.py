"""The Store: every SQL statement and table name of gated lives here. Used from one thread at a
time (the StoreWorker's), so it holds a plain connection."""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gated.config import Config
from gated.guardrails.lists import read_list
from gated.store.budgets import BudgetStore
from gated.store.limits import LimitStore
from gated.store.lists import BANNED_KEYWORDS, BLOCKED_USERS, ListStore
from gated.store.reports import ReportStore

# page cache per connection (SQLite's default is 2 MiB; RSS is a SPEC §12 bar): spend rows arrive
# in time order, so the writer works on the last pages of each table and index, a few dozen
CACHE_KIB = 256


def _null(value: None) -> None:
    return value


def connect(path: str | Path) -> sqlite3.Connection:
    # Python 3.11's sqlite3 binds None only after looking for an adapter, and the failed lookup
    # formats an AttributeError each time: a spend row's 7 or so NULLs cost ~2 µs (SPEC §12). A
    # registered adapter (None stays None) is found first. Process-wide, and the same for every caller.
    sqlite3.register_adapter(type(None), _null)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return conn


def migrate(path: str | Path) -> None:
    """Create or upgrade the schema; run once before workers start (cli.prepare_database)."""
    from sqlite_utils import Database

    from gated.store.migrations import migrations

    db = Database(connect(path))
    try:
        migrations.apply(db)
        # a crash may have left budget reservations behind; no request is in flight at start
        for table in ("keys", "teams", "users"):
            db.execute(f"UPDATE {table} SET reserved = 0 WHERE reserved != 0")
        db.execute("DELETE FROM in_flight")
    finally:
        db.close()


def seed_lists(path: str | Path, config: Config) -> None:
    """Merge the config's blocked users and banned keywords into the database (SPEC §8.2 rule)."""
    settings = config.litellm_settings
    store = Store.open(path, settings.store_audit_logs)
    try:
        store.seed_list(BLOCKED_USERS, read_list(settings.blocked_user_list, config.base_dir))
        store.seed_list(BANNED_KEYWORDS, read_list(settings.banned_keywords_list, config.base_dir))
    finally:
        store.close()


class Store(ListStore, BudgetStore, LimitStore, ReportStore):
    def __init__(self, conn: sqlite3.Connection, audit_enabled: bool = True) -> None:
        self.conn = conn
        self.conn.row_factory = sqlite3.Row
        self.audit_enabled = audit_enabled

    @classmethod
    def open(cls, path: str | Path, audit_enabled: bool = True) -> Store:
        return cls(connect(path), audit_enabled)

    def close(self) -> None:
        self.conn.close()

    def ping(self) -> bool:
        """The database file answers. Asked on a fresh connection: this one's page cache (and a
        plain `select 1`, which reads nothing) would say yes about a file that is gone or broken."""
        path = self.conn.execute("PRAGMA database_list").fetchone()[2]
        probe = sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True, timeout=2)
        try:
            return probe.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        finally:
            probe.close()

    def insert_spend(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert spend rows and their tag rows in one transaction; returns how many rows."""
        conn = self.conn
        rows = list(rows)
        settle: dict[tuple[str, str], tuple[float, float]] = {}
        tokens: dict[tuple[str, str], int] = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self.with_current_keys(rows)
            # the write lock is ours until COMMIT, so the batch's ids are the next ones: give them
            # explicitly and insert everything with executemany (tag rows need their log ids)
            first_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM spend_logs").fetchone()[0]
            conn.executemany(_INSERT_SPEND, [(first_id + i, *_spend_values(row)) for i, row in enumerate(rows)])
            conn.executemany(
                "INSERT INTO spend_log_tags (log_id, tag, start_time, spend, status) VALUES (?,?,?,?,?)",
                [(first_id + i, tag, row["start_time"], row["spend"], row["status"])
                 for i, row in enumerate(rows) for tag in row["tag_list"]])
            for row in rows:
                for target in row["budget_targets"]:
                    reserved, cost = settle.get(target, (0.0, 0.0))
                    settle[target] = (reserved + row["reserved"], cost + (row["spend"] or 0.0))
                for scope in row["limit_scopes"]:
                    key = (scope, row["start_time"][:16])
                    tokens[key] = tokens.get(key, 0) + row["total_tokens"]
            self.settle(settle)
            self.add_tokens(tokens)
            self.roll_up(rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(rows)


_SPEND_COLUMNS = (
    "request_id", "call_type", "token_id", "key_alias", "team_id", "user_id", "end_user", "model_group",
    "model", "deployment", "prompt_tokens", "completion_tokens", "total_tokens", "spend", "cost_status",
    "usage_estimated", "start_time", "end_time", "ttft_ms", "status", "rejected_by", "error_code", "tags",
    "spend_logs_metadata",
)
_INSERT_SPEND = (
    f"INSERT INTO spend_logs (id, {', '.join(_SPEND_COLUMNS)}) VALUES ({', '.join('?' * (len(_SPEND_COLUMNS) + 1))})"
)
_spend_values = operator.itemgetter(*_SPEND_COLUMNS)
