"""SpendWriter: a bounded in-memory queue of spend rows flushed in batches (every 50 ms or 500
rows, one transaction each) on the store thread. A full queue makes producers wait; nothing is
dropped (a database that is busy or full is retried; only a row that fails on its own for another
reason is logged and left out, so it cannot stop the rows behind it); close() drains everything.
Rows of budgeted requests skip the queue (see put)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

from gated.store.store import Store
from gated.store.worker import StoreWorker

log = logging.getLogger(__name__)

BATCH_ROWS = 500
FLUSH_INTERVAL = 0.05
QUEUE_ROWS = 10_000
RETRY_DELAY = 0.5


class SpendWriter:
    def __init__(self, store: StoreWorker, *, max_rows: int = QUEUE_ROWS) -> None:
        self._store = store
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=max_rows)  # None: stop
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gated-spend-writer")

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def queue(self, row: dict[str, Any]) -> bool:
        """Queue the row (SpendRecord.to_row()) without waiting; False when it must go through
        put() instead (the queue is full, or the row settles a budget reservation)."""
        if row["reserved"] or self._queue.full():
            return False
        self._queue.put_nowait(row)
        return True

    async def put(self, row: dict[str, Any]) -> None:
        """Queue the row, waiting for room; a row that settles a budget reservation is written at
        once instead, so the reservation is released before the next request of that key is
        admitted."""
        if row["reserved"]:
            await self._write([row])
        else:
            await self._queue.put(row)

    async def _run(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            await asyncio.sleep(FLUSH_INTERVAL)
            while len(batch) < BATCH_ROWS and not self._queue.empty():
                row = self._queue.get_nowait()
                if row is None:
                    stop = True
                    break
                batch.append(row)
            await self._write(batch)

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        while True:
            try:
                self.written += await self._store.run(Store.insert_spend, batch)
                return
            except sqlite3.OperationalError:
                # the database may be locked or the disk full for a moment; keep the rows
                log.exception("writing %d spend rows failed; retrying", len(batch))
                await asyncio.sleep(RETRY_DELAY)
            except Exception:
                if len(batch) == 1:
                    # not the database's state but this row: retrying cannot help, and it must not
                    # hold up every row behind it
                    log.exception("spend row of request %s cannot be written; it is left out",
                                  batch[0].get("request_id"))
                    return
                log.exception("writing %d spend rows failed; writing them one by one", len(batch))
                for row in batch:
                    await self._write([row])
                return

    async def close(self) -> None:
        """Write everything queued so far, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
