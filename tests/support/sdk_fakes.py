"""Stand-ins for the SDK-backed guardrail services (reference/test-stand-ins.md §1, §2), each a real
local server that records what it received:
  MotoSageMaker   moto in server mode; replies are queued through moto's API
  SageMakerFake   aiohttp fake of `POST /endpoints/{name}/invocations` for error and hang injection
  GoogleNLFake    aiohttp fake of Google NL REST `POST /v{1,2}/documents:moderateText`
The aiohttp fakes run in their own thread and loop. `mode` switches their behaviour:
  "normal"   answers with the configured reply / scores
  "500"      HTTP 500 whose body names an internal address
  "hang"     answers only after `hang_seconds` (or when the fake stops)
  "garbage"  200 with a body that is not JSON
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import urllib.request
from typing import Any

from aiohttp import web

LEAK = "backend http://10.9.8.7:6543/internal failed"
GOOGLE_CATEGORIES = (
    "Toxic", "Insult", "Profanity", "Derogatory", "Sexual", "Death, Harm & Tragedy", "Violent",
    "Firearms & Weapons", "Public Safety", "Health", "Religion & Belief", "Illicit Drugs", "War & Conflict",
    "Politics", "Finance", "Legal",
)


class MotoSageMaker:
    """moto's server in this process on a free port; `queue` sets the next invoke_endpoint replies."""

    def start(self) -> MotoSageMaker:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.base = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def _post(self, path: str, payload: Any = None) -> int:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    def reset(self) -> None:
        """Empty the reply queue (moto also caches replies per request body; use distinct prompts)."""
        self._post("/moto-api/reset")

    def queue(self, *replies: Any, region: str = "us-east-1") -> None:
        results = [{"Body": r if isinstance(r, str) else json.dumps(r), "ContentType": "application/json"}
                   for r in replies]
        status = self._post("/moto-api/static/sagemaker/endpoint-results", {"region": region, "results": results})
        assert status == 201, status


class ThreadedApp:
    """An aiohttp app served from its own thread and event loop, so sync tests can drive it."""

    def __init__(self, hang_seconds: float = 5.0) -> None:
        self.mode = "normal"
        self.hang_seconds = hang_seconds
        self.received: list[tuple[str, Any]] = []   # (path, decoded JSON body)
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def start(self) -> ThreadedApp:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), f"{type(self).__name__} did not start"
        return self

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._release = asyncio.Event()
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            self._release.set()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def reset(self, mode: str = "normal") -> None:
        self.mode = mode
        self.received.clear()

    async def misbehave(self) -> web.Response | None:
        """The reply for an error mode, or None to answer normally (after a hang)."""
        if self.mode == "500":
            return web.json_response({"message": LEAK}, status=500)
        if self.mode == "garbage":
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        if self.mode == "hang":
            try:
                await asyncio.wait_for(self._release.wait(), self.hang_seconds)
            except TimeoutError:
                pass
        return None


class SageMakerFake(ThreadedApp):
    """`POST /endpoints/{name}/invocations`; answers `reply` (default `[{"generated_text": "safe"}]`),
    or `reply(prompt)` when it is a function (a stand-in that judges what it reads)."""

    def __init__(self, hang_seconds: float = 5.0) -> None:
        super().__init__(hang_seconds)
        self.reply: Any = [{"generated_text": "safe"}]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/endpoints/{name}/invocations", self._invocations)

    def inputs(self) -> list[str]:
        return [body["inputs"] for _, body in self.received]

    async def _invocations(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.received.append((request.path, body))
        failed = await self.misbehave()
        if failed is not None:
            return failed
        return web.json_response(self.reply(body["inputs"]) if callable(self.reply) else self.reply)


class GoogleNLFake(ThreadedApp):
    """Google NL REST `documents:moderateText` (v1 and v2); every category scores `scores.get(name, 0)`."""

    def __init__(self, hang_seconds: float = 5.0) -> None:
        super().__init__(hang_seconds)
        self.scores: dict[str, float] = {}
        self.authorizations: list[str | None] = []   # the Authorization header of each moderateText call

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/documents:moderateText", self._moderate)
        app.router.add_post("/v2/documents:moderateText", self._moderate)

    def reset(self, mode: str = "normal") -> None:
        super().reset(mode)
        self.authorizations.clear()

    def documents(self) -> list[str]:
        return [body["document"]["content"] for _, body in self.received]

    async def _moderate(self, request: web.Request) -> web.Response:
        self.received.append((request.path, await request.json()))
        self.authorizations.append(request.headers.get("Authorization"))
        failed = await self.misbehave()
        if failed is not None:
            return failed
        categories = [{"name": name, "confidence": self.scores.get(name, 0.0)} for name in GOOGLE_CATEGORIES]
        reply: dict[str, Any] = {"moderationCategories": categories}
        if request.path.startswith("/v2/"):
            reply.update(languageCode="en", languageSupported=True)
        return web.json_response(reply)
