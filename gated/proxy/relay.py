"""Relaying an upstream answer to the client: whole JSON bodies unchanged, SSE chunk by chunk as
they arrive. Usage is captured on the way (or estimated when the upstream sends none) and the
client's disconnect closes the upstream connection."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from gated.errors import GatewayError, UpstreamFailed, UpstreamRelayed, UpstreamTimeout
from gated.guardrails.base import CheckContext
from gated.guardrails.runner import GuardrailRunner
from gated.guardrails.text import Segment, delta_texts, request_segments, response_texts
from gated.logs import ms
from gated.pricing import estimate_tokens
from gated.providers.base import EventBlock
from gated.providers.transport import UpstreamError
from gated.proxy.request import LlmRequest
from gated.redact import scrub
from gated.routing.router import Lease
from gated.spend.record import ERROR, REJECTED, SpendRecord

USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
ERROR_KEY = b'"error"'
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class ProxyContext:
    llm: LlmRequest
    record: SpendRecord
    started: float                       # perf_counter() when the request arrived
    secrets: frozenset[str]
    runner: GuardrailRunner | None = None
    guard: CheckContext | None = None          # what the guardrails saw of the request
    upstream_seconds: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    parallel_scopes: list[str] = field(default_factory=list)
    overhead: float | None = None              # ms, fixed when the response headers are built
    end_stream: Callable[[], Awaitable[Any]] | None = None   # sends a stream's last bytes and its end
    _segments: list[Segment] | None = None

    def overhead_ms(self) -> str:
        self.overhead = (time.perf_counter() - self.started - self.upstream_seconds) * 1000
        return f"{self.overhead:.3f}"

    def segments(self) -> list[Segment]:
        if self._segments is None:
            self._segments = request_segments(self.llm.call_type, self.llm.body)
        return self._segments

    def prompt_estimate(self) -> int:
        return estimate_tokens(s.text for s in self.segments())


class SseResponse(web.StreamResponse):
    # aiohttp's attribute (web.Response sets it so too): the headers leave with the first events
    # instead of in a send of their own; a stream that arrives whole is then one send
    _send_headers_immediately = False


def _token_counts(usage: Any) -> tuple[int, int] | None:
    if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int):
        return None
    completion = usage.get("completion_tokens")
    return usage["prompt_tokens"], completion if isinstance(completion, int) else 0


def upstream_error(status: int, body: bytes, secrets: frozenset[str]) -> GatewayError:
    """An upstream's non-retryable error: relayed if OpenAI-shaped (scrubbed), else a 502."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if 400 <= status < 500 and isinstance(error, dict) and isinstance(error.get("message"), str):
        cleaned = {k: scrub(v, secrets) if isinstance(v, str) else v for k, v in error.items()
                   if k in ("message", "type", "param", "code")}
        return UpstreamRelayed(status, cleaned)
    return UpstreamFailed(f"the upstream answered HTTP {status}")


