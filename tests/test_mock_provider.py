"""SPEC §3 mock provider through a real gated: its exact reply, ~4-word stream chunks, usage,
8-dimensional deterministic embeddings, MOCK_FLAG moderations, and its default $1/$2 price."""

from __future__ import annotations

import math
import time

import openai
import pytest

from tests.support.gated import MASTER_KEY


@pytest.fixture
def client(mock_gated):
    with openai.OpenAI(base_url=mock_gated.url + "/v1", api_key=MASTER_KEY, max_retries=0) as client:
        yield client


def test_reply_is_first_60_chars_of_last_user_message(client):
    text = "x" * 70
    reply = client.chat.completions.create(model="gpt-3.5-turbo", messages=[
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": text}])
    assert reply.choices[0].message.content == "Mock reply to: " + "x" * 60
    # usage estimated as ceil(bytes / 4) over all message texts: 5 + 2 + 70 = 77 → 20; reply 75 → 19
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (20, 19)


def test_mock_response_in_body(client):
    reply = client.chat.completions.create(model="llama3", messages=[{"role": "user", "content": "q"}],
                                           extra_body={"mock_response": "fixed answer"})
    assert reply.choices[0].message.content == "fixed answer"


def test_stream_in_chunks_of_about_four_words(client):
    stream = client.chat.completions.create(
        model="gpt-3.5-turbo", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three four five six seven eight nine ten"}])
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "Mock reply to: one two three four five six seven eight nine ten"
    assert all(len(p.split()) <= 4 for p in pieces) and len(pieces) == 4
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_completions_with_list_prompt(client):
    reply = client.completions.create(model="gpt-3.5-turbo", prompt=["a", "b"])
    assert [c.text for c in reply.choices] == ["Mock reply to: a", "Mock reply to: b"]


def test_embeddings_are_8_dimensional_and_deterministic(client):
    first = client.embeddings.create(model="embed", input=["alpha", "beta"])
    again = client.embeddings.create(model="embed", input="alpha")
    assert [len(d.embedding) for d in first.data] == [8, 8]
    assert first.data[0].embedding == again.data[0].embedding != first.data[1].embedding
    assert math.isclose(sum(x * x for x in first.data[0].embedding), 1.0, rel_tol=1e-6)


def test_moderation_flags_only_mock_flag(client):
    result = client.moderations.create(model="mod", input=["fine", "this has MOCK_FLAG inside"])
    assert [r.flagged for r in result.results] == [False, True]


def test_default_price_moves_spend(client, mock_gated):
    raw = client.chat.completions.with_raw_response.create(model="llama3",
                                                           messages=[{"role": "user", "content": "price me"}])
    reply, request_id = raw.parse(), raw.headers["x-gated-request-id"]
    deadline = time.monotonic() + 5   # rows are written in batches; earlier tests' rows may land first
    while not (found := mock_gated.rows("select * from spend_logs where request_id = ?", (request_id,))):
        assert time.monotonic() < deadline, "no spend row for the request"
        time.sleep(0.05)
    row = found[0]
    usage = reply.usage
    assert row["spend"] == pytest.approx(usage.prompt_tokens * 1e-6 + usage.completion_tokens * 2e-6)
