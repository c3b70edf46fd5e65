"""gated against a REAL local model (opt-in: `make test-real`; never collected by `make test`).

llama.cpp's OpenAI-compatible server from .venv-real/ serves SmolLM2-135M-Instruct on loopback;
gated routes the model group `smollm2` to it; the openai SDK talks to gated. GATE_REAL_PYTHON
names .venv-real's python (the Makefile sets it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from real_stack import DEFAULT_REAL_PYTHON, MODEL_GROUP, REAL_PYTHON_ENV, real_stack  # noqa: E402

openai = pytest.importorskip("openai")

PROMPT = [{"role": "user", "content": "Name three colours of the rainbow."}]
MAX_TOKENS = 48


@pytest.fixture(scope="module")
def stack():
    if not os.environ.get(REAL_PYTHON_ENV) and not DEFAULT_REAL_PYTHON.exists():
        pytest.skip(f"no .venv-real: run `make test-real` (or set {REAL_PYTHON_ENV})")
    with real_stack(log=lambda message: print(message, flush=True)) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack):
    with openai.OpenAI(base_url=f"{stack.gated_url}/v1", api_key=stack.master_key,
                       timeout=120.0, max_retries=0) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def plain(client):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL_GROUP, messages=PROMPT, max_tokens=MAX_TOKENS, temperature=0)
    return raw.headers, raw.parse()


@pytest.fixture(scope="module")
def streamed(client):
    chunks = []
    with client.chat.completions.create(model=MODEL_GROUP, messages=PROMPT, max_tokens=MAX_TOKENS,
                                        temperature=0, stream=True,
                                        stream_options={"include_usage": True}) as stream:
        chunks.extend(stream)
    return chunks


def test_plain_completion_has_answer_and_usage(plain):
    headers, completion = plain
    assert completion.choices[0].message.content.strip()
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert float(headers["x-gated-response-cost"]) > 0


def test_stream_arrives_in_chunks_and_ends_with_usage(streamed):
    texts = [c.delta.content for chunk in streamed for c in chunk.choices if c.delta and c.delta.content]
    assert len(texts) > 1, "the answer should arrive in several chunks"
    assert "".join(texts).strip()
    last = streamed[-1]
    assert last.choices == [] and last.usage is not None, "the stream should end with a usage chunk"
    assert last.usage.completion_tokens > 0
    assert sum(1 for chunk in streamed if chunk.usage is not None) == 1


def test_spend_rows_for_both_calls(stack, plain, streamed):
    rows = stack.spend_rows(expected=2)
    assert len(rows) == 2, rows
    assert [r["status"] for r in rows] == ["success", "success"], rows
    assert all(r["spend"] > 0 for r in rows), rows
    assert all(r["model"] for r in rows), rows
    _, completion = plain
    first = rows[0]
    assert (first["prompt_tokens"], first["completion_tokens"]) == (
        completion.usage.prompt_tokens, completion.usage.completion_tokens)
    assert streamed[-1].usage.completion_tokens == rows[1]["completion_tokens"]


def test_a_client_request_id_that_is_not_a_uuid_still_reaches_the_model(client, stack, plain, streamed):
    # llama.cpp's server answers 400 to such an x-request-id; gated sends it a derived UUID instead
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL_GROUP, messages=PROMPT, max_tokens=8, temperature=0,
        extra_headers={"x-request-id": "req-123"})
    assert raw.headers["x-gated-request-id"] == "req-123"
    assert raw.parse().choices[0].message.content is not None


def test_model_name_is_the_alias_not_a_file_path(plain):
    _, completion = plain
    assert "/" not in completion.model
