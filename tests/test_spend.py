"""SPEC §7 spend rows: one per answered request with the right tokens, cost and flags; tags from
every source; nothing lost when gated is stopped with SIGTERM under load."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading

import httpx
import openai
import pytest

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config, upstream_config

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
PRICE_IN, PRICE_OUT = 1e-6, 2e-6


@pytest.fixture
def proxy(gated, upstream):
    return gated(upstream_config(upstream.base, {"gpt-4o": ["real-gpt-4o"], "nousage": ["nousage-model"]}))


def test_rows_for_plain_streamed_aborted_and_usage_less_requests(proxy):
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    messages = [{"role": "user", "content": "hello there friend"}]
    client.chat.completions.create(model="gpt-4o", messages=messages)
    list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True,
                                        stream_options={"include_usage": True}))
    client.chat.completions.create(model="nousage", messages=messages)
    list(client.chat.completions.create(model="nousage", messages=messages, stream=True))
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", headers=AUTH,
                      json={"model": "gpt-4o", "stream": True, "chunk_delay": 0.3, "messages": messages}) as r:
        next(line for line in r.iter_lines() if line.startswith("data:"))
    client.close()

    rows = proxy.wait_rows(6)
    assert len(rows) == 6
    exact = rows[:3]
    for row in exact:
        assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (11, 8, 19)
        assert row["spend"] == pytest.approx(11 * PRICE_IN + 8 * PRICE_OUT)
        assert (row["usage_estimated"], row["cost_status"], row["status"]) == (0, "exact", "success")
        assert row["model"] == "openai/real-gpt-4o" and row["deployment"] == "gpt-4o#0 openai/real-gpt-4o"
    for row in rows[3:5]:  # no usage from upstream: ceil(18 bytes / 4) = 5 prompt, ceil(39 / 4) = 10 completion
        assert (row["prompt_tokens"], row["completion_tokens"]) == (5, 10)
        assert (row["usage_estimated"], row["cost_status"], row["status"]) == (1, "estimated", "success")
        assert row["spend"] == pytest.approx(5 * PRICE_IN + 10 * PRICE_OUT)
    aborted = rows[5]
    assert (aborted["status"], aborted["error_code"], aborted["usage_estimated"]) == ("error", "client_disconnected", 1)
    assert 1 <= aborted["completion_tokens"] < 10 and aborted["spend"] > 0
    assert all(r["call_type"] == "chat" and r["model_group"] in ("gpt-4o", "nousage") for r in rows)
    assert rows[1]["ttft_ms"] is not None and rows[0]["ttft_ms"] is None
    assert len({r["request_id"] for r in rows}) == 6


def test_streamed_and_plain_cost_the_same(proxy):
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    messages = [{"role": "user", "content": "same"}]
    client.chat.completions.create(model="gpt-4o", messages=messages)
    list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    client.close()
    plain, streamed = proxy.wait_rows(2)
    assert plain["spend"] == streamed["spend"] and plain["total_tokens"] == streamed["total_tokens"]


def test_tags_from_metadata_body_and_header_deduplicated(proxy):
    response = httpx.post(proxy.url + "/v1/chat/completions",
                          headers={**AUTH, "x-gated-tags": "hdr, b"},
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
                                "metadata": {"tags": ["a", "b", "a"], "spend_logs_metadata": {"team": "web"}},
                                "tags": ["c"], "user": "customer-9"})
    assert response.status_code == 200
    [row] = proxy.wait_rows(1)
    assert json.loads(row["tags"]) == ["a", "b", "c", "hdr"]
    assert json.loads(row["spend_logs_metadata"]) == {"team": "web"}
    assert row["end_user"] == "customer-9" and row["token_id"] is None
    tag_rows = proxy.rows("select tag, spend, status from spend_log_tags order by tag")
    assert [t["tag"] for t in tag_rows] == ["a", "b", "c", "hdr"]
    assert all(t["spend"] == row["spend"] and t["status"] == "success" for t in tag_rows)


def test_unknown_price_is_null_with_cost_status_unknown(gated, upstream):
    config = upstream_config(upstream.base, {"priceless": ["some-private-model"]})
    params = config["model_list"][0]["litellm_params"]
    del params["input_cost_per_token"], params["output_cost_per_token"]
    instance = gated(config)
    response = httpx.post(instance.url + "/v1/chat/completions", headers=AUTH,
                          json={"model": "priceless", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 200 and "x-gated-response-cost" not in response.headers
    [row] = instance.wait_rows(1)
    assert row["spend"] is None and row["cost_status"] == "unknown" and row["total_tokens"] == 19
    httpx.post(instance.url + "/v1/chat/completions", headers=AUTH,
               json={"model": "priceless", "messages": [{"role": "user", "content": "again"}]})
    warnings = [line for line in instance.logs().splitlines() if "no price for deployment" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], "warned once per deployment, not per request"


def test_builtin_price_table_is_used(gated, upstream):
    config = upstream_config(upstream.base, {"gpt-4o": ["gpt-4o"]})
    params = config["model_list"][0]["litellm_params"]
    del params["input_cost_per_token"], params["output_cost_per_token"]
    instance = gated(config)
    httpx.post(instance.url + "/v1/chat/completions", headers=AUTH,
               json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    [row] = instance.wait_rows(1)
    assert row["spend"] == pytest.approx(11 * 2.5e-6 + 8 * 10e-6)


def test_sigterm_under_load_loses_no_row(gated, upstream):
    instance = gated(upstream_config(upstream.base, {"gpt-4o": ["real-gpt-4o"]}))
    answered = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(headers=AUTH, timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.post(instance.url + "/v1/chat/completions",
                                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    answered.append(response.headers["x-gated-request-id"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    while len(answered) < 200:
        threading.Event().wait(0.01)
    assert instance.stop(signal.SIGTERM) == 0
    stop.set()
    for thread in threads:
        thread.join(10)
    stored = {r["request_id"] for r in instance.rows()}
    assert len(answered) >= 200
    assert set(answered) <= stored, f"{len(set(answered) - stored)} answered requests have no spend row"


def test_a_row_that_cannot_be_written_does_not_stop_the_rows_behind_it(gated):
    """A real fault: a key row from an older gated holds a budget period this one refuses
    ("999999w"). Its requests fail with 500 and their spend rows cannot be settled; every other
    row is still written, and SIGTERM still exits at once."""
    instance = gated(mock_config())
    api = Api(instance.url, MASTER_KEY)
    broken = api.ok("/key/generate", {"max_budget": 1, "budget_duration": "1d"})
    conn = sqlite3.connect(instance.db)
    conn.execute("UPDATE keys SET budget_duration = '999999w' WHERE token_id = ?", (broken["token_id"],))
    conn.commit()
    conn.close()
    api.ok("/key/update", {"key": broken["token_id"], "tags": ["reload"]})   # the caches read the row again
    failed = api.as_key(broken["key"]).chat("llama3")
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
    for _ in range(3):
        assert api.chat("llama3").status_code == 200
    rows = instance.wait_rows(3)
    assert [r["status"] for r in rows] == ["success"] * 3
    assert instance.stop(timeout=10) == 0
    assert f"spend row of request {failed.headers['x-gated-request-id']} cannot be written" in instance.logs()
