"""AdminStore: teams, keys and users, each change written with its audit row in one transaction
(SPEC §9), and the admin version other workers watch to drop their caches."""

from __future__ import annotations

import re
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from gated.spend.record import iso, utc_now

JSON_COLUMNS = frozenset({"members_with_roles", "models", "metadata", "tags", "permissions"})
PRIMARY_KEYS = {"teams": "team_id", "keys": "token_id", "users": "user_id"}
INTERNAL = frozenset({"reserved", "budget_reset_at"})
_SECRET = re.compile(r"sk-[A-Za-z0-9_\-]{20,}")


@dataclass(frozen=True, slots=True)
class Actor:
    changed_by: str
    api_key: str | None


class DuplicateError(Exception):
    """A unique id or alias is taken; `column` names it when SQLite says which."""

    def __init__(self, exc: sqlite3.IntegrityError) -> None:
        super().__init__(str(exc))
        match = re.search(r"UNIQUE constraint failed: \w+\.(\w+)", str(exc))
        self.column = match[1] if match else None


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET.sub("sk-[masked]", value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    return {k: orjson.dumps(v).decode() if k in JSON_COLUMNS and v is not None else v for k, v in row.items()}


def _column(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in JSON_COLUMNS:
        return orjson.loads(value)
    return bool(value) if name == "blocked" else value


def decode(row: sqlite3.Row | None) -> dict[str, Any] | None:
    return None if row is None else {k: _column(k, row[k]) for k in row.keys()}


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in INTERNAL}


class AdminStore:
    conn: sqlite3.Connection
    audit_enabled: bool

    # -- reads ---------------------------------------------------------------------------------
    def get(self, table: str, object_id: str) -> dict[str, Any] | None:
        return decode(self.conn.execute(f"SELECT * FROM {table} WHERE {PRIMARY_KEYS[table]} = ?",
                                        (object_id,)).fetchone())

    def find_by(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        rows = self.conn.execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,)).fetchall()
        return [r for r in map(decode, rows) if r is not None]

    def page(self, table: str, filters: dict[str, Any], limit: int,
             cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Rows ordered by primary key; `cursor` is the last key of the previous page."""
        pk = PRIMARY_KEYS[table]
        where, params = ["1=1"], []
        for column, value in filters.items():
            where.append(f"{column} = ?")
            params.append(value)
        if cursor:
            where.append(f"{pk} > ?")
            params.append(cursor)
        rows = self.conn.execute(f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY {pk} LIMIT ?",
                                 (*params, limit + 1)).fetchall()
        decoded = [r for r in map(decode, rows[:limit]) if r is not None]
        return decoded, (decoded[-1][pk] if len(rows) > limit else None)

    def admin_version(self) -> int:
        return int(self.conn.execute("SELECT version FROM admin_state WHERE name = 'admin'").fetchone()[0])

    # -- writes (each one transaction, audit included) ----------------------------------------
    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def _finish(self, ok: bool) -> None:
        if ok:
            self.conn.execute("UPDATE admin_state SET version = version + 1 WHERE name = 'admin'")
        self.conn.execute("COMMIT" if ok else "ROLLBACK")

    def _audit(self, actor: Actor, action: str, table: str, object_id: str,
               before: dict[str, Any] | None, values: dict[str, Any] | None) -> None:
        if not self.audit_enabled:
            return
        self.conn.execute(
            "INSERT INTO audit_log (id, updated_at, changed_by, changed_by_api_key, action, table_name, object_id,"
            " before_value, updated_values) VALUES (?,?,?,?,?,?,?,?,?)",
            (str(uuid.uuid4()), iso(utc_now()), actor.changed_by, actor.api_key, action, table, object_id,
             None if before is None else orjson.dumps(_mask(public(before))).decode(),
             None if values is None else orjson.dumps(_mask(public(values))).decode()),
        )

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        encoded = _encode(row)
        columns = ", ".join(encoded)
        try:
            self.conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(encoded))})",
                              tuple(encoded.values()))
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(exc) from None

    def _delete_row(self, table: str, row: dict[str, Any], actor: Actor) -> None:
        pk = PRIMARY_KEYS[table]
        self.conn.execute(f"DELETE FROM {table} WHERE {pk} = ?", (row[pk],))
        self._audit(actor, "deleted", table, row[pk], row, None)

    def create(self, table: str, row: dict[str, Any], actor: Actor) -> dict[str, Any]:
        now = iso(utc_now())
        row = {**row, "created_at": now, "updated_at": now}
        self._begin()
        ok = False
        try:
            self._insert(table, row)
            created = self.get(table, row[PRIMARY_KEYS[table]])
            assert created is not None
            self._audit(actor, "created", table, row[PRIMARY_KEYS[table]], None, created)
            ok = True
            return created
        finally:
            self._finish(ok)

    def update(self, table: str, object_id: str, changes: dict[str, Any], actor: Actor,
               action: str = "updated") -> tuple[dict[str, Any] | None, bool]:
        """Apply `changes`; returns (row after, changed?). Unknown id → (None, False)."""
        self._begin()
        ok = False
        try:
            before = self.get(table, object_id)
            if before is None:
                return None, False
            changed = {k: v for k, v in changes.items() if before.get(k) != v}
            if not changed:
                return before, False
            encoded = _encode({**changed, "updated_at": iso(utc_now())})
            assignments = ", ".join(f"{k} = ?" for k in encoded)
            try:
                self.conn.execute(f"UPDATE {table} SET {assignments} WHERE {PRIMARY_KEYS[table]} = ?",
                                  (*encoded.values(), object_id))
            except sqlite3.IntegrityError as exc:
                raise DuplicateError(exc) from None
            self._audit(actor, action, table, object_id, before, changed)
            ok = True
            return self.get(table, object_id), True
        finally:
            self._finish(ok)

    def delete(self, table: str, object_ids: list[str], actor: Actor) -> list[dict[str, Any]]:
        """Delete all or nothing: any unknown id → nothing deleted, returns []. Team and user
        deletes take their keys with them, each key audited. An id given twice is deleted once."""
        self._begin()
        ok = False
        try:
            rows = [self.get(table, object_id) for object_id in dict.fromkeys(object_ids)]
            if any(row is None for row in rows):
                return []
            for row in rows:
                assert row is not None
                if table in ("teams", "users"):
                    owner = "team_id" if table == "teams" else "user_id"
                    for key in self.find_by("keys", owner, row[owner]):
                        self._delete_row("keys", key, actor)
                self._delete_row(table, row, actor)
            ok = True
            return [r for r in rows if r is not None]
        finally:
            self._finish(ok)

    def regenerate_key(self, token_id: str, new_token_id: str, key_name: str,
                       actor: Actor) -> dict[str, Any] | None:
        self._begin()
        ok = False
        try:
            before = self.get("keys", token_id)
            if before is None:
                return None
            now = iso(utc_now())
            self.conn.execute("UPDATE keys SET token_id = ?, key_name = ?, updated_at = ? WHERE token_id = ?",
                              (new_token_id, key_name, now, token_id))
            self.rename_key(token_id, new_token_id)
            self._audit(actor, "regenerated", "keys", token_id, before,
                        {"token_id": new_token_id, "key_name": key_name})
            ok = True
            return self.get("keys", new_token_id)
        finally:
            self._finish(ok)

    # -- audit reads ---------------------------------------------------------------------------
    def audit_page(self, filters: dict[str, Any], start: str | None, end: str | None, limit: int,
                   cursor: int | None) -> tuple[list[dict[str, Any]], int | None]:
        where, params = ["1=1"], []
        for column, value in filters.items():
            where.append(f"{column} = ?")
            params.append(value)
        if start:
            where.append("updated_at >= ?")
            params.append(start)
        if end:
            where.append("updated_at < ?")
            params.append(end)
        if cursor is not None:
            where.append("seq < ?")
            params.append(cursor)
        rows = self.conn.execute(
            f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?", (*params, limit + 1)
        ).fetchall()
        page = [_audit_row(r) for r in rows[:limit]]
        return page, (rows[limit - 1]["seq"] if len(rows) > limit else None)

    def audit_entry(self, entry_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM audit_log WHERE id = ?", (entry_id,)).fetchone()
        return _audit_row(row) if row is not None else None


def _audit_row(row: sqlite3.Row) -> dict[str, Any]:
    entry = {k: row[k] for k in row.keys() if k != "seq"}
    for column in ("before_value", "updated_values"):
        if entry[column] is not None:
            entry[column] = orjson.loads(entry[column])
    return entry
