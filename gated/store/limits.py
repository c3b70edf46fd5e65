"""LimitStore: rpm / tpm / max_parallel_requests counters shared by every worker through SQLite
(SPEC §5.3), in fixed one-minute windows. Only keys and teams that have limits touch it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from gated.store.renames import KeyRenameStore

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Limits:
    scope: str                      # "keys:<token_id>" or "teams:<team_id>"
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None


def window_of(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


class LimitStore(KeyRenameStore):
    conn: sqlite3.Connection

    def admit(self, limits: Sequence[Limits], now: dt.datetime) -> tuple[str, str, int] | None:
        """Count one request on every scope, or none; refused → (scope, what, retry-after seconds)."""
        window = window_of(now)
        retry_after = WINDOW_SECONDS - now.second
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for limit in limits:
                usage = self.conn.execute("SELECT requests, tokens FROM rate_usage WHERE scope = ? AND window = ?",
                                          (limit.scope, window)).fetchone()
                requests, tokens = (usage["requests"], usage["tokens"]) if usage else (0, 0)
                in_flight = self.conn.execute("SELECT count FROM in_flight WHERE scope = ?", (limit.scope,)).fetchone()
                refused = None
                if limit.parallel is not None and (in_flight["count"] if in_flight else 0) >= limit.parallel:
                    refused = (limit.scope, "max_parallel_requests", 1)
                elif limit.rpm is not None and requests >= limit.rpm:
                    refused = (limit.scope, "rpm_limit", retry_after)
                elif limit.tpm is not None and tokens >= limit.tpm:
                    refused = (limit.scope, "tpm_limit", retry_after)
                if refused:
                    self.conn.execute("ROLLBACK")
                    return refused
            for limit in limits:
                self.conn.execute(
                    "INSERT INTO rate_usage (scope, window, requests, tokens) VALUES (?, ?, 1, 0) "
                    "ON CONFLICT(scope, window) DO UPDATE SET requests = requests + 1", (limit.scope, window))
                if limit.parallel is not None:
                    self.conn.execute("INSERT INTO in_flight (scope, count) VALUES (?, 1) "
                                      "ON CONFLICT(scope) DO UPDATE SET count = count + 1", (limit.scope,))
            self.conn.execute("DELETE FROM rate_usage WHERE window < ?",
                              (window_of(now - dt.timedelta(minutes=2)),))
            self.conn.execute("COMMIT")
            return None
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def finish(self, scopes: list[str]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        for scope in self.current_scopes(scopes):
            self.conn.execute("UPDATE in_flight SET count = max(0, count - 1) WHERE scope = ?", (scope,))
        self.conn.execute("COMMIT")

    def add_tokens(self, totals: dict[tuple[str, str], int]) -> None:
        """Inside the caller's transaction: charge tokens to the windows requests started in
        ({(scope, start_time): tokens}; the window is the start time's minute)."""
        self.conn.executemany(
            "INSERT INTO rate_usage (scope, window, requests, tokens) VALUES (?, ?, 0, ?) "
            "ON CONFLICT(scope, window) DO UPDATE SET tokens = tokens + excluded.tokens",
            [(scope, start_time[:16], tokens) for (scope, start_time), tokens in totals.items()])
