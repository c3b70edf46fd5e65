"""`mock/…`: built in, offline, deterministic (SPEC §3). It produces exactly what an OpenAI
upstream would send — bodies and SSE payloads — so the rest of the gateway cannot tell it apart."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gated.config import LitellmParams
from gated.guardrails.text import request_segments
from gated.pricing import estimate_tokens
from gated.providers.base import CHAT, COMPLETION, EMBEDDING, EventBlock, UpstreamCall, UpstreamResponse

MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)
FLAG_WORD = "MOCK_FLAG"
WORDS_PER_CHUNK = 4


class MockProvider:
    async def send(self, params: LitellmParams, call: UpstreamCall) -> UpstreamResponse:
        if params.mock_latency_ms:
            latency, allowed = params.mock_latency_ms / 1000, min(call.total_timeout, call.read_timeout)
            await asyncio.sleep(min(latency, allowed))
            if latency > allowed:   # the Provider contract: no answer in time is a TimeoutError
                raise TimeoutError
        model = params.upstream_model
        if call.call_type == EMBEDDING:
            return _json(_embeddings(model, call.body))
        if call.call_type == CHAT or call.call_type == COMPLETION:
            replies = _replies(call, params)
            prompt_tokens = estimate_tokens(s.text for s in request_segments(call.call_type, call.body))
            if call.stream:
                include_usage = bool((call.body.get("stream_options") or {}).get("include_usage"))
                events = _stream(call.call_type, model, replies[0], prompt_tokens, include_usage)
                return UpstreamResponse(200, events=events)
            return _json(_completion(call.call_type, model, replies, prompt_tokens))
        return _json(_moderation(model, call.body))


def _json(body: dict[str, Any]) -> UpstreamResponse:
    return UpstreamResponse(200, body=orjson.dumps(body))


def _replies(call: UpstreamCall, params: LitellmParams) -> list[str]:
    fixed = call.mock_response if call.mock_response is not None else params.mock_response
    if fixed is not None:
        return [fixed]
    if call.call_type == COMPLETION:
        prompts = call.body.get("prompt")
        prompts = prompts if isinstance(prompts, list) and all(isinstance(p, str) for p in prompts) else [prompts]
        return ["Mock reply to: " + (p[:60] if isinstance(p, str) else "") for p in prompts] or ["Mock reply to: "]
    user_texts = [s.text for s in request_segments(CHAT, call.body) if s.role == "user"]
    last = user_texts[-1] if user_texts else ""
    return ["Mock reply to: " + last[:60]]


def _ids(kind: str) -> tuple[str, int]:
    return f"{kind}-mock-{time.time_ns():x}", int(time.time())


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _completion(call_type: str, model: str, replies: list[str], prompt_tokens: int) -> dict[str, Any]:
    completion_tokens = estimate_tokens(replies)
    if call_type == CHAT:
        choices = [{"index": 0, "message": {"role": "assistant", "content": replies[0]},
                    "finish_reason": "stop", "logprobs": None}]
        ident, created = _ids("chatcmpl")
        obj = "chat.completion"
    else:
        choices = [{"index": i, "text": r, "finish_reason": "stop", "logprobs": None} for i, r in enumerate(replies)]
        ident, created = _ids("cmpl")
        obj = "text_completion"
    return {"id": ident, "object": obj, "created": created, "model": model, "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens)}


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [" ".join(words[i:i + WORDS_PER_CHUNK]) + (" " if i + WORDS_PER_CHUNK < len(words) else "")
            for i in range(0, len(words), WORDS_PER_CHUNK)]


async def _stream(call_type: str, model: str, reply: str, prompt_tokens: int,
                  include_usage: bool) -> AsyncIterator[EventBlock]:
    ident, created = _ids("chatcmpl" if call_type == CHAT else "cmpl")
    obj = "chat.completion.chunk" if call_type == CHAT else "text_completion"
    extra = {"usage": None} if include_usage else {}

    def chunk(choice: dict[str, Any]) -> bytes:
        return orjson.dumps({"id": ident, "object": obj, "created": created, "model": model,
                             "choices": [choice], **extra})

    for n, piece in enumerate(_pieces(reply)):
        await asyncio.sleep(0)  # a real upstream yields between chunks; so do we
        if call_type == CHAT:
            delta = {"role": "assistant", "content": piece} if n == 0 else {"content": piece}
            yield EventBlock.of([chunk({"index": 0, "delta": delta, "finish_reason": None, "logprobs": None})])
        else:
            yield EventBlock.of([chunk({"index": 0, "text": piece, "finish_reason": None, "logprobs": None})])
    final = {"index": 0, "finish_reason": "stop", "logprobs": None}
    final.update({"delta": {}} if call_type == CHAT else {"text": ""})
    yield EventBlock.of([chunk(final)])
    if include_usage:
        usage = _usage(prompt_tokens, estimate_tokens([reply]))
        yield EventBlock.of([orjson.dumps({"id": ident, "object": obj, "created": created, "model": model,
                                           "choices": [], "usage": usage})])


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [int.from_bytes(digest[i:i + 4], "big") / 2**31 - 1.0 for i in range(0, 32, 4)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [orjson.dumps(value).decode()]  # one token array
    if isinstance(value, list):
        return [v if isinstance(v, str) else orjson.dumps(v).decode() for v in value]
    return [""]


def _embeddings(model: str, body: dict[str, Any]) -> dict[str, Any]:
    texts = _inputs(body.get("input"))
    data = [{"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)]
    tokens = estimate_tokens(texts)
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _moderation(model: str, body: dict[str, Any]) -> dict[str, Any]:
    results = []
    for text in _inputs(body.get("input")):
        flagged = FLAG_WORD in text
        results.append({
            "flagged": flagged,
            "categories": {c: flagged and c == "violence" for c in MODERATION_CATEGORIES},
            "category_scores": {c: 0.99 if flagged and c == "violence" else 0.0001 for c in MODERATION_CATEGORIES},
            "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
        })
    ident, _ = _ids("modr")
    return {"id": ident, "model": model, "results": results}
