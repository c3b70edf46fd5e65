"""`lakera_prompt_injection` (SPEC §8.8): the whole conversation, roles kept, goes to Lakera Guard
v2 (`POST {base}/v2/guard`, Bearer `LAKERA_API_KEY`) in one call; completions prompts and
embeddings inputs are sent as user messages. `flagged: true` refuses the request; the detector
types that fired (from the breakdown we ask for) become its categories. A reply without a boolean
`flagged` is a service failure."""

from __future__ import annotations

from typing import Any

from gated.errors import InvalidRequest
from gated.guardrails.base import ALLOW, CheckContext, Guardrail, GuardrailDeps, GuardrailError, Verdict
from gated.guardrails.registry import register
from gated.guardrails.remote import bearer, env_key, http_base, post_json
from gated.guardrails.text import message_texts

SERVICE = "Lakera Guard"
DEFAULT_BASE = "https://api.lakera.ai"


def conversation(ctx: CheckContext) -> list[dict[str, str]]:
    """One Lakera message per request message that carries text (its text parts and tool-call
    arguments joined by newlines); other call types become user messages."""
    if ctx.call_type != "chat":
        return [{"role": "user", "content": s.text} for s in ctx.segments if s.text.strip()]
    messages = []
    for message in ctx.body.get("messages") or ():
        text = "\n".join(t for t in message_texts(message) if t.strip())
        if text:
            messages.append({"role": str(message.get("role") or "user"), "content": text})
    return messages


def detected_types(reply: dict[str, Any]) -> list[str]:
    found: dict[str, None] = {}
    for item in reply.get("breakdown") or ():
        if isinstance(item, dict) and item.get("detected") is True and isinstance(item.get("detector_type"), str):
            found[item["detector_type"]] = None
    return list(found)


@register
class LakeraPromptInjection(Guardrail):
    name = "lakera_prompt_injection"

    def __init__(self, deps: GuardrailDeps, url: str, api_key: str | None) -> None:
        self.http = deps.http
        self.url = url
        self.headers = bearer(api_key)

    @classmethod
    def from_config(cls, settings, callback, deps):  # type: ignore[no-untyped-def]
        base = http_base(settings.lakera_api_base, "lakera_api_base", env="LAKERA_API_BASE", default=DEFAULT_BASE)
        return cls(deps, f"{base}/v2/guard", env_key("LAKERA_API_KEY"))

    async def check(self, ctx: CheckContext) -> Verdict:
        messages = conversation(ctx)
        if not messages:
            return ALLOW
        reply = await post_json(self.http, SERVICE, self.url, {"messages": messages, "breakdown": True},
                                self.headers)
        if not isinstance(reply, dict) or not isinstance(reply.get("flagged"), bool):
            raise GuardrailError(f"{SERVICE}: the reply has no flagged decision")
        if not reply["flagged"]:
            return ALLOW
        categories = detected_types(reply)
        named = f" ({', '.join(categories)})" if categories else ""
        return Verdict(InvalidRequest(f"the request was flagged by the prompt injection check{named}",
                                      code="prompt_injection", extra={"categories": categories}))
