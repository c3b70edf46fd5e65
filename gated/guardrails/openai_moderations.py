"""`openai_moderations` (SPEC §8.7): all text segments of a request go to an OpenAI-compatible
moderation endpoint in one call (`POST {openai_moderations_api_base}/moderations`, `input` = the
list of texts, `model` = `openai_moderations_model_name`, Bearer `OPENAI_API_KEY`). Any flagged
result refuses the request with the flagged categories (wire names, e.g. `harassment/threatening`);
a reply without a `flagged` result per text is a service failure."""

from __future__ import annotations

from typing import Any

from gated.errors import InvalidRequest
from gated.guardrails.base import ALLOW, CheckContext, Guardrail, GuardrailDeps, GuardrailError, Verdict
from gated.guardrails.registry import register
from gated.guardrails.remote import bearer, env_key, http_base, post_json

SERVICE = "OpenAI moderations"


def _results(reply: Any, expected: int) -> list[dict[str, Any]]:
    results = reply.get("results") if isinstance(reply, dict) else None
    if (not isinstance(results, list) or len(results) != expected
            or not all(isinstance(r, dict) and isinstance(r.get("flagged"), bool) for r in results)):
        raise GuardrailError(f"{SERVICE}: the reply has no flagged result per input")
    return results


def flagged_categories(results: list[dict[str, Any]]) -> list[str]:
    found: dict[str, None] = {}
    for result in results:
        categories = result.get("categories")
        if result["flagged"] and isinstance(categories, dict):
            found.update((name, None) for name, hit in categories.items() if hit is True)
    return list(found)


@register
class OpenAIModerations(Guardrail):
    name = "openai_moderations"

    def __init__(self, deps: GuardrailDeps, url: str, model: str, api_key: str | None) -> None:
        self.http = deps.http
        self.url = url
        self.model = model
        self.headers = bearer(api_key)

    @classmethod
    def from_config(cls, settings, callback, deps):  # type: ignore[no-untyped-def]
        base = http_base(settings.openai_moderations_api_base, "openai_moderations_api_base")
        return cls(deps, f"{base}/moderations", settings.openai_moderations_model_name, env_key("OPENAI_API_KEY"))

    async def check(self, ctx: CheckContext) -> Verdict:
        texts = [s.text for s in ctx.segments if s.text.strip()]
        if not texts:
            return ALLOW
        reply = await post_json(self.http, SERVICE, self.url, {"input": texts, "model": self.model}, self.headers)
        results = _results(reply, len(texts))
        if not any(r["flagged"] for r in results):
            return ALLOW
        categories = flagged_categories(results)
        named = f" ({', '.join(categories)})" if categories else ""
        return Verdict(InvalidRequest(f"the request violates the content policy{named}",
                                      code="content_policy_violation", extra={"categories": categories}))
