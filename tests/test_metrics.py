"""SPEC §10 /metrics: Prometheus text that prometheus_client's own parser reads, with counters that
move after requests (requests, latency, overhead, spend, upstream errors, guardrail decisions), also
summed across `--workers 2`."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, free_port, mock_config


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move(gated):
    config = mock_config()
    config["model_list"].append({"model_name": "down", "litellm_params": {
        "model": "openai/x", "api_base": f"http://127.0.0.1:{free_port()}/v1", "input_cost_per_token": 0,
        "output_cost_per_token": 0}})
    config["router_settings"] = {"num_retries": 0}
    config["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": ["forbidden"]}
    instance = gated(config)
    api = Api(instance.url, MASTER_KEY)
    before = samples(instance.url)
    for _ in range(3):
        assert api.chat("llama3").status_code == 200
    assert api.chat("llama3", messages=[{"role": "user", "content": "forbidden"}]).status_code == 400
    assert api.chat("down").status_code == 502
    after = samples(instance.url)
    route = "/v1/chat/completions"
    assert value(after, "gated_requests_total", route=route, model="llama3", status="200") - \
        value(before, "gated_requests_total", route=route, model="llama3", status="200") == 3
    assert value(after, "gated_requests_total", route=route, model="llama3", status="400") == 1
    assert value(after, "gated_request_duration_seconds_count", route=route, model="llama3") == 4
    buckets = [value(after, "gated_request_duration_seconds_bucket", route=route, model="llama3", le=le)
               for le in ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "+Inf")]
    assert buckets == sorted(buckets) and buckets[-2:] == [4, 4], "cumulative buckets; all four under 1 s"
    assert 0 < value(after, "gated_request_duration_seconds_sum", route=route, model="llama3") < 4
    assert value(after, "gated_overhead_seconds_count", model="llama3") == 3
    assert value(after, "gated_spend_usd_total", model="llama3") > 0
    assert value(after, "gated_guardrail_decisions_total", guardrail="banned_keywords", outcome="allow") >= 3
    assert value(after, "gated_guardrail_decisions_total", guardrail="banned_keywords", outcome="block") == 1
    assert value(after, "gated_guardrail_duration_seconds_count", guardrail="banned_keywords") == 5
    assert sum(v for (name, _), v in after.items() if name == "gated_upstream_errors_total") == 1
    assert ("gated_spend_queue_depth", ()) in after


def test_metrics_add_up_across_workers(gated):
    instance = gated(mock_config(), "--workers", "2")
    for _ in range(10):
        with httpx.Client() as client:  # fresh connections spread over both workers
            client.post(instance.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                        json={"model": "llama3", "messages": [{"role": "user", "content": "x"}]})
    time.sleep(0.2)   # a worker folds its requests into the shared metrics every 50 ms
    totals = set()
    for _ in range(4):
        with httpx.Client() as client:
            found = samples(instance.url)
            totals.add(value(found, "gated_requests_total", route="/v1/chat/completions", model="llama3",
                             status="200"))
    assert totals == {10.0}, "every worker's scrape reports the sum over both workers"
