"""The guardrail runner: local guardrails first, in order (a refusal there means no remote service
ever sees the text), then the remote ones concurrently, each under its timeout. The first block
cancels the rest and wins over any error; a failed service follows its `on_error` policy."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gated.config import CallbackSettings
from gated.errors import GatewayError, GuardrailUnavailable
from gated.guardrails.base import CheckContext, Guardrail, GuardrailError, Verdict
from gated.guardrails.stream import StreamKeywordGuard
from gated.logs import ms

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    timings_ms: dict[str, float] = field(default_factory=dict)
    failed_open: list[str] = field(default_factory=list)


def _refusal(guardrail: Guardrail, verdict: Verdict) -> GatewayError:
    """The guardrail's error, named after it so spend rows and clients can tell who refused."""
    error = verdict.error
    assert error is not None
    error.rejected_by = guardrail.name
    error.extra.setdefault("guardrail", guardrail.name)
    return error


class GuardrailRunner:
    def __init__(self, guardrails: list[Guardrail], policies: dict[str, CallbackSettings],
                 record: Callable[[str, str], None] = lambda guardrail, outcome: None,
                 timed: Callable[[str, float], None] = lambda guardrail, seconds: None) -> None:
        self.local = [g for g in guardrails if g.local]
        self.remote = [g for g in guardrails if not g.local]
        self.output = [g for g in guardrails if g.checks_output]
        self.policies = policies
        self.record = record  # (guardrail, outcome): allow, block, error or fail_open → metrics
        self.timed = timed    # (guardrail, seconds) of each input check → metrics

    def __bool__(self) -> bool:
        return bool(self.local or self.remote)

    def policy(self, guardrail: Guardrail) -> CallbackSettings:
        return self.policies.get(guardrail.name) or CallbackSettings()

    def _count(self, guardrail: Guardrail, verdict: Verdict) -> None:
        self.record(guardrail.name, "allow" if verdict.allowed else "block")

    async def check_input(self, ctx: CheckContext, report: RunReport) -> None:
        """Return normally when allowed; raise the refusal (or 503 guardrail_unavailable). `report`
        gets each guardrail's time, whatever the outcome."""
        for guardrail in self.local:
            started = time.perf_counter()
            verdict = await guardrail.check(ctx)
            self._time(report, guardrail, started)
            self._count(guardrail, verdict)
            if not verdict.allowed:
                raise _refusal(guardrail, verdict)
        if self.remote:
            await self._run_remote(ctx, report, lambda g: g.check(ctx))

    def _time(self, report: RunReport, guardrail: Guardrail, started: float) -> None:
        seconds = time.perf_counter() - started
        report.timings_ms[guardrail.name] = ms(seconds)
        self.timed(guardrail.name, seconds)

    def stream_guard(self) -> StreamKeywordGuard | None:
        for guardrail in self.output:
            guard = guardrail.stream_guard()
            if guard is not None:
                return guard
        return None

    async def check_output(self, ctx: CheckContext, texts: list[str]) -> None:
        for guardrail in self.output:
            verdict = await guardrail.check_output(ctx, texts)
            self._count(guardrail, verdict)
            if not verdict.allowed:
                raise _refusal(guardrail, verdict)

    async def _run_remote(self, ctx: CheckContext, report: RunReport,
                          call: Callable[[Guardrail], Awaitable[Verdict]]) -> None:
        async def timed(guardrail: Guardrail) -> tuple[Guardrail, Verdict | None, str | None]:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.policy(guardrail).timeout):
                    return guardrail, await call(guardrail), None
            except TimeoutError:
                return guardrail, None, "timed out"
            except GuardrailError as exc:
                return guardrail, None, str(exc) or type(exc).__name__
            except Exception as exc:  # a bug in a guardrail is a failure of that guardrail, not of the request
                log.exception("guardrail %s failed unexpectedly", guardrail.name)
                return guardrail, None, type(exc).__name__
            finally:
                self._time(report, guardrail, started)

        tasks = [asyncio.create_task(timed(g)) for g in self.remote]
        failures: list[tuple[Guardrail, str]] = []
        try:
            for next_done in asyncio.as_completed(tasks):
                guardrail, verdict, failure = await next_done
                if verdict is not None:
                    self._count(guardrail, verdict)
                    if not verdict.allowed:
                        raise _refusal(guardrail, verdict)
                if failure is not None:
                    self.record(guardrail.name, "error")
                    failures.append((guardrail, failure))
        finally:
            for task in tasks:
                task.cancel()
        for guardrail, failure in failures:
            if self.policy(guardrail).on_error == "fail_open":
                log.warning("guardrail %s failed (%s); on_error is fail_open, so the request proceeds",
                            guardrail.name, failure)
                report.failed_open.append(guardrail.name)
                self.record(guardrail.name, "fail_open")
            else:
                raise GuardrailUnavailable(f"the {guardrail.name} guardrail is unavailable; try again later",
                                           extra={"guardrail": guardrail.name})
