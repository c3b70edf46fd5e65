"""Directory: the hot path's in-memory view of keys, teams and users. Entries are loaded on first
use through the store thread and all dropped when the admin version moves — which every worker
notices on its next request through a cheap `PRAGMA data_version` check on a read connection."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gated.store.store import Store, connect
from gated.store.worker import StoreWorker


@dataclass(frozen=True, slots=True)
class KeyView:
    key: dict[str, Any]
    team: dict[str, Any] | None
    user: dict[str, Any] | None

    @property
    def expires(self) -> dt.datetime | None:
        value = self.key.get("expires")
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _load(store: Store, token_id: str) -> KeyView | None:
    key = store.get("keys", token_id)
    if key is None:
        return None
    team = store.get("teams", key["team_id"]) if key.get("team_id") else None
    user = store.get("users", key["user_id"]) if key.get("user_id") else None
    return KeyView(key, team, user)


class Directory:
    def __init__(self, store: StoreWorker, db_path: str | Path) -> None:
        self._store = store
        self._reader: sqlite3.Connection = connect(db_path).conn
        self._data_version = -1
        self._admin_version = -1
        self._keys: dict[str, KeyView | None] = {}

    def close(self) -> None:
        self._reader.close()

    def _check(self) -> None:
        data_version = self._reader.execute("PRAGMA data_version").fetchone()[0]
        if data_version == self._data_version:
            return
        self._data_version = data_version
        admin_version = self._reader.execute("SELECT version FROM admin_state WHERE name = 'admin'").fetchone()[0]
        if admin_version != self._admin_version:
            self._admin_version = admin_version
            self._keys.clear()

    async def key(self, token_id: str) -> KeyView | None:
        self._check()
        if token_id in self._keys:
            return self._keys[token_id]
        view = await self._store.run(_load, token_id)
        self._keys[token_id] = view
        return view
