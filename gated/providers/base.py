"""The provider interface: send one OpenAI-shaped call to one deployment and hand back either the
whole body or, for a streaming 2xx reply, an iterator of SSE `data:` payloads (in lists: the
events that arrived together, so they can be relayed with one write)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gated.config import LitellmParams

# call types, also the `call_type` of spend rows
CHAT, COMPLETION, EMBEDDING, MODERATION = "chat", "completion", "embedding", "moderation"
PATHS = {CHAT: "/chat/completions", COMPLETION: "/completions", EMBEDDING: "/embeddings", MODERATION: "/moderations"}


@dataclass(slots=True)
class UpstreamCall:
    call_type: str
    body: dict[str, Any]           # what goes upstream: `model` rewritten, gateway fields removed
    stream: bool
    request_id: str
    total_timeout: float           # seconds left of the whole-request deadline
    read_timeout: float            # the deployment's timeout (per read for streams)
    mock_response: str | None = None


def _noop() -> None:
    return None


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    body: bytes = b""
    events: AsyncIterator[list[bytes]] | None = None
    release: Callable[[], None] = field(default=_noop)


class Provider(Protocol):
    async def send(self, params: LitellmParams, call: UpstreamCall) -> UpstreamResponse:
        """The response (a stream: its status, then the events), or TimeoutError once
        min(call.total_timeout, call.read_timeout) has passed without it."""
        ...
