"""StoreWorker: one thread owns the Store; the event loop hands it work and awaits the result,
so SQLite never blocks request handling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from gated.store.store import Store

T = TypeVar("T")


class StoreWorker:
    def __init__(self, path: str | Path, audit_enabled: bool = True) -> None:
        self._path = path
        self._audit_enabled = audit_enabled
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gated-store")
        self._store: Store | None = None

    async def start(self) -> None:
        self._store = await asyncio.get_running_loop().run_in_executor(self._executor, Store.open, self._path,
                                                                       self._audit_enabled)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(store, *args)` on the store thread."""
        assert self._store is not None, "StoreWorker.start() was not awaited"
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, self._store, *args))

    async def close(self) -> None:
        if self._store is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._store.close)
            self._store = None
        self._executor.shutdown(wait=True)
