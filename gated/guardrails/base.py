"""What a guardrail is: a small class registered under its config name that returns a Verdict for
a request (and optionally for its output), and raises GuardrailError only when its own service
fails. Guardrails get what they need through GuardrailDeps; they never touch the store or aiohttp.web."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gated.errors import GatewayError
from gated.guardrails.text import Segment

if TYPE_CHECKING:
    import aiohttp

    from gated.config import CallbackSettings, LitellmSettings
    from gated.guardrails.keywords import KeywordMatcher
    from gated.guardrails.stream import StreamKeywordGuard


class GuardrailError(Exception):
    """The guardrail's service failed (connect error, timeout, non-2xx, malformed reply)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    error: GatewayError | None = None      # None: allowed

    @property
    def allowed(self) -> bool:
        return self.error is None


ALLOW = Verdict()


@dataclass(slots=True)
class CheckContext:
    call_type: str
    body: dict[str, Any]
    segments: list[Segment]
    request_id: str
    end_user_ids: list[str]                       # body user, body user_id, metadata.user_id, key user_id
    key_permissions: dict[str, Any] = field(default_factory=dict)
    request_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class GuardrailDeps:
    """Read-only views and shared clients handed to guardrails at construction."""

    base_dir: Path
    is_blocked: Callable[[str], bool]
    keywords: Callable[[], KeywordMatcher]
    http: aiohttp.ClientSession | None = None
    executor: Executor | None = None


class Guardrail:
    name: ClassVar[str]
    local: ClassVar[bool] = False          # local ones run first, in order, before any remote one
    checks_output: ClassVar[bool] = False

    @classmethod
    def from_config(cls, settings: LitellmSettings, callback: CallbackSettings, deps: GuardrailDeps) -> Guardrail:
        """Validate this guardrail's settings (ConfigError-friendly ValueError) without I/O."""
        return cls()

    async def check(self, ctx: CheckContext) -> Verdict:
        return ALLOW

    async def check_output(self, ctx: CheckContext, texts: list[str]) -> Verdict:
        return ALLOW

    def stream_guard(self) -> StreamKeywordGuard | None:
        """A per-stream checker of streamed output, for guardrails that check output."""
        return None
