"""A 0 ms OpenAI-compatible upstream stand-in for `make bench` (run as its own process).

POST .../chat/completions answers at once:
- non-streaming: one chat.completion JSON object with `usage`;
- `"stream": true`: 8 content chunks, then a usage chunk when `stream_options.include_usage`
  is set, then `data: [DONE]` (SSE over chunked transfer encoding, one write per event).
GET /health answers 200 (readiness probe). Everything else is 404.

Raw asyncio (no framework) keeps the stand-in cheap, so the direct baseline measures little more
than the load generator and the loopback. HTTP/1.1 keep-alive, Content-Length request bodies only
(what wrk, aiohttp and the OpenAI SDK send).

    python bench/upstream.py --port 9001 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

CHUNKS = 8
WORDS = ("Hello", " from", " the", " bench", " stand", "-in", " upstream", ".")
PROMPT_TOKENS, COMPLETION_TOKENS = 12, CHUNKS

try:  # orjson is a gated dependency; plain json works too
    import orjson

    def _dumps(obj: object) -> bytes:
        return orjson.dumps(obj)

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    def _dumps(obj: object) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    _loads = json.loads


def _usage() -> dict[str, int]:
    return {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}


def completion_body(model: str) -> bytes:
    return _dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)},
                     "finish_reason": "stop"}],
        "usage": _usage(),
    })


def stream_events(model: str, include_usage: bool) -> list[bytes]:
    created = int(time.time())
    events = []
    for i, word in enumerate(WORDS):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta,
                              "finish_reason": "stop" if i == CHUNKS - 1 else None}]}
        events.append(b"data: " + _dumps(chunk) + b"\n\n")
    if include_usage:
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [], "usage": _usage()}
        events.append(b"data: " + _dumps(chunk) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


NOT_FOUND = b'{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":"not_found"}}'
BAD_REQUEST = b'{"error":{"message":"bad JSON","type":"invalid_request_error","param":null,"code":"invalid_request"}}'


class Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.handle(method, path, body)
            if close:
                assert self.transport is not None
                self.transport.close()
                return

    def respond(self, status: str, body: bytes) -> None:
        assert self.transport is not None
        self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (status.encode(), len(body), body))

    def handle(self, method: str, path: str, body: bytes) -> None:
        path = path.split("?", 1)[0]
        if method == "GET" and path in ("/health", "/v1/health"):
            self.respond("200 OK", b'{"status":"ok"}')
            return
        if method != "POST" or not path.endswith("/chat/completions"):
            self.respond("404 Not Found", NOT_FOUND)
            return
        try:
            request = _loads(body)
            model = str(request.get("model", "bench-model"))
        except (ValueError, AttributeError):
            self.respond("400 Bad Request", BAD_REQUEST)
            return
        if not request.get("stream"):
            self.respond("200 OK", completion_body(model))
            return
        options = request.get("stream_options") or {}
        include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
        assert self.transport is not None
        write = self.transport.write
        write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
        for event in stream_events(model, include_usage):
            write(_chunked(event))      # one write per event: nothing batched on our side
        write(b"0\r\n\r\n")


async def serve(protocol: type[asyncio.Protocol], label: str, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, host, port, backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{label} ready on http://{host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main(protocol: type[asyncio.Protocol] = Upstream, label: str = "bench upstream", doc: str = __doc__) -> None:
    """The command line of a stand-in (this one, and bench/guard_standin.py): loopback only."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the bench stand-in listens on loopback only")
    asyncio.run(serve(protocol, label, args.host, args.port))


if __name__ == "__main__":
    main()
