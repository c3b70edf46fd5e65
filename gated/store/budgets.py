"""BudgetStore: atomic worst-case reservations and their settlement (SPEC §5.3), so that
`spend <= max_budget` holds across every worker. Only budgeted keys/teams/users pay for this."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence

from gated.durations import add_duration
from gated.pricing import MONEY_DIGITS
from gated.spend.record import iso, utc_now

BUDGET_TABLES = {"keys": "token_id", "teams": "team_id", "users": "user_id"}
Target = tuple[str, str]  # (table, id)


class BudgetStore:
    conn: sqlite3.Connection

    def _roll_period(self, table: str, object_id: str, now: dt.datetime) -> None:
        """Reset the period `spend` when its `budget_duration` boundary has passed."""
        pk = BUDGET_TABLES[table]
        row = self.conn.execute(f"SELECT budget_duration, budget_reset_at FROM {table} WHERE {pk} = ?",
                                (object_id,)).fetchone()
        if row is None or not row["budget_duration"]:
            return
        reset_at = row["budget_reset_at"]
        if reset_at is None:
            self.conn.execute(f"UPDATE {table} SET budget_reset_at = ? WHERE {pk} = ?",
                              (iso(add_duration(now, row["budget_duration"])), object_id))
        elif iso(now) >= reset_at:
            self.conn.execute(f"UPDATE {table} SET spend = 0, budget_reset_at = ? WHERE {pk} = ?",
                              (iso(add_duration(now, row["budget_duration"])), object_id))

    def reserve(self, targets: Sequence[Target], amount: float) -> Target | None:
        """Reserve `amount` on every target or none; returns the first target that cannot afford it."""
        now = utc_now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for table, object_id in targets:
                self._roll_period(table, object_id, now)
                pk = BUDGET_TABLES[table]
                row = self.conn.execute(f"SELECT spend, reserved, max_budget FROM {table} WHERE {pk} = ?",
                                        (object_id,)).fetchone()
                if row is None or row["max_budget"] is None:
                    continue
                if row["spend"] + row["reserved"] + amount > row["max_budget"] + 1e-12:
                    self.conn.execute("ROLLBACK")
                    return (table, object_id)
                self.conn.execute(f"UPDATE {table} SET reserved = reserved + ? WHERE {pk} = ?", (amount, object_id))
            self.conn.execute("COMMIT")
            return None
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def settle(self, totals: dict[Target, tuple[float, float]]) -> None:
        """Inside the caller's transaction: for each target, release the reservations of a batch and
        add its real cost ({target: (reserved, cost)})."""
        now = utc_now()
        for (table, object_id), (reserved, cost) in totals.items():
            self._roll_period(table, object_id, now)
            self.conn.execute(
                f"UPDATE {table} SET reserved = max(0, round(reserved - ?, {MONEY_DIGITS})), "
                f"spend = round(spend + ?, {MONEY_DIGITS}), lifetime_spend = round(lifetime_spend + ?, {MONEY_DIGITS})"
                f" WHERE {BUDGET_TABLES[table]} = ?",
                (reserved, cost, cost, object_id),
            )
