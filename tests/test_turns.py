"""gated.turns: what is asked during a turn of the event loop runs at its end, in order; one
failing callback does not strand the others; each waiter of end() is released on its own, so one
waiter's cancellation does not cancel the rest. (Through gated, the burst test in
test_upstream_wire.py shows requests and answers held this way each reach their own client.)"""

from __future__ import annotations

import asyncio

import uvloop

from gated.turns import Turns


def run(coro):
    return uvloop.run(coro)


def test_callbacks_run_after_the_current_turn_in_the_order_asked():
    async def scenario() -> list[str]:
        turns, seen = Turns(), []
        turns.at_end(seen.append, "first")
        turns.at_end(seen.append, "second")
        seen.append("this turn")
        await asyncio.sleep(0)       # one more turn
        seen.append("next turn")
        return seen

    assert run(scenario()) == ["this turn", "first", "second", "next turn"]


def test_a_failing_callback_is_reported_and_the_rest_still_run():
    async def scenario() -> tuple[list[str], list[str], bool]:
        loop = asyncio.get_running_loop()
        reported: list[str] = []
        loop.set_exception_handler(lambda _loop, context: reported.append(repr(context.get("exception"))))
        turns, sent = Turns(), []
        turns.at_end(lambda: 1 / 0)
        turns.at_end(sent.append, "B")
        waiter = turns.end()
        await asyncio.wait_for(waiter, 1)
        return sent, reported, waiter.done()

    sent, reported, released = run(scenario())
    assert sent == ["B"] and released
    assert reported == ["ZeroDivisionError('division by zero')"]


def test_cancelling_one_waiter_leaves_the_others_released():
    async def scenario() -> tuple[bool, bool]:
        turns = Turns()

        async def wait() -> str:
            await turns.end()
            return "released"

        first, second = asyncio.ensure_future(wait()), asyncio.ensure_future(wait())
        await asyncio.sleep(0)       # both are waiting
        first.cancel()
        result = await asyncio.wait_for(second, 1)
        return first.cancelled(), result == "released"

    assert run(scenario()) == (True, True)
