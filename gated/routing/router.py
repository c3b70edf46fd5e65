"""The Router: per-deployment state (in flight, recent failures, cooldown) and the retry loop.
Retryable: connect errors, timeouts, 429 and 5xx, and only before a response has been handed
back (so never after a stream started). Other upstream answers are returned as they are."""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gated.config import Config, Deployment, RouterSettings
from gated.errors import UpstreamFailed, UpstreamTimeout
from gated.pricing import Price, price_for
from gated.providers.base import Provider, UpstreamCall, UpstreamResponse

log = logging.getLogger(__name__)
FAIL_WINDOW_SECONDS = 60.0


@dataclass(eq=False)
class DeploymentState:
    deployment: Deployment
    label: str                        # "<group>#<n> <provider/model>", safe to log and store
    price: Price | None = None        # None: unpriced (its spend rows say cost_status unknown)
    in_flight: int = 0
    fails: deque[float] = field(default_factory=deque)
    cooldown_until: float = 0.0
    warned_unpriced: bool = False


@dataclass(eq=False)
class Lease:
    """A deployment answered; hold the lease until its response is fully relayed."""

    state: DeploymentState
    response: UpstreamResponse
    attempts: int

    def release(self) -> None:
        self.state.in_flight -= 1
        self.response.release()


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


class Router:
    def __init__(self, config: Config, providers: dict[str, Provider],
                 clock: Callable[[], float] = time.perf_counter,
                 on_failure: Callable[[str, str], None] = lambda deployment, reason: None) -> None:
        self.on_failure = on_failure
        self.settings: RouterSettings = config.router_settings
        self.providers = providers
        self.clock = clock
        self.groups: dict[str, list[DeploymentState]] = {
            name: [DeploymentState(d, f"{name}#{i} {d.litellm_params.model}", price_for(d.litellm_params))
                   for i, d in enumerate(deps)]
            for name, deps in config.groups().items()
        }

    def _healthy(self, states: list[DeploymentState], now: float) -> list[DeploymentState]:
        return [s for s in states if s.cooldown_until <= now]

    def _pick(self, candidates: list[DeploymentState]) -> DeploymentState:
        if len(candidates) == 1:
            return candidates[0]
        if self.settings.routing_strategy == "simple-shuffle":
            weights = [s.deployment.litellm_params.weight for s in candidates]
            return random.choices(candidates, weights=weights)[0]
        least = min(s.in_flight for s in candidates)
        return random.choice([s for s in candidates if s.in_flight == least])

    def _record_failure(self, state: DeploymentState, reason: str) -> None:
        now = self.clock()
        state.fails.append(now)
        while state.fails and state.fails[0] < now - FAIL_WINDOW_SECONDS:
            state.fails.popleft()
        log.warning("upstream %s failed: %s", state.label, reason)
        self.on_failure(state.label, reason.split(" (")[0])
        if len(state.fails) >= self.settings.allowed_fails and self.settings.cooldown_time > 0:
            state.cooldown_until = now + self.settings.cooldown_time
            state.fails.clear()
            log.warning("upstream %s cooling down for %ss", state.label, self.settings.cooldown_time)

    async def send(self, group: str, build: Callable[[Deployment, float], UpstreamCall],
                   deadline: float) -> Lease:
        """Send to the group's deployments until one answers (any non-retryable status)."""
        states = self.groups[group]
        tried: set[int] = set()
        last_timeout = False
        last_reason = "no deployment available"
        for attempt in range(1 + self.settings.num_retries):
            now = self.clock()
            remaining = deadline - now
            if remaining <= 0:
                last_timeout, last_reason = True, "request deadline passed"
                break
            healthy = self._healthy(states, now)
            if not healthy:
                retry_in = max(1, int(min(s.cooldown_until for s in states) - now + 0.999))
                raise UpstreamFailed(f"every deployment of '{group}' is cooling down after failures",
                                     headers={"Retry-After": str(retry_in)})
            fresh = [s for s in healthy if id(s) not in tried]
            state = self._pick(fresh or healthy)
            tried.add(id(state))
            call = build(state.deployment, remaining)
            provider = self.providers[state.deployment.litellm_params.provider]
            state.in_flight += 1
            try:   # a provider answers within min(total_timeout, read_timeout) or raises TimeoutError
                response = await provider.send(state.deployment.litellm_params, call)
            except TimeoutError:
                state.in_flight -= 1
                last_timeout, last_reason = True, "timed out"
                self._record_failure(state, last_reason)
                continue
            except OSError as exc:   # transport.UpstreamError included
                state.in_flight -= 1
                last_timeout, last_reason = False, f"connection failed ({type(exc).__name__})"
                self._record_failure(state, last_reason)
                continue
            if _retryable_status(response.status):
                state.in_flight -= 1
                response.release()
                last_timeout, last_reason = False, f"HTTP {response.status}"
                self._record_failure(state, last_reason)
                continue
            return Lease(state, response, attempt + 1)
        if last_timeout:
            raise UpstreamTimeout(f"the upstream for '{group}' did not answer in time")
        raise UpstreamFailed(f"every attempt for '{group}' failed (last: {last_reason})")
