"""`llmguard_moderations` (SPEC §8.4): every text segment of a request is sent to an LLM Guard API
server (`POST {base}/analyze/prompt`), one call per distinct text, concurrently. Any
`is_valid: false` refuses the request with the failing scanners as categories; a reply without
`is_valid` is a service failure (the runner's on_error policy), never a pass. `llm_guard_mode`
decides which requests are checked: all, keys with `permissions.enable_llm_guard_check`, or
requests whose `metadata.permissions.enable_llm_guard_check` opts in."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from gated.errors import InvalidRequest
from gated.guardrails.base import ALLOW, CheckContext, Guardrail, GuardrailDeps, GuardrailError, Verdict
from gated.guardrails.registry import register
from gated.guardrails.remote import bearer, env_key, http_base, post_json

log = logging.getLogger(__name__)
SERVICE = "LLM Guard"
PERMISSION = "enable_llm_guard_check"


def failing_scanners(reply: dict[str, Any]) -> list[str]:
    """LLM Guard scores are risk scores in [-1, 1]; a scanner that failed scores above 0."""
    scanners = reply.get("scanners")
    if not isinstance(scanners, dict):
        return []
    return sorted(name for name, score in scanners.items()
                  if isinstance(score, int | float) and not isinstance(score, bool) and score > 0)


def _opted_in(permissions: Any) -> bool:
    return isinstance(permissions, dict) and permissions.get(PERMISSION) is True


@register
class LlmGuardModerations(Guardrail):
    name = "llmguard_moderations"

    def __init__(self, deps: GuardrailDeps, url: str, api_key: str | None, mode: str) -> None:
        self.http = deps.http
        self.url = url
        self.headers = bearer(api_key)
        self.mode = mode

    @classmethod
    def from_config(cls, settings, callback, deps):  # type: ignore[no-untyped-def]
        base = http_base(settings.llm_guard_api_base, "llm_guard_api_base", env="LLM_GUARD_API_BASE")
        return cls(deps, f"{base}/analyze/prompt", env_key("LLM_GUARD_API_KEY", required=False),
                   settings.llm_guard_mode)

    def applies_to(self, ctx: CheckContext) -> bool:
        """Operators decide through the mode; a client can opt in, never out."""
        if self.mode == "key-specific":
            return _opted_in(ctx.key_permissions)
        if self.mode == "request-specific":
            return _opted_in(ctx.request_metadata.get("permissions"))
        return True

    async def check(self, ctx: CheckContext) -> Verdict:
        if not self.applies_to(ctx):
            return ALLOW
        texts = list(dict.fromkeys(s.text for s in ctx.segments if s.text.strip()))
        tasks = [asyncio.create_task(self._analyze(text)) for text in texts]
        failures: list[GuardrailError] = []
        try:
            for next_done in asyncio.as_completed(tasks):
                try:
                    reply = await next_done
                except GuardrailError as exc:  # keep waiting: another segment's block wins over this
                    failures.append(exc)
                    continue
                if reply["is_valid"] is False:
                    categories = failing_scanners(reply)
                    named = f" ({', '.join(categories)})" if categories else ""
                    return Verdict(InvalidRequest(f"the request violates the content policy{named}",
                                                  code="content_policy_violation",
                                                  extra={"categories": categories}))
        finally:
            for task in tasks:
                task.cancel()
        if failures:
            raise failures[0]
        return ALLOW

    async def _analyze(self, text: str) -> dict[str, Any]:
        reply = await post_json(self.http, SERVICE, self.url, {"prompt": text}, self.headers)
        if not isinstance(reply, dict) or not isinstance(reply.get("is_valid"), bool):
            raise GuardrailError(f"{SERVICE}: the reply has no is_valid")
        if log.isEnabledFor(logging.INFO):
            shown = dict(reply)
            if isinstance(shown.get("sanitized_prompt"), str):
                shown["sanitized_prompt"] = len(shown["sanitized_prompt"])
            log.info("LLM Guard: Received response - %s", orjson.dumps(shown).decode())
        log.debug("LLM Guard: full response - %s", orjson.dumps(reply).decode())
        return reply
