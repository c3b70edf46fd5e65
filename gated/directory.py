"""Directory: the hot path's in-memory view of keys (with their team and user), blocked end users
and banned keywords. Keys load on first use through the store thread; everything is dropped or
reloaded when its version in `admin_state` moves, which every worker notices on its next request
through `PRAGMA data_version` on a read connection.

The check costs three system calls (SQLite's read lock), about as much as the rest of
authentication (SPEC §12), so it runs once per batch of requests the event loop has already
received: the first request of a batch checks and queues `_recheck` behind the others, and every
request whose bytes arrive later is queued behind `_recheck`, so it checks again. A request that
skips the check arrived before the check, so no commit it could have been sent after is missed."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gated.guardrails.keywords import KeywordMatcher
from gated.store.lists import BANNED_KEYWORDS, BLOCKED_USERS
from gated.store.store import Store, connect
from gated.store.worker import StoreWorker


@dataclass(frozen=True, slots=True)
class KeyView:
    key: dict[str, Any]
    team: dict[str, Any] | None
    user: dict[str, Any] | None
    expires: dt.datetime | None   # the key's `expires`, parsed once rather than on every request


def _expiry(key: dict[str, Any]) -> dt.datetime | None:
    value = key.get("expires")
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _load_key(store: Store, token_id: str) -> KeyView | None:
    key = store.get("keys", token_id)
    if key is None:
        return None
    team = store.get("teams", key["team_id"]) if key.get("team_id") else None
    user = store.get("users", key["user_id"]) if key.get("user_id") else None
    return KeyView(key, team, user, _expiry(key))


def _load_lists(store: Store, keyword_mode: str) -> tuple[frozenset[str], KeywordMatcher]:
    return (frozenset(store.list_values(BLOCKED_USERS)),
            KeywordMatcher(store.list_values(BANNED_KEYWORDS), keyword_mode))


class Directory:
    def __init__(self, store: StoreWorker, db_path: str | Path, keyword_mode: str = "word") -> None:
        self._store = store
        self._reader: sqlite3.Connection = connect(db_path)
        self._keyword_mode = keyword_mode
        self._data_version = -1
        self._checked = False   # this batch of requests has checked
        self._loop: asyncio.AbstractEventLoop | None = None   # kept: get_running_loop() costs a getpid()
        self._versions: dict[str, int] = {}
        self._keys: dict[str, KeyView | None] = {}
        self.blocked_users: frozenset[str] = frozenset()
        self.keywords = KeywordMatcher(())

    def close(self) -> None:
        self._reader.close()

    async def sync(self) -> None:
        """Drop or reload whatever another connection changed (see the module's docstring for when)."""
        if self._checked:
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._checked = True
        self._loop.call_soon(self._recheck)
        data_version = self._reader.execute("PRAGMA data_version").fetchone()[0]
        if data_version == self._data_version:
            return
        self._data_version = data_version
        versions = dict(self._reader.execute("SELECT name, version FROM admin_state").fetchall())
        if versions.get("admin") != self._versions.get("admin"):
            self._keys.clear()
        if versions.get("lists") != self._versions.get("lists"):
            self.blocked_users, self.keywords = await self._store.run(_load_lists, self._keyword_mode)
        self._versions = versions

    def _recheck(self) -> None:
        self._checked = False

    async def key(self, token_id: str) -> KeyView | None:
        if token_id in self._keys:
            return self._keys[token_id]
        view = await self._store.run(_load_key, token_id)
        self._keys[token_id] = view
        return view

    def is_blocked(self, user_id: str) -> bool:
        return user_id in self.blocked_users

    def current_keywords(self) -> KeywordMatcher:
        return self.keywords
