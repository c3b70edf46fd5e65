"""ListStore: blocked end users and banned keywords. Adds and removes are idempotent, audited per
changed value in the same transaction, and bump the `lists` version that workers watch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gated.spend.record import iso, utc_now
from gated.store.admin import Actor, AdminStore


@dataclass(frozen=True)
class ListKind:
    table: str
    column: str
    added: str       # audit action when a value is added
    removed: str


BLOCKED_USERS = ListKind("blocked_users", "user_id", "blocked", "unblocked")
BANNED_KEYWORDS = ListKind("banned_keywords", "keyword", "created", "deleted")
CONFIG_ACTOR = Actor("config", None)


class ListStore(AdminStore):
    """Builds on AdminStore for its audit rows."""

    def list_values(self, kind: ListKind) -> list[str]:
        return [r[0] for r in self.conn.execute(f"SELECT {kind.column} FROM {kind.table} ORDER BY {kind.column}")]

    def list_page(self, kind: ListKind, limit: int, after: str | None) -> tuple[list[str], str | None]:
        """One page of the list in order; the value to continue after, or None on the last page."""
        values = [r[0] for r in self.conn.execute(
            f"SELECT {kind.column} FROM {kind.table} WHERE {kind.column} > ? ORDER BY {kind.column} LIMIT ?",
            ("" if after is None else after, limit + 1))]
        return values[:limit], values[limit - 1] if len(values) > limit else None

    def lists_version(self) -> int:
        return int(self.conn.execute("SELECT version FROM admin_state WHERE name = 'lists'").fetchone()[0])

    def _bump(self) -> None:
        self.conn.execute("UPDATE admin_state SET version = version + 1 WHERE name = 'lists'")

    def _add(self, kind: ListKind, value: str, actor: Actor) -> bool:
        cursor = self.conn.execute(f"INSERT OR IGNORE INTO {kind.table} ({kind.column}, created_at) VALUES (?, ?)",
                                   (value, iso(utc_now())))
        if cursor.rowcount:
            self._audit(actor, kind.added, kind.table, value, None, {kind.column: value})
        return bool(cursor.rowcount)

    def change_list(self, kind: ListKind, values: Iterable[str], add: bool, actor: Actor) -> list[str]:
        """Add or remove values; returns those that actually changed (no-ops write nothing)."""
        changed = []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for value in dict.fromkeys(values):
                if add:
                    if self._add(kind, value, actor):
                        changed.append(value)
                elif self.conn.execute(f"DELETE FROM {kind.table} WHERE {kind.column} = ?", (value,)).rowcount:
                    self._audit(actor, kind.removed, kind.table, value, {kind.column: value}, None)
                    changed.append(value)
            if changed:
                self._bump()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return changed

    def seed_list(self, kind: ListKind, values: Iterable[str]) -> list[str]:
        """Startup merge: config values never seen before are added; seen ones are left alone,
        so a value removed through the API stays removed after a restart."""
        added = []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for value in dict.fromkeys(values):
                seen = self.conn.execute("INSERT OR IGNORE INTO list_seen (list, value) VALUES (?, ?)",
                                         (kind.table, value)).rowcount
                if seen and self._add(kind, value, CONFIG_ACTOR):
                    added.append(value)
            if added:
                self._bump()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return added
