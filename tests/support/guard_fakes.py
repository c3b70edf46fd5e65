"""GuardFake: one real HTTP server (aiohttp, its own thread and loop) that plays the three remote
guardrail services with their wire formats (reference/test-stand-ins.md §3, §5) and records every
request it receives:
  POST /analyze/prompt   LLM Guard API      "ignore previous instructions" → PromptInjection fails,
                                            "idiot" → Toxicity fails; emails are redacted
  POST /v1/moderations   OpenAI moderations "kill" → flagged violence + harassment/threatening
  POST /v2/guard         Lakera Guard v2    "ignore previous instructions" in a user/tool message →
                                            prompt_attack; an email → pii/email
`mode` switches every route at once:
  "normal"     answers as above
  "500"        HTTP 500 whose body leaks an internal address
  "hang"       answers only after `hang_seconds` (or when the fake stops)
  "garbage"    200 with a body that is not JSON
  "no_verdict" 200 JSON without the verdict field (is_valid / results / flagged)
`unreachable_base()` is a base URL on a port nothing listens on.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tests.support.gated import free_port

INJECTION = re.compile(r"ignore (all )?previous instructions", re.I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
LEAK = "upstream http://10.9.8.7:6543/internal failed"
OPENAI_CATEGORIES = ("harassment", "harassment/threatening", "hate", "self-harm", "sexual", "violence",
                     "violence/graphic")


@dataclass
class Received:
    path: str
    headers: CIMultiDict[str]
    body: Any


def assert_unavailable(response: Any, guardrail: str) -> None:
    """SPEC §8.1 fail_closed: 503 guardrail_unavailable naming the guardrail, never the service's
    address, and x-should-retry: false."""
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert (error["code"], error["type"], error["guardrail"]) == ("guardrail_unavailable", "service_unavailable",
                                                                  guardrail)
    assert "127.0.0.1" not in response.text and "10.9.8.7" not in response.text
    assert response.headers["x-should-retry"] == "false"


def unreachable_base() -> str:
    return f"http://127.0.0.1:{free_port()}"


@dataclass
class GuardFake:
    mode: str = "normal"
    hang_seconds: float = 5.0
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GuardFake:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), "guard fake did not start"
        return self

    def reset(self, mode: str = "normal") -> None:
        """Back to `mode` with an empty record, once the previous test's stragglers have arrived
        (a cancelled concurrent call may still reach the fake after gated answered)."""
        seen = -1
        while seen != len(self.received):
            seen = len(self.received)
            time.sleep(0.15)
        self.mode = mode
        self.received.clear()

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/analyze/prompt", self._wrap(self._llm_guard))
        app.router.add_post("/v1/moderations", self._wrap(self._openai))
        app.router.add_post("/v2/guard", self._wrap(self._lakera))
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

    def _wrap(self, answer: Any) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.json()
            self.received.append(Received(request.path, CIMultiDict(request.headers), body))
            if self.mode == "500":
                return web.json_response({"message": LEAK, "details": None}, status=500)
            if self.mode == "garbage":
                return web.Response(text="<html>bad gateway</html>", content_type="text/html")
            if self.mode == "hang":
                try:
                    await asyncio.wait_for(self._release.wait(), self.hang_seconds)
                except TimeoutError:
                    pass
            reply = answer(body)
            if self.mode == "no_verdict":
                for verdict in ("is_valid", "results", "flagged"):
                    reply.pop(verdict, None)
            return web.json_response(reply)

        return handle

    @staticmethod
    def _llm_guard(body: dict[str, Any]) -> dict[str, Any]:
        text = body["prompt"]
        scores = {"Anonymize": -1.0, "PromptInjection": 1.0 if INJECTION.search(text) else -1.0,
                  "Toxicity": 0.9 if "idiot" in text.lower() else -0.9}
        return {"is_valid": all(s <= 0 for s in scores.values()), "scanners": scores,
                "sanitized_prompt": EMAIL.sub("[REDACTED_EMAIL_ADDRESS_1]", text)}

    @staticmethod
    def _openai(body: dict[str, Any]) -> dict[str, Any]:
        results = []
        for text in body["input"]:
            bad = "kill" in text.lower()
            hits = {c: bad and c in ("violence", "harassment/threatening") for c in OPENAI_CATEGORIES}
            results.append({"flagged": bad, "categories": hits,
                            "category_scores": {c: 0.97 if hit else 0.001 for c, hit in hits.items()},
                            "category_applied_input_types": {c: ["text"] for c in OPENAI_CATEGORIES}})
        return {"id": "modr-fake", "model": body.get("model"), "results": results}

    @staticmethod
    def _lakera(body: dict[str, Any]) -> dict[str, Any]:
        breakdown = []
        for index, message in enumerate(body["messages"]):
            text = message["content"]
            attack = bool(INJECTION.search(text)) and message["role"] in ("user", "tool")
            breakdown.append({"detector_type": "prompt_attack", "detected": attack, "message_id": index,
                              "detector_id": "detector-fake-prompt-attack", "policy_id": "policy-fake"})
            breakdown.append({"detector_type": "pii/email", "detected": bool(EMAIL.search(text)),
                              "message_id": index, "detector_id": "detector-fake-pii", "policy_id": "policy-fake"})
        reply: dict[str, Any] = {"flagged": any(b["detected"] for b in breakdown),
                                 "metadata": {"request_uuid": "00000000-fake"}}
        if body.get("breakdown"):
            reply["breakdown"] = breakdown
        return reply
