"""A 0 ms stand-in for gated's five remote guardrail services, for `make bench` (its own process).

Every call answers at once with an "allow" verdict in the service's wire format:
- LLM Guard            POST /analyze/prompt                 {"is_valid": true, "scanners": {...}, ...}
- OpenAI moderations   POST .../moderations                 one unflagged result per `input` text
- Lakera Guard v2      POST /v2/guard                       {"flagged": false, "breakdown": [...]}
- SageMaker runtime    POST /endpoints/{name}/invocations   [{"generated_text": "safe"}]
- Google NL REST       POST /v1|/v2/documents:moderateText  16 categories, confidence 0.01
GET /health answers 200; GET /stats the number of calls per service so far (the bench checks that
every request through a guarded gated really reached its service). Everything else is 404.

Same raw-asyncio HTTP/1.1 handling as bench/upstream.py (keep-alive, Content-Length bodies: what
aiohttp, urllib3/botocore and requests send), so the stand-in costs little and answers in ~0 ms.

    python bench/guard_standin.py --port 9002 [--host 127.0.0.1]
"""

from __future__ import annotations

from typing import Any

from upstream import BAD_REQUEST, NOT_FOUND, Upstream, _dumps, _loads
from upstream import main as standin_main

SERVICES = ("llmguard", "openai", "lakera", "sagemaker", "google")
CALLS: dict[str, int] = dict.fromkeys(SERVICES, 0)

OPENAI_CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
                     "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual",
                     "sexual/minors", "violence", "violence/graphic")
GOOGLE_CATEGORIES = ("Toxic", "Insult", "Profanity", "Derogatory", "Sexual", "Death, Harm & Tragedy", "Violent",
                     "Firearms & Weapons", "Public Safety", "Health", "Religion & Belief", "Illicit Drugs",
                     "War & Conflict", "Politics", "Finance", "Legal")
SAGEMAKER_REPLY = _dumps([{"generated_text": "safe"}])
GOOGLE_REPLY = _dumps({"moderationCategories": [{"name": n, "confidence": 0.01} for n in GOOGLE_CATEGORIES],
                       "languageCode": "en", "languageSupported": True})
GOOGLE_REPLY_V1 = _dumps({"moderationCategories": [{"name": n, "confidence": 0.01} for n in GOOGLE_CATEGORIES]})


def llm_guard(request: dict[str, Any]) -> bytes:
    return _dumps({"is_valid": True, "scanners": {"PromptInjection": -1.0, "Toxicity": -1.0},
                   "sanitized_prompt": str(request.get("prompt", ""))})


def openai_moderation(request: dict[str, Any]) -> bytes:
    texts = request.get("input")
    count = len(texts) if isinstance(texts, list) else 1
    result = {"flagged": False, "categories": dict.fromkeys(OPENAI_CATEGORIES, False),
              "category_scores": dict.fromkeys(OPENAI_CATEGORIES, 0.0001)}
    return _dumps({"id": "modr-bench", "model": request.get("model", "omni-moderation-latest"),
                   "results": [result] * count})


def lakera(request: dict[str, Any]) -> bytes:
    reply: dict[str, Any] = {"flagged": False, "metadata": {"request_uuid": "00000000-bench"}}
    if request.get("breakdown"):
        reply["breakdown"] = [{"detector_type": "prompt_attack", "detected": False, "message_id": i,
                               "detector_id": "bench", "policy_id": "bench"}
                              for i in range(len(request.get("messages") or ()))]
    return _dumps(reply)


class GuardStandIn(Upstream):
    def handle(self, method: str, path: str, body: bytes) -> None:
        path = path.split("?", 1)[0]
        if method == "GET" and path == "/health":
            self.respond("200 OK", b'{"status":"ok"}')
            return
        if method == "GET" and path == "/stats":
            self.respond("200 OK", _dumps(CALLS))
            return
        if method != "POST":
            self.respond("404 Not Found", NOT_FOUND)
            return
        if path.endswith("/invocations") and path.startswith("/endpoints/"):
            CALLS["sagemaker"] += 1          # the body (a Llama Guard prompt) is not needed for "safe"
            self.respond("200 OK", SAGEMAKER_REPLY)
            return
        if path.endswith("/documents:moderateText"):
            CALLS["google"] += 1
            self.respond("200 OK", GOOGLE_REPLY if path.startswith("/v2/") else GOOGLE_REPLY_V1)
            return
        try:
            request = _loads(body)
            if not isinstance(request, dict):
                raise ValueError
        except ValueError:
            self.respond("400 Bad Request", BAD_REQUEST)
            return
        if path == "/analyze/prompt":
            CALLS["llmguard"] += 1
            self.respond("200 OK", llm_guard(request))
        elif path.endswith("/moderations"):
            CALLS["openai"] += 1
            self.respond("200 OK", openai_moderation(request))
        elif path == "/v2/guard":
            CALLS["lakera"] += 1
            self.respond("200 OK", lakera(request))
        else:
            self.respond("404 Not Found", NOT_FOUND)


if __name__ == "__main__":
    standin_main(GuardStandIn, "bench guardrail stand-in", __doc__)
