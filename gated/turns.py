"""Turns: what the LLM requests in flight write during one turn of the event loop leaves
together at the end of that turn (SPEC §12).

Each write to a peer that sleeps wakes it, and on a VM the wake-up is an inter-processor
interrupt that costs the writer about 8 µs, a twentieth of a request. Written one by one as each
request reached them, a local upstream's requests and the clients' answers woke their peers
about twice per request; held to the end of the turn while other requests are in flight, they go
out back to back and a peer woken by the first finds the rest waiting. A request alone in flight
writes at once: there is nothing to wait for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class Turns:
    def __init__(self) -> None:
        self.in_flight = 0          # LLM requests being handled (gated.proxy.handlers)
        self._due: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None   # kept: get_running_loop() costs a getpid()

    @property
    def crowded(self) -> bool:
        """Other LLM requests are in flight besides the caller's."""
        return self.in_flight > 1

    def at_end(self, callback: Callable[..., Any], *args: Any) -> None:
        """callback(*args) at the end of the event loop's current turn, after those asked before it
        (it must not raise: the callbacks after it would be lost)."""
        if not self._due:
            self._loop = self._loop or asyncio.get_running_loop()
            self._loop.call_soon(self._run)
        self._due.append((callback, args))

    def end(self) -> asyncio.Future[None]:
        """A future done at the end of the event loop's current turn (one per caller: a shared
        one would be cancelled for everyone by the first waiter's cancellation)."""
        self._loop = self._loop or asyncio.get_running_loop()
        future = self._loop.create_future()
        self.at_end(_release, future)
        return future

    def _run(self) -> None:
        due, self._due = self._due, []
        for callback, args in due:
            callback(*args)


def _release(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
