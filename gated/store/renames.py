"""KeyRenameStore: what `/key/regenerate` changes besides the key row. The key's history (spend
rows, daily roll-ups, rate-limit counters) moves to the new token_id in the same transaction, and
requests admitted under the old id are mapped to the new one when they finish and settle, so a
reservation is never left behind and no cost is lost."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

KEY_SCOPE = "keys:"   # rate-limit scope prefix of a key (gated.limits)


class KeyRenameStore:
    conn: sqlite3.Connection

    def rename_key(self, old: str, new: str) -> None:
        """Inside the caller's transaction: `old` is now called `new`."""
        execute = self.conn.execute
        execute("UPDATE key_renames SET new_token_id = ? WHERE new_token_id = ?", (new, old))
        execute("INSERT INTO key_renames (old_token_id, new_token_id) VALUES (?, ?)", (old, new))
        execute("UPDATE spend_logs SET token_id = ? WHERE token_id = ?", (new, old))
        execute("UPDATE spend_daily SET token_id = ? WHERE token_id = ?", (new, old))
        execute("UPDATE rate_usage SET scope = ? WHERE scope = ?", (KEY_SCOPE + new, KEY_SCOPE + old))
        execute("UPDATE in_flight SET scope = ? WHERE scope = ?", (KEY_SCOPE + new, KEY_SCOPE + old))

    def current_token_ids(self, token_ids: Iterable[str]) -> dict[str, str]:
        """{former id: current id} for those of `token_ids` that were regenerated."""
        ids = list(set(token_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self.conn.execute(
            f"SELECT old_token_id, new_token_id FROM key_renames WHERE old_token_id IN ({marks})", ids).fetchall())

    def current_scopes(self, scopes: list[str]) -> list[str]:
        renames = self.current_token_ids(s[len(KEY_SCOPE):] for s in scopes if s.startswith(KEY_SCOPE))
        return [_current_scope(scope, renames) for scope in scopes] if renames else scopes

    def with_current_keys(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Spend rows of requests admitted before their key was regenerated, re-addressed to it."""
        renames = self.current_token_ids(row["token_id"] for row in rows if row["token_id"])
        if not renames:
            return rows
        return [row if row["token_id"] not in renames else {
            **row, "token_id": renames[row["token_id"]],
            "budget_targets": [(t, renames.get(i, i) if t == "keys" else i) for t, i in row["budget_targets"]],
            "limit_scopes": [_current_scope(scope, renames) for scope in row["limit_scopes"]],
        } for row in rows]


def _current_scope(scope: str, renames: dict[str, str]) -> str:
    if scope.startswith(KEY_SCOPE) and (new := renames.get(scope[len(KEY_SCOPE):])):
        return KEY_SCOPE + new
    return scope