async def relay_json(lease: Lease, ctx: ProxyContext) -> web.Response:
    body = lease.response.body
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamFailed("the upstream answered with a body that is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamFailed("the upstream answered with a body that is not a JSON object")
    counts = _token_counts(parsed.get("usage"))
    checks_output = ctx.runner is not None and ctx.guard is not None and bool(ctx.runner.output)
    texts = response_texts(ctx.llm.call_type, parsed) if counts is None or checks_output else []
    if counts is None:
        ctx.record.set_usage(ctx.prompt_estimate(), estimate_tokens(texts), estimated=True)
    else:
        ctx.record.set_usage(*counts, estimated=False)
    if checks_output:
        assert ctx.runner is not None and ctx.guard is not None
        await ctx.runner.check_output(ctx.guard, texts)
    headers = {"x-gated-overhead-ms": ctx.overhead_ms(), **ctx.extra_headers}
    cost = ctx.record.spend
    if cost is not None:
        headers["x-gated-response-cost"] = repr(cost)
    return web.Response(body=body, status=lease.response.status, content_type="application/json", headers=headers)


def _error_event(error: GatewayError) -> bytes:
    return b"data: " + orjson.dumps(error.envelope()) + b"\n\n"


async def relay_stream(request: web.Request, lease: Lease, ctx: ProxyContext) -> web.StreamResponse:
    assert lease.response.events is not None
    record = ctx.record
    response = SseResponse(headers={**SSE_HEADERS, "x-gated-overhead-ms": ctx.overhead_ms(),
                                    "x-gated-request-id": record.request_id, **ctx.extra_headers})
    await response.prepare(request)
    usage: tuple[int, int] | None = None
    relayed: list[EventBlock] = []   # read again only if the upstream never reports usage (for the estimate)
    guard = ctx.runner.stream_guard() if ctx.runner is not None else None
    out: list[bytes] = []       # what goes to the client in one write: the events that arrived together

    def emit(payloads: list[bytes]) -> None:
        out.extend(map(_event, payloads))

    def refuse(found: str) -> None:
        assert guard is not None
        refusal = guard.refusal(found)
        record.status, record.rejected_by, record.error_code = REJECTED, refusal.rejected_by, refusal.code
        out.append(_error_event(refusal))

    async def flush(last: bool = False) -> None:
        """Send what is queued; the last bytes are left to ctx.end_stream, which the handler calls
        once the spend row is queued (so a client that has the whole stream can find its row)."""
        if out and record.ttft_ms is None:
            record.ttft_ms = ms(time.perf_counter() - ctx.started)
        data = b"".join(out)
        out.clear()
        if last:
            ctx.end_stream = functools.partial(response.write_eof, data)   # one send for both
        elif data:
            await response.write(data)

    try:
        async for block in lease.response.events:
            relayed.append(block)
            if guard is not None or not block.plain:
                payloads = block.payloads
            else:
                # plain events before the first that may hold an error, a usage object or the
                # end are relayed as they came, unparsed; the rest is read event by event
                cut = _first_notable(block.raw)
                if cut:
                    out.append(block.raw[:cut])
                if cut == len(block.raw):
                    await flush()
                    continue
                payloads = EventBlock(block.raw[cut:]).payloads
            ended = False
            for payload in payloads:
                if payload == b"[DONE]":
                    ended = True
                    break
                # most chunks are relayed without being parsed: only a possible error, a usage
                # object or a keyword check needs the JSON
                chunk = _parse(payload) if guard or ERROR_KEY in payload or USAGE_OBJECT.search(payload) else None
                if chunk is not None:
                    if "error" in chunk and not chunk.get("choices"):
                        error = upstream_error(400, payload, ctx.secrets)
                        record.status, record.error_code = ERROR, error.code
                        out.append(_error_event(error))
                        await flush(last=True)
                        return response
                    counts = _token_counts(chunk.get("usage"))
                    if counts is not None:
                        usage = counts
                        if not chunk.get("choices") and not ctx.llm.client_wants_usage:
                            continue  # the gateway asked for this chunk; the client did not
                if guard is None:
                    out.append(_event(payload))
                    continue
                released, found = guard.feed(payload, chunk)
                emit(released)
                if found is not None:
                    refuse(found)
                    await flush(last=True)
                    return response
            if ended:
                break
            await flush()
        if guard is not None:
            released, found = guard.finish()
            if found is not None:
                refuse(found)
                await flush(last=True)
                return response
            emit(released)
        if usage is None and ctx.llm.client_wants_usage:
            payloads = _payloads_of(relayed)
            last = _parse(payloads[-1]) if payloads else None
            emit([orjson.dumps(_usage_chunk(last or {}, ctx, _produced(payloads)))])
        out.append(DONE)
        await flush(last=True)
    except ConnectionResetError:
        record.status, record.error_code = ERROR, "client_disconnected"
    except (TimeoutError, UpstreamError) as exc:
        error: GatewayError = (UpstreamTimeout("the upstream stopped sending in time")
                               if isinstance(exc, TimeoutError) else UpstreamFailed("the upstream stream broke"))
        record.status, record.error_code = ERROR, error.code
        out.append(_error_event(error))
        await flush(last=True)
    finally:
        if usage is None:
            usage = (ctx.prompt_estimate(), estimate_tokens(_produced(_payloads_of(relayed))))
            record.usage_estimated = True
        record.prompt_tokens, record.completion_tokens = usage
    return response


def _parse(payload: bytes) -> dict[str, Any] | None:
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return chunk if isinstance(chunk, dict) else None


def _event(payload: bytes) -> bytes:
    """One server-sent event carrying `payload` (a payload of several lines: one `data:` each)."""
    if b"\n" in payload:
        payload = payload.replace(b"\n", b"\ndata: ")
    return b"data: " + payload + b"\n\n"


def _first_notable(raw: bytes) -> int:
    """Where the first event that may hold an error, a usage object or [DONE] starts (len(raw): none does)."""
    found = [at for at in (raw.find(ERROR_KEY), raw.find(b"[DONE]")) if at != -1]
    usage = USAGE_OBJECT.search(raw)
    if usage is not None:
        found.append(usage.start())
    if not found:
        return len(raw)
    start = raw.rfind(b"\n\n", 0, min(found))
    return 0 if start == -1 else start + 2


def _payloads_of(blocks: list[EventBlock]) -> list[bytes]:
    """The payloads of the relayed blocks, up to [DONE]."""
    payloads = [p for block in blocks for p in block.payloads]
    return payloads[:payloads.index(b"[DONE]")] if b"[DONE]" in payloads else payloads


def _produced(payloads: list[bytes]) -> list[str]:
    """The text the relayed chunks carried (for a usage estimate)."""
    return [text for payload in payloads if (chunk := _parse(payload)) is not None for text in delta_texts(chunk)]


def _usage_chunk(last: dict[str, Any], ctx: ProxyContext, produced: list[str]) -> dict[str, Any]:
    prompt = ctx.prompt_estimate()
    completion = estimate_tokens(produced)
    return {
        "id": last.get("id", f"chatcmpl-{ctx.record.request_id}"),
        "object": last.get("object", "chat.completion.chunk"),
        "created": last.get("created", int(time.time())),
        "model": last.get("model", ""),
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }
