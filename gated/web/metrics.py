"""Prometheus metrics (SPEC §10) on a registry of our own. With several workers every process
writes to PROMETHEUS_MULTIPROC_DIR (set by `gated --workers N` before forking) and a scrape of any
worker adds them all up.

The hot path does not touch prometheus_client: a request's counts and observations are added to
plain dicts and folded into the metrics every FLUSH_SECONDS and before each scrape (one locked
update per label set and bucket instead of a dozen per request, SPEC §12). A scrape of the worker
that served the requests is exact; another worker's figures are at most FLUSH_SECONDS old."""

from __future__ import annotations

import asyncio
import bisect
import os
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gated import appkeys
from gated.routes import PUBLIC, Route

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
GUARDRAIL_BUCKETS = OVERHEAD_BUCKETS + (0.25, 0.5, 1.0, 2.5, 5.0, 10.0)   # remote services take longer
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FLUSH_SECONDS = 0.05
Key = tuple[Any, tuple[str, ...]]   # (metric, label values)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        r = self.registry
        self.requests = Counter("gated_requests_total", "HTTP requests answered, by route, model and status",
                                ["route", "model", "status"], registry=r)
        self.latency = Histogram("gated_request_duration_seconds", "Time to answer (whole stream for SSE)",
                                 ["route", "model"], buckets=LATENCY_BUCKETS, registry=r)
        self.overhead = Histogram("gated_overhead_seconds", "Time spent in the gateway, upstream excluded",
                                  ["model"], buckets=OVERHEAD_BUCKETS, registry=r)
        self.upstream_errors = Counter("gated_upstream_errors_total", "Failed upstream attempts, by deployment",
                                       ["deployment", "reason"], registry=r)
        self.guardrail_decisions = Counter("gated_guardrail_decisions_total",
                                           "Guardrail outcomes: allow, block, error, fail_open",
                                           ["guardrail", "outcome"], registry=r)
        self.guardrail_latency = Histogram("gated_guardrail_duration_seconds",
                                           "Time each guardrail took to judge a request", ["guardrail"],
                                           buckets=GUARDRAIL_BUCKETS, registry=r)
        self.spend = Counter("gated_spend_usd_total", "Spend recorded, in USD, by model group", ["model"],
                             registry=r)
        self.queue_depth = Gauge("gated_spend_queue_depth", "Spend rows waiting to be written",
                                 multiprocess_mode="livesum", registry=r)
        self._counts: dict[Key, float] = {}
        self._observed: dict[Key, list[float]] = {}   # histogram: [sum, count in bucket 0, 1, ...]
        self._flush_due = False

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: labels() takes a lock and builds keys every call."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _count(self, metric: Any, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (metric, labels)
        self._counts[key] = self._counts.get(key, 0.0) + amount
        if not self._flush_due:
            self._due()

    def _observe(self, metric: Any, labels: tuple[str, ...], value: float) -> None:
        key = (metric, labels)
        tally = self._observed.get(key)
        if tally is None:
            tally = self._observed[key] = [0.0] * (len(metric._upper_bounds) + 1)
        tally[0] += value
        tally[1 + bisect.bisect_left(metric._upper_bounds, value)] += 1   # le: the first bound >= value
        if not self._flush_due:
            self._due()

    def _due(self) -> None:
        self._flush_due = True
        try:
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
        except RuntimeError:   # no event loop (not on the serving thread): at once
            self.flush()

    def flush(self) -> None:
        """Fold what the requests since the last flush counted into prometheus_client."""
        self._flush_due = False
        counts, self._counts = self._counts, {}
        for (metric, labels), amount in counts.items():
            self._child(metric, *labels).inc(amount)
        observed, self._observed = self._observed, {}
        for (metric, labels), tally in observed.items():
            child = self._child(metric, *labels)
            child._sum.inc(tally[0])
            for bucket, count in zip(child._buckets, tally[1:], strict=True):
                if count:
                    bucket.inc(count)

    def count_guardrail(self, guardrail: str, outcome: str) -> None:
        self._count(self.guardrail_decisions, (guardrail, outcome))

    def time_guardrail(self, guardrail: str, seconds: float) -> None:
        self._observe(self.guardrail_latency, (guardrail,), seconds)

    def count_upstream_failure(self, deployment: str, reason: str) -> None:
        self._count(self.upstream_errors, (deployment, reason))

    def observe_request(self, route: str, model: str, status: int, seconds: float, overhead_ms: float | None,
                        spend: float | None) -> None:
        self._count(self.requests, (route, model, str(status)))
        self._observe(self.latency, (route, model), seconds)
        if overhead_ms is not None:
            self._observe(self.overhead, (model,), overhead_ms / 1000)
        if spend:
            self._count(self.spend, (model,), spend)

    def exposition(self) -> bytes:
        self.flush()
        if not self.multiprocess:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined)
        return generate_latest(combined)


async def metrics_endpoint(request: web.Request) -> web.Response:
    metrics = request.app[appkeys.METRICS]
    metrics.queue_depth.set(request.app[appkeys.SPEND].depth)
    return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


ROUTES = [Route("GET", "/metrics", metrics_endpoint, PUBLIC, "Prometheus metrics (all workers)", group="health")]
