"""`blocked_user_check` (SPEC §8.2): refuse a request when any of its end-user ids — body `user`,
body `user_id`, `metadata.user_id`, the key's `user_id` — is on the blocked list."""

from __future__ import annotations

from gated.errors import Forbidden
from gated.guardrails.base import ALLOW, CheckContext, Guardrail, GuardrailDeps, Verdict
from gated.guardrails.registry import register


@register
class BlockedUserCheck(Guardrail):
    name = "blocked_user_check"
    local = True

    def __init__(self, deps: GuardrailDeps) -> None:
        self.is_blocked = deps.is_blocked

    @classmethod
    def from_config(cls, settings, callback, deps):  # type: ignore[no-untyped-def]
        return cls(deps)

    async def check(self, ctx: CheckContext) -> Verdict:
        for user_id in ctx.end_user_ids:
            if self.is_blocked(user_id):
                return Verdict(Forbidden(f"user '{user_id}' is blocked", code="user_blocked", param="user"))
        return ALLOW
