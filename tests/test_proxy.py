"""The OpenAI-compatible surface through a real gated and the official openai SDK against a
recording upstream: forwarding rules, streaming relay, usage, request ids and x-gated headers."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import openai
import pytest

from tests.support.gated import MASTER_KEY, upstream_config


@pytest.fixture
def proxy(gated, upstream):
    config = upstream_config(upstream.base, {"gpt-4o": ["real-gpt-4o"], "nousage": ["nousage-model"],
                                             "embed": ["embed-model"], "mod": ["mod-model"]})
    config["model_list"][3]["model_info"] = {"mode": "moderation"}
    return gated(config)


def sdk(instance, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=instance.url + "/v1", api_key=MASTER_KEY, max_retries=0, **kw)


def test_chat_sync_forwards_body_with_model_rewritten_and_gateway_fields_stripped(proxy, upstream):
    reply = sdk(proxy).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], temperature=0.3, user="end-user-7",
        extra_body={"metadata": {"tags": ["a"]}, "tags": ["b"], "user_id": "u1", "mock_response": "x",
                    "custom_field": {"kept": True}},
        extra_headers={"x-request-id": "req-abc-123"},
    )
    assert reply.choices[0].message.content == "one two three four five six seven eight"
    assert reply.usage.total_tokens == 19
    [received] = upstream.received
    assert received.path == "/v1/chat/completions"
    assert received.body == {"model": "real-gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                             "temperature": 0.3, "user": "end-user-7", "custom_field": {"kept": True}}
    assert received.headers["Authorization"] == "Bearer sk-provider-secret-abcdefghijklmnop0123"
    # a non-UUID client id goes upstream verbatim in x-gated-request-id, and as a derived UUID in
    # x-request-id (llama.cpp's server refuses other x-request-id values)
    assert received.headers["x-gated-request-id"] == "req-abc-123"
    assert received.headers["x-request-id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "gated:req-abc-123"))


def test_response_headers(proxy):
    response = httpx.post(proxy.url + "/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}",
                                                                    "x-request-id": "my-id-1"},
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.headers["x-gated-request-id"] == "my-id-1"
    assert float(response.headers["x-gated-overhead-ms"]) >= 0
    # 11 prompt tokens at $1/M + 8 completion tokens at $2/M
    assert float(response.headers["x-gated-response-cost"]) == pytest.approx(11e-6 + 16e-6)


def test_a_uuid_request_id_goes_upstream_unchanged(proxy, upstream):
    request_id = str(uuid.uuid4())
    response = httpx.post(proxy.url + "/v1/chat/completions",
                          headers={"Authorization": f"Bearer {MASTER_KEY}", "x-request-id": request_id},
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert response.headers["x-gated-request-id"] == request_id
    assert upstream.received[0].headers["x-request-id"] == request_id == upstream.received[0].headers[
        "x-gated-request-id"]


def test_forward_metadata_and_stream_usage_settings(gated, upstream):
    config = upstream_config(upstream.base, {"fwd": ["fwd-m"], "quiet": ["quiet-m"]})
    config["model_list"][0]["litellm_params"]["forward_metadata"] = True
    config["model_list"][1]["litellm_params"]["stream_usage"] = False
    instance = gated(config)
    metadata = {"tags": ["t"], "trace": "abc"}
    sdk(instance).chat.completions.create(model="fwd", messages=[{"role": "user", "content": "hi"}],
                                          extra_body={"metadata": metadata})
    assert upstream.received[-1].body["metadata"] == metadata, "forward_metadata: true passes it upstream"
    chunks = list(sdk(instance).chat.completions.create(model="quiet", stream=True,
                                                        messages=[{"role": "user", "content": "hi"}]))
    assert "stream_options" not in upstream.received[-1].body, "stream_usage: false asks for no usage"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("one two")
    row = instance.wait_rows(2)[-1]
    assert row["usage_estimated"] == 1 and row["completion_tokens"] > 0


def test_azure_deployment_addressed_by_name_and_api_version(gated, upstream):
    config = {"model_list": [{"model_name": "az", "litellm_params": {
        "model": "azure/my-gpt4o-deployment", "api_base": upstream.base.removesuffix("/v1"),
        "api_version": "2024-10-21", "api_key": "azure-key-0123456789abcdef",
        "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}}],
        "general_settings": {"master_key": MASTER_KEY}}
    instance = gated(config)
    reply = sdk(instance).chat.completions.create(model="az", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.total_tokens == 19
    [received] = upstream.received
    assert received.path == "/openai/deployments/my-gpt4o-deployment/chat/completions"
    assert received.query == {"api-version": "2024-10-21"}
    assert received.headers["api-key"] == "azure-key-0123456789abcdef" and "Authorization" not in received.headers
    assert received.body["model"] == "my-gpt4o-deployment"


def test_completions_forwarded_with_prompt_untouched(proxy, upstream):
    reply = sdk(proxy).completions.create(model="gpt-4o", prompt=["first", "second"], max_tokens=5)
    assert reply.usage.total_tokens == 19
    [received] = upstream.received
    assert received.path == "/v1/completions"
    assert received.body == {"model": "real-gpt-4o", "prompt": ["first", "second"], "max_tokens": 5}


def test_request_id_generated_when_absent_or_unsafe(proxy, upstream):
    headers = {"Authorization": f"Bearer {MASTER_KEY}", "x-request-id": "bad id\twith spaces"}
    response = httpx.post(proxy.url + "/v1/chat/completions", headers=headers,
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    generated = response.headers["x-gated-request-id"]
    assert generated != "bad id\twith spaces" and uuid.UUID(generated).version == 7
    assert upstream.received[0].headers["x-request-id"] == generated
    time.sleep(0.002)
    later = httpx.post(proxy.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert later.headers["x-gated-request-id"] > generated, "time-ordered: later requests sort later"


def test_stream_without_include_usage_hides_the_usage_chunk(proxy, upstream):
    stream = sdk(proxy).chat.completions.create(model="gpt-4o", stream=True,
                                                messages=[{"role": "user", "content": "hi"}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "one two three four five six seven eight"
    assert all(c.choices for c in chunks), "the usage chunk the gateway asked for must not reach the client"
    assert upstream.received[0].body["stream_options"] == {"include_usage": True}


def test_stream_with_include_usage_passes_it_through(proxy, upstream):
    stream = sdk(proxy).chat.completions.create(model="gpt-4o", stream=True,
                                                stream_options={"include_usage": True},
                                                messages=[{"role": "user", "content": "hi"}])
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 19
    assert len([c for c in chunks if c.choices]) == 9  # 8 content chunks + the finish chunk, one by one


def test_stream_usage_synthesized_when_upstream_sends_none(proxy):
    stream = sdk(proxy).chat.completions.create(model="nousage", stream=True,
                                                stream_options={"include_usage": True},
                                                messages=[{"role": "user", "content": "hello there friend"}])
    chunks = list(stream)
    usage = chunks[-1].usage
    assert chunks[-1].choices == []
    # estimate: ceil(utf8 bytes / 4) — prompt "hello there friend" = 18 bytes → 5; reply 39 bytes → 10
    assert (usage.prompt_tokens, usage.completion_tokens) == (5, 10)


async def test_async_sdk_chat_and_stream(proxy):
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=MASTER_KEY, max_retries=0,
                                _strict_response_validation=True)
    reply = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert reply.choices[0].finish_reason == "stop"
    stream = await client.chat.completions.create(model="gpt-4o", stream=True,
                                                  messages=[{"role": "user", "content": "x"}])
    words = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert len(words) == 8
    await client.close()


def test_embeddings_and_moderations_forwarded(proxy, upstream):
    client = sdk(proxy)
    embedding = client.embeddings.create(model="embed", input=["a", "b"])
    assert embedding.data[0].embedding == [0.1, 0.2]
    moderation = client.moderations.create(input="fine text")  # no model: the moderation group
    assert moderation.results[0].flagged is False
    assert [r.path for r in upstream.received] == ["/v1/embeddings", "/v1/moderations"]
    assert upstream.received[1].body["model"] == "mod-model"


def test_paths_without_v1_prefix(proxy):
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    models = httpx.get(proxy.url + "/models", headers=headers).json()
    assert [m["id"] for m in models["data"]] == ["gpt-4o", "nousage", "embed", "mod"]
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in models["data"])
    chat = httpx.post(proxy.url + "/chat/completions", headers=headers,
                      json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    assert chat.status_code == 200


def test_client_disconnect_mid_stream_cancels_upstream(proxy, upstream):
    body = {"model": "gpt-4o", "stream": True, "chunk_delay": 0.3, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {MASTER_KEY}"}) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                break  # leave after the first chunk
    rows = proxy.wait_rows(1)
    assert rows[0]["status"] == "error" and rows[0]["error_code"] == "client_disconnected"
    assert rows[0]["usage_estimated"] == 1 and rows[0]["completion_tokens"] >= 1
    import time
    deadline = time.monotonic() + 5
    while upstream.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.disconnects == 1, "the upstream connection must be closed when the client leaves"


def sse_events(instance, body: dict) -> list[str]:
    with httpx.stream("POST", instance.url + "/v1/chat/completions", json=body, timeout=10,
                      headers={"Authorization": f"Bearer {MASTER_KEY}"}) as response:
        assert response.status_code == 200
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


@pytest.mark.parametrize("failure, code", [("stream_error_after", "overloaded"),
                                           ("stream_break_after", "upstream_error")])
def test_a_failure_after_the_stream_started_ends_it_with_one_error_event(gated, upstream, failure, code):
    """SPEC §4: chunks already sent stay sent; then one error event, no [DONE], no retry on the
    other deployment (the client has seen part of an answer), the row says error."""
    instance = gated(upstream_config(upstream.base, {"g": ["m1", "m2"]}))
    events = sse_events(instance, {"model": "g", "stream": True, failure: 3,
                                   "messages": [{"role": "user", "content": "hi"}]})
    assert "[DONE]" not in events
    chunks = [json.loads(e) for e in events]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == "one two three "
    error = chunks[-1]["error"]
    assert error["code"] == code and set(error) >= {"message", "type", "param", "code"}
    assert "10.1.2.3" not in events[-1] and "sk-abcdefghij" not in events[-1], "scrubbed"
    assert len(upstream.received) == 1, "never retried once the stream started"
    row = instance.wait_rows(1)[-1]
    assert row["status"] == "error" and row["completion_tokens"] >= 1
