"""`banned_keywords` (SPEC §8.3): refuse requests — and, with `banned_keywords_check_output`,
answers — that contain a banned keyword. Matching lives in keywords.py; streamed answers are
checked by stream.StreamKeywordGuard."""

from __future__ import annotations

from gated.errors import InvalidRequest
from gated.guardrails.base import ALLOW, CheckContext, Guardrail, GuardrailDeps, Verdict
from gated.guardrails.registry import register
from gated.guardrails.stream import StreamKeywordGuard


def keyword_error(keyword: str, where: str) -> InvalidRequest:
    return InvalidRequest(f"the {where} contains the banned keyword '{keyword}'", code="banned_keyword")


def _named(error: InvalidRequest) -> InvalidRequest:
    error.rejected_by = BannedKeywords.name
    error.extra["guardrail"] = BannedKeywords.name
    return error


@register
class BannedKeywords(Guardrail):
    name = "banned_keywords"
    local = True

    def __init__(self, deps: GuardrailDeps, check_output: bool) -> None:
        self.matcher = deps.keywords
        self.checks_output = check_output  # the runner asks this guardrail about answers only when set

    @classmethod
    def from_config(cls, settings, callback, deps):  # type: ignore[no-untyped-def]
        return cls(deps, settings.banned_keywords_check_output)

    async def check(self, ctx: CheckContext) -> Verdict:
        matcher = self.matcher()
        for segment in ctx.segments:
            found = matcher.find(segment.text)
            if found is not None:
                return Verdict(keyword_error(found, "request"))
        return ALLOW

    def stream_guard(self) -> StreamKeywordGuard | None:
        matcher = self.matcher()
        if not (self.checks_output and matcher):
            return None
        return StreamKeywordGuard(matcher, lambda found: _named(keyword_error(found, "answer")))

    async def check_output(self, ctx: CheckContext, texts: list[str]) -> Verdict:
        found = self.matcher().find("\n".join(texts))
        return Verdict(keyword_error(found, "answer")) if found is not None else ALLOW
