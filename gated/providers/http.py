"""Calling OpenAI-compatible upstreams through the process's UpstreamPool: the body serialised
once, SSE split into `data:` payloads as bytes (parsed later only where needed)."""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod

import orjson

from gated.config import LitellmParams
from gated.providers.base import EventBlock, UpstreamCall, UpstreamResponse
from gated.providers.transport import Reply, UpstreamPool


class HttpProvider(ABC):
    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        # per deployment and call type: the URL and its fixed header lines, rendered once
        # (keyed by id(): a deployment's params live as long as the config)
        self._fixed: dict[tuple[int, str], tuple[str, str]] = {}

    @abstractmethod
    def url(self, params: LitellmParams, call_type: str) -> str: ...

    @abstractmethod
    def headers(self, params: LitellmParams) -> dict[str, str]: ...

    async def send(self, params: LitellmParams, call: UpstreamCall) -> UpstreamResponse:
        fixed = self._fixed.get((id(params), call.call_type))
        if fixed is None:
            lines = self.pool.header_lines({**self.headers(params), "Content-Type": "application/json"})
            fixed = self._fixed[(id(params), call.call_type)] = (self.url(params, call.call_type), lines)
        url, lines = fixed
        # both ids are safe to send as they are: a UUID, and an id gated made or checked (middlewares)
        lines += f"x-request-id: {upstream_request_id(call.request_id)}\r\nx-gated-request-id: {call.request_id}\r\n"
        now = self.pool.clock()
        answer_by = now + min(call.total_timeout, call.read_timeout)
        reply = await self.pool.post(url, lines, orjson.dumps(call.body), answer_by)
        if call.stream and reply.status < 300:
            events = SseBlocks(reply, call.read_timeout, now + call.total_timeout)
            return UpstreamResponse(reply.status, events=events, release=reply.release)
        try:
            body = await reply.read(answer_by)
        finally:
            reply.release()
        return UpstreamResponse(reply.status, body=body)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def upstream_request_id(request_id: str) -> str:
    """Some upstreams (llama.cpp's server) answer 400 to an x-request-id that is not a UUID; a
    client's other ids go upstream as a stable UUID derived from them (and verbatim in
    x-gated-request-id)."""
    if _CANONICAL_UUID.fullmatch(request_id):   # gated's own ids, without parsing them again
        return request_id
    try:
        return str(uuid.UUID(request_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "gated:" + request_id))


class SseBlocks:
    """The complete server-sent events each read of a streamed reply brought, as one block. (An
    iterator class, not an async generator: asyncio tracks every async generator in a WeakSet,
    a few µs per stream, SPEC §12.)"""

    __slots__ = ("_reply", "_read_timeout", "_deadline", "_buffer", "_done")

    def __init__(self, reply: Reply, read_timeout: float, deadline: float) -> None:
        self._reply, self._read_timeout, self._deadline = reply, read_timeout, deadline
        self._buffer = b""
        self._done = False    # ended or failed: iterating again ends at once, as a generator would

    def __aiter__(self) -> SseBlocks:
        return self

    async def __anext__(self) -> EventBlock:
        while not self._done:
            try:
                chunk = await self._reply.next_chunk(self._read_timeout, self._deadline)
            except BaseException:
                self._done = True
                raise
            if chunk is None:
                self._done = True
                rest, self._buffer = self._buffer.strip(b"\n"), b""
                if rest:
                    return EventBlock(rest + b"\n\n")
                break
            buffer = self._buffer + chunk if self._buffer else chunk
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            end = buffer.rfind(b"\n\n")
            if end == -1:
                self._buffer = buffer
                continue
            self._buffer = buffer[end + 2:]
            return EventBlock(buffer[:end + 2])
        raise StopAsyncIteration
