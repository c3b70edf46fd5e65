"""Turns: while several LLM requests are in flight, what they write is held to the end of the
event loop's current turn, so that the writes of one turn leave back to back (SPEC §12).

Each write to a peer that sleeps wakes it, and on a VM the wake-up is an inter-processor
interrupt that costs the writer about 8 µs, a twentieth of a request. Written one by one as each
request reached them, a local upstream's requests and the clients' answers woke their peers
about twice per request. Now the upstream requests of a turn are written together at its end
(gated.providers.transport), and the whole answers of a turn are handed back to aiohttp together
just after it (gated.proxy.handlers): a peer woken by the first finds the rest waiting. Error
answers and streamed events are written at once, and so is everything of a request alone in
flight: there is nothing to wait for."""

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
        """callback(*args) at the end of the event loop's current turn, after those asked before it."""
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
            try:
                callback(*args)
            except Exception as exc:   # noqa: BLE001 - the callbacks after it must still run
                assert self._loop is not None
                self._loop.call_exception_handler({"message": "a Turns callback failed", "exception": exc})


def _release(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
