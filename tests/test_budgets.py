"""SPEC §5.3 budgets, stricter than the seed: worst-case reservation means `spend <= max_budget`
always holds, under 50 concurrent requests, for key, team and user budgets, also with
--workers 2; the boundary; budget periods; model_not_priced; rate limits with Retry-After."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config, upstream_config

# "hello" → 2 prompt tokens; the fixed 40-byte reply → 10 completion tokens = max_tokens, so the
# worst case equals the real cost: 2 × $1/M + 10 × $2/M
COST = 2e-6 + 10 * 2e-6
BODY = {"model": "llama3", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 10,
        "mock_response": "abcd" * 10}


def burst(url: str, key: str, count: int = 50) -> list[int]:
    def call(_: int) -> int:
        return httpx.post(url + "/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {key}"},
                          timeout=30).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def spend_of(instance, table: str, pk: str, value: str) -> tuple[float, float, float]:
    conn = sqlite3.connect(instance.db)
    try:
        return conn.execute(f"select spend, reserved, max_budget from {table} where {pk} = ?", (value,)).fetchone()
    finally:
        conn.close()


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("owner", ["key", "team", "user"])
def test_fifty_concurrent_requests_on_a_budget_for_five(gated, owner, workers):
    instance = gated(mock_config(), "--workers", workers)
    admin = Api(instance.url, MASTER_KEY)
    budget = 5 * COST
    admin.ok("/team/new", {"team_id": "t", **({"max_budget": budget} if owner == "team" else {})})
    admin.ok("/user/new", {"user_id": "u", **({"max_budget": budget} if owner == "user" else {})})
    key = admin.ok("/key/generate", {"team_id": "t", "user_id": "u",
                                     **({"max_budget": budget} if owner == "key" else {})})
    statuses = burst(instance.url, key["key"])
    assert statuses.count(200) == 5 and statuses.count(429) == 45
    rows = instance.wait_rows(50)
    assert sum(1 for r in rows if r["status"] == "success") == 5
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert len(rejected) == 45 and {r["rejected_by"] for r in rejected} == {"budget"}
    assert all(r["spend"] == 0 for r in rejected)
    table, pk, value = {"key": ("keys", "token_id", key["token_id"]), "team": ("teams", "team_id", "t"),
                        "user": ("users", "user_id", "u")}[owner]
    spend, reserved, max_budget = spend_of(instance, table, pk, value)
    assert spend <= max_budget + 1e-12 and spend == pytest.approx(budget) and reserved == pytest.approx(0)
    refused = Api(instance.url, key["key"]).post("/v1/chat/completions", BODY)
    assert refused.status_code == 429, "spend exactly at the budget refuses the next request"
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    assert refused.headers["x-should-retry"] == "false"


def test_budget_duration_resets_period_spend_not_lifetime(gated):
    instance = gated(mock_config())
    admin = Api(instance.url, MASTER_KEY)
    key = admin.ok("/key/generate", {"max_budget": COST, "budget_duration": "1s"})
    caller = Api(instance.url, key["key"])
    assert caller.post("/v1/chat/completions", BODY).status_code == 200
    instance.wait_rows(1)
    import time
    time.sleep(1.2)
    assert caller.post("/v1/chat/completions", BODY).status_code == 200, "a new period starts with spend 0"
    instance.wait_rows(2)
    info = admin.get("/key/info", key=key["token_id"]).json()["info"]
    assert info["lifetime_spend"] == pytest.approx(2 * COST) and info["spend"] == pytest.approx(COST)


def test_budgeted_key_may_not_use_an_unpriced_model(gated, upstream):
    config = mock_config()
    config["model_list"].append({"model_name": "free-for-all", "litellm_params": {
        "model": "openai/private-model", "api_base": upstream.base}})
    instance = gated(config)
    admin = Api(instance.url, MASTER_KEY)
    budgeted = Api(instance.url, admin.ok("/key/generate", {"max_budget": 1})["key"])
    response = budgeted.chat("free-for-all")
    assert response.status_code == 403 and response.json()["error"]["code"] == "model_not_priced"
    unbudgeted = Api(instance.url, admin.ok("/key/generate", {})["key"])
    assert unbudgeted.chat("free-for-all").status_code == 200
    assert len(upstream.received) == 1


def test_rpm_limit_with_retry_after(gated):
    instance = gated(mock_config())
    admin = Api(instance.url, MASTER_KEY)
    key = Api(instance.url, admin.ok("/key/generate", {"rpm_limit": 3})["key"])
    if time.time() % 60 > 55:   # rpm counts per UTC minute: five requests across a new minute are all fine
        time.sleep(61 - time.time() % 60)
    statuses = [key.chat("llama3") for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    error = statuses[3].json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert 1 <= int(statuses[3].headers["Retry-After"]) <= 60
    rows = instance.wait_rows(5)
    assert [r["rejected_by"] for r in rows] == [None, None, None, "rate_limit", "rate_limit"]


def test_max_parallel_requests_across_workers(gated):
    config = mock_config()
    config["model_list"].append({"model_name": "sleepy", "litellm_params": {"model": "mock/sleepy",
                                                                            "mock_latency_ms": 1500}})
    instance = gated(config, "--workers", "2")
    admin = Api(instance.url, MASTER_KEY)
    key = admin.ok("/key/generate", {"max_parallel_requests": 2})

    def call(_: int) -> int:
        return httpx.post(instance.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key['key']}"},
                          json={**BODY, "model": "sleepy"}, timeout=30).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(call, range(10)))
    assert statuses.count(200) == 2 and statuses.count(429) == 8
    assert Api(instance.url, key["key"]).post("/v1/chat/completions", BODY).status_code == 200, \
        "finished requests give their slots back"


def test_team_tpm_limit(gated):
    instance = gated(mock_config())
    admin = Api(instance.url, MASTER_KEY)
    admin.ok("/team/new", {"team_id": "t", "tpm_limit": 20})
    key = Api(instance.url, admin.ok("/key/generate", {"team_id": "t"})["key"])
    first = key.post("/v1/chat/completions", {**BODY, "mock_response": "x" * 100})  # 2 + 25 tokens
    assert first.status_code == 200
    instance.wait_rows(1)
    second = key.post("/v1/chat/completions", BODY)
    assert second.status_code == 429 and "tpm_limit" in second.json()["error"]["message"]


def test_sequential_requests_use_the_whole_budget(gated):
    """Reservations are settled as each request ends, so sequential callers are refused only when
    the real spend leaves no room for another worst case — not because rows wait in a queue."""
    instance = gated(mock_config())
    admin = Api(instance.url, MASTER_KEY)
    key = Api(instance.url, admin.ok("/key/generate", {"max_budget": 10 * COST})["key"])
    statuses = [key.post("/v1/chat/completions", BODY).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429, 429]


def test_regenerate_while_a_request_is_in_flight(gated):
    """The request settles on the regenerated key: its cost counts, its reservation and parallel
    slot are given back, and the key's history (rows, roll-ups) follows it to the new token_id."""
    config = mock_config()
    config["model_list"].append({"model_name": "sleepy", "litellm_params": {"model": "mock/sleepy",
                                                                            "mock_latency_ms": 1500}})
    instance = gated(config)
    admin = Api(instance.url, MASTER_KEY)
    created = admin.ok("/key/generate", {"max_budget": 1, "max_parallel_requests": 1})
    old = Api(instance.url, created["key"])
    assert old.post("/v1/chat/completions", BODY).status_code == 200
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(old.post, "/v1/chat/completions", {**BODY, "model": "sleepy"})
        deadline = time.monotonic() + 5
        while not instance.rows("select * from in_flight where count > 0") and time.monotonic() < deadline:
            time.sleep(0.02)
        fresh = admin.ok("/key/regenerate", {"key": created["token_id"]})
        assert slow.result().status_code == 200
    rows = instance.wait_rows(2)
    assert {r["token_id"] for r in rows} == {fresh["token_id"]}
    info = admin.get("/key/info", key=fresh["token_id"]).json()["info"]
    assert info["spend"] == info["lifetime_spend"] == pytest.approx(2 * COST)
    assert instance.rows("select reserved from keys") == [{"reserved": 0}]
    assert Api(instance.url, fresh["key"]).post("/v1/chat/completions", BODY).status_code == 200, \
        "the parallel slot was given back"
    instance.wait_rows(3)
    summary = admin.get("/spend/keys").json()["data"]
    assert [(s["token_id"], s["total_spend"]) for s in summary] == [(fresh["token_id"], pytest.approx(3 * COST))]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_budget_for_five_lets_at_most_five_calls_reach_the_upstream(gated, upstream, workers):
    """The same burst against a recording upstream: what it received is what was admitted. Its
    answer costs 11 × $1/M + 8 × $2/M = $27/M; with max_tokens 13 the worst case is
    2 × $1/M + 13 × $2/M = $28/M, so a budget of five worst cases admits five."""
    instance = gated(upstream_config(upstream.base, {"g": ["m"]}), "--workers", workers)
    admin = Api(instance.url, MASTER_KEY)
    key = admin.ok("/key/generate", {"max_budget": 5 * 28e-6})
    body = {"model": "g", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 13}

    def call(_: int) -> int:
        return httpx.post(instance.url + "/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {key['key']}"}).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(call, range(50)))
    assert statuses.count(200) == 5 and statuses.count(429) == 45
    assert len(upstream.received) == 5
    instance.wait_rows(50)
    spend, reserved, max_budget = spend_of(instance, "keys", "token_id", key["token_id"])
    assert spend == pytest.approx(5 * 27e-6) and spend <= max_budget and reserved == pytest.approx(0)
