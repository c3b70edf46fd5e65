"""The provider interface: send one OpenAI-shaped call to one deployment and hand back either the
whole body or, for a streaming 2xx reply, the server-sent events in blocks (the events that
arrived together, so they can be relayed with one write)."""

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


class EventBlock:
    """Complete server-sent events that arrived together (`raw`, line ends normalised to LF)."""

    __slots__ = ("raw", "_payloads")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._payloads: list[bytes] | None = None

    @classmethod
    def of(cls, payloads: list[bytes]) -> EventBlock:
        block = cls(b"".join(b"data: " + p + b"\n\n" for p in payloads))
        block._payloads = payloads
        return block

    @property
    def payloads(self) -> list[bytes]:
        """Each event's `data:` payload (multi-line data joined by newlines; events without data skipped)."""
        if self._payloads is None:
            self._payloads = [p for event in self.raw.split(b"\n\n") if (p := _data_of(event)) is not None]
        return self._payloads

    @property
    def plain(self) -> bool:
        """Every event is a single `data: ` line, so `raw` is exactly what re-sending the payloads
        would write."""
        raw = self.raw
        events = raw.count(b"\n\n")
        return (raw.startswith(b"data: ") and raw.endswith(b"\n\n") and raw.count(b"\n") == 2 * events
                and raw.count(b"\n\ndata: ") == events - 1)


def _data_of(event: bytes) -> bytes | None:
    if event.startswith(b"data: ") and b"\n" not in event:   # the usual one-line event
        return event[6:]
    lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    body: bytes = b""
    events: AsyncIterator[EventBlock] | None = None
    release: Callable[[], None] = field(default=_noop)


class Provider(Protocol):
    async def send(self, params: LitellmParams, call: UpstreamCall) -> UpstreamResponse:
        """The response (a stream: its status, then the events), or TimeoutError once
        min(call.total_timeout, call.read_timeout) has passed without it."""
        ...
