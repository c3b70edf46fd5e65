"""Retention (SPEC §7): with `spend_logs_retention_days`, detail rows older than that are deleted at
start and every hour. Roll-ups and key/team/user totals are never touched."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from gated.spend.record import iso, utc_now
from gated.store.store import Store
from gated.store.worker import StoreWorker

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600


async def prune_once(store: StoreWorker, days: int) -> int:
    cutoff = iso(utc_now() - dt.timedelta(days=days))
    deleted = await store.run(Store.prune_spend_logs, cutoff)
    if deleted:
        log.info("retention: deleted %d spend rows that started before %s", deleted, cutoff)
    return deleted


async def prune_forever(store: StoreWorker, days: int) -> None:
    while True:
        try:
            await prune_once(store, days)
        except Exception:  # a locked or full database must not stop future prunes
            log.exception("retention: pruning spend rows failed; will retry")
        await asyncio.sleep(PRUNE_EVERY_SECONDS)
