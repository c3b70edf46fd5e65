"""Shared HTTP transport for OpenAI-compatible upstreams: one long-lived ClientSession, the body
serialised once, SSE split into `data:` payloads as bytes (parsed later only where needed)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

import aiohttp
import orjson

from gated.config import LitellmParams
from gated.providers.base import UpstreamCall, UpstreamResponse


class HttpProvider(ABC):
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    @abstractmethod
    def url(self, params: LitellmParams, call_type: str) -> str: ...

    @abstractmethod
    def headers(self, params: LitellmParams) -> dict[str, str]: ...

    async def send(self, params: LitellmParams, call: UpstreamCall) -> UpstreamResponse:
        headers = self.headers(params)
        headers["Content-Type"] = "application/json"
        headers["x-request-id"] = upstream_request_id(call.request_id)
        headers["x-gated-request-id"] = call.request_id
        if call.stream:
            timeout = aiohttp.ClientTimeout(total=call.total_timeout, sock_read=call.read_timeout)
        else:
            timeout = aiohttp.ClientTimeout(total=min(call.total_timeout, call.read_timeout))
        response = await self.session.post(
            self.url(params, call.call_type), data=orjson.dumps(call.body), headers=headers, timeout=timeout
        )
        if call.stream and response.status < 300:
            return UpstreamResponse(response.status, events=sse_payloads(response), release=response.close)
        try:
            body = await response.read()
        finally:
            response.release()
        return UpstreamResponse(response.status, body=body)


def upstream_request_id(request_id: str) -> str:
    """Some upstreams (llama.cpp's server) answer 400 to an x-request-id that is not a UUID; a
    client's other ids go upstream as a stable UUID derived from them (and verbatim in
    x-gated-request-id)."""
    try:
        return str(uuid.UUID(request_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "gated:" + request_id))


async def sse_payloads(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yield the `data:` payload of each server-sent event (multi-line data joined by newlines)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        while (end := buffer.find(b"\n\n")) != -1:
            event, buffer = buffer[:end], buffer[end + 2:]
            payload = _data_of(event)
            if payload is not None:
                yield payload
    payload = _data_of(buffer.strip(b"\n"))
    if payload is not None:
        yield payload


def _data_of(event: bytes) -> bytes | None:
    lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None
