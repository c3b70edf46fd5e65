"""FakeUpstream: a real OpenAI-compatible HTTP server (aiohttp, its own thread and loop) that
records every request it receives. Behaviour per model name prefix lets one server play several
upstreams:
  "slow-*"      waits `slow_seconds` before answering
  "fail500-*"   answers 500
  "rate429-*"   answers 429
  "bad400-*"    answers an OpenAI-shaped 400 whose message leaks a key and an internal address
  "nousage-*"   never sends usage (JSON or stream), like llama.cpp's server
  "garbage-*"   answers 200 with a body that is not JSON
anything else answers normally (usage included; streams send 8 chunks + a usage chunk when asked).
A request body field `scripted_choices` (a list of `choices` arrays) makes a stream send exactly
those chunks instead, so a test can split text wherever it likes; `stream_error_after: N` sends an
error event (with a leaky message) after N chunks, `stream_break_after: N` drops the connection.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

LEAKY_MESSAGE = "bad input; key sk-abcdefghijklmnopqrstuvwxyz123456 rejected by http://10.1.2.3:8080/internal"
REPLY_WORDS = ["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight"]


@dataclass
class Received:
    path: str
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    body: dict[str, Any]
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeUpstream:
    slow_seconds: float = 5.0
    received: list[Received] = field(default_factory=list)
    disconnects: int = 0
    port: int = 0

    def start(self) -> FakeUpstream:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), "fake upstream did not start"
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/{path:.*}", self._handle)
        app.router.add_post("/openai/deployments/{deployment}/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.received]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(Received(request.path, CIMultiDict(request.headers), body, dict(request.query)))
        model = str(body.get("model", ""))
        if model.startswith("slow-"):
            await asyncio.sleep(self.slow_seconds)
        if model.startswith("fail500-"):
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        if model.startswith("rate429-"):
            return web.json_response({"error": {"message": "slow down", "type": "rate_limit"}}, status=429)
        if model.startswith("bad400-"):
            return web.json_response({"error": {"message": LEAKY_MESSAGE, "type": "invalid_request_error",
                                                "param": "messages", "code": "context_length_exceeded"}}, status=400)
        if model.startswith("garbage-"):
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        with_usage = not model.startswith("nousage-")
        path = request.match_info["path"]
        if path == "embeddings":
            return web.json_response({"object": "list", "model": model,
                                      "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                                      "usage": {"prompt_tokens": 5, "total_tokens": 5}})
        if path == "moderations":
            return web.json_response({"id": "modr-1", "model": model, "results": [
                {"flagged": False, "categories": {}, "category_scores": {}, "category_applied_input_types": {}}]})
        if body.get("stream"):
            return await self._stream(request, body, with_usage)
        usage = {"prompt_tokens": 11, "completion_tokens": 8, "total_tokens": 19}
        reply: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": "".join(REPLY_WORDS)}}]}
        if with_usage:
            reply["usage"] = usage
        return web.json_response(reply)

    async def _stream(self, request: web.Request, body: dict[str, Any], with_usage: bool) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        include_usage = with_usage and bool((body.get("stream_options") or {}).get("include_usage"))
        delay = float(body.get("chunk_delay", 0))
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
        extra = {"usage": None} if include_usage else {}
        scripted = body.get("scripted_choices")
        if scripted is None:
            scripted = [[{"index": 0, "delta": {"role": "assistant", "content": word} if index == 0 else
                          {"content": word}, "finish_reason": None}] for index, word in enumerate(REPLY_WORDS)]
            scripted.append([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        try:
            for sent, choices in enumerate(scripted):
                if sent == body.get("stream_error_after"):
                    error = {"error": {"message": LEAKY_MESSAGE, "type": "server_error", "code": "overloaded"}}
                    await response.write(b"data: " + json.dumps(error).encode() + b"\n\n")
                    return response
                if sent == body.get("stream_break_after"):
                    assert request.transport is not None
                    request.transport.close()
                    return response
                chunk = {**base, "choices": choices, **extra}
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                if delay:
                    await asyncio.sleep(delay)
            if include_usage:
                usage_chunk = {**base, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 8,
                                                                "total_tokens": 19}}
                await response.write(b"data: " + json.dumps(usage_chunk).encode() + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, ConnectionError):
            self.disconnects += 1
        return response
