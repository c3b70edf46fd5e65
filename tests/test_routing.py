"""SPEC §5.4 routing against real upstream servers: retries on another deployment, cooldowns,
per-deployment and whole-request timeouts, least-busy and weighted choice."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.gated import MASTER_KEY, free_port, upstream_config

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


def chat(instance, model: str, timeout: float = 15) -> httpx.Response:
    return httpx.post(instance.url + "/v1/chat/completions", headers=AUTH, timeout=timeout,
                      json={"model": model, "messages": [{"role": "user", "content": "hi"}]})


def test_first_deployment_down_second_answers(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["ok-model"]})
    dead = {**config["model_list"][0], "litellm_params": {**config["model_list"][0]["litellm_params"],
                                                          "api_base": f"http://127.0.0.1:{free_port()}/v1"}}
    dead["litellm_params"]["weight"] = 10_000   # so the dead one is nearly always tried first
    config["model_list"].insert(0, dead)
    config["router_settings"].update(allowed_fails=100, routing_strategy="simple-shuffle")
    instance = gated(config)
    for _ in range(6):
        assert chat(instance, "g").status_code == 200
    rows = instance.wait_rows(6)
    assert {r["deployment"] for r in rows} == {"g#1 openai/ok-model"}
    assert {r["status"] for r in rows} == {"success"}
    failures = [line for line in httpx.get(instance.url + "/metrics").text.splitlines()
                if line.startswith("gated_upstream_errors_total{") and "g#0" in line]
    assert failures and float(failures[0].split()[-1]) >= 5, "the dead deployment was tried, then the live one"


def test_failing_deployment_cools_down(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["fail500-a", "ok-b"]}, allowed_fails=1, cooldown_time=60)
    instance = gated(config)
    for _ in range(8):
        assert chat(instance, "g").status_code == 200
    failing_hits = [r for r in upstream.received if r.body["model"] == "fail500-a"]
    assert len(failing_hits) <= 1, "after one failure the deployment must get no traffic for cooldown_time"
    assert "cooling down" in instance.logs()


def test_all_cooling_down_answers_502_with_retry_after(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["fail500-a"]}, allowed_fails=1, cooldown_time=60,
                             num_retries=0)
    instance = gated(config)
    assert chat(instance, "g").status_code == 502
    response = chat(instance, "g")
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_error"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(upstream.received) == 1


def test_slow_deployment_times_out_and_the_next_answers(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["slow-a", "ok-b"]}, allowed_fails=100)
    config["model_list"][0]["litellm_params"]["timeout"] = 0.5
    instance = gated(config)
    started = time.monotonic()
    for _ in range(3):
        assert chat(instance, "g").status_code == 200
    assert time.monotonic() - started < 2.9, "a 0.5 s deployment timeout must not wait for the 3 s upstream"


def test_whole_request_timeout_is_504(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["slow-a", "slow-b"]}, timeout=1)
    instance = gated(config)
    started = time.monotonic()
    response = chat(instance, "g")
    assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 2.5


def test_a_slow_mock_deployment_times_out_like_any_other(gated):
    """The mock provider keeps the timeout contract too: a 3 s mock latency against a 0.5 s
    deployment timeout is a 504 after about 0.5 s, and the row says so."""
    config = {"model_list": [{"model_name": "g", "litellm_params": {"model": "mock/m", "mock_latency_ms": 3000,
                                                                   "timeout": 0.5}}],
              "router_settings": {"num_retries": 0}, "general_settings": {"master_key": MASTER_KEY}}
    instance = gated(config)
    started = time.monotonic()
    response = chat(instance, "g")
    assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 2
    assert instance.wait_rows(1)[0]["error_code"] == "upstream_timeout"


def test_least_busy_spreads_concurrent_requests(gated, upstream):
    upstream.slow_seconds = 0.5
    config = upstream_config(upstream.base, {"g": ["slow-a", "slow-b"]})
    instance = gated(config)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: chat(instance, "g"), range(2)))
    assert [r.status_code for r in results] == [200, 200]
    assert sorted(r.body["model"] for r in upstream.received) == ["slow-a", "slow-b"]


def test_weighted_shuffle_follows_weights(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["heavy", "light"]}, routing_strategy="simple-shuffle")
    config["model_list"][0]["litellm_params"]["weight"] = 1000
    config["model_list"][1]["litellm_params"]["weight"] = 1
    instance = gated(config)
    for _ in range(20):
        assert chat(instance, "g").status_code == 200
    heavy = sum(1 for r in upstream.received if r.body["model"] == "heavy")
    assert heavy >= 18
