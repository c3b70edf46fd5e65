"""`google_text_moderation` (SPEC §8.6): send every text of the request, joined by blank lines into
one document, to Google Cloud Natural Language `moderate_text` and refuse the request when a
category's confidence is above its threshold (a per-category override, else the global one).
google-cloud-language is imported only when this guardrail is configured; its sync REST client
runs in a worker thread, and every SDK failure becomes a GuardrailError."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from gated.errors import InvalidRequest
from gated.guardrails.base import ALLOW, CheckContext, Guardrail, GuardrailDeps, GuardrailError, Verdict
from gated.guardrails.registry import register

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from gated.config import CallbackSettings, LitellmSettings

log = logging.getLogger(__name__)

SCOPES = ["https://www.googleapis.com/auth/cloud-language", "https://www.googleapis.com/auth/cloud-platform"]
_NON_WORD = re.compile(r"[^a-z0-9]+")

# A blocking `document -> [(category name, confidence)]` call that raises only GuardrailError.
Moderate = Callable[[str], list[tuple[str, float]]]


def normalise(category: str) -> str:
    """"Death, Harm & Tragedy" → death_harm_and_tragedy, "Firearms & Weapons" → firearms_and_weapons."""
    return _NON_WORD.sub("_", category.casefold().replace("&", " and ")).strip("_")


def google_credentials(anonymous: bool) -> Credentials:
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError

    if anonymous:
        return AnonymousCredentials()
    try:
        # Honours GOOGLE_APPLICATION_CREDENTIALS first; the GCE metadata probe is skipped with NO_GCE_CHECK=true.
        credentials, _project = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError:
        raise ValueError("no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a service-account "
                         "key file") from None
    return credentials


def google_moderator(api_endpoint: str | None, anonymous: bool, timeout: float) -> Moderate:
    from google.api_core.client_options import ClientOptions
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from google.cloud import language_v2
    from google.protobuf.json_format import ParseError
    from requests import RequestException

    options = ClientOptions(api_endpoint=api_endpoint.rstrip("/")) if api_endpoint else None
    client = language_v2.LanguageServiceClient(transport="rest", client_options=options,
                                               credentials=google_credentials(anonymous))

    def moderate(content: str) -> list[tuple[str, float]]:
        document = language_v2.Document(content=content, type_=language_v2.Document.Type.PLAIN_TEXT)
        try:
            # The runner owns the deadline; a retry hidden inside it would only eat that budget.
            response = client.moderate_text(document=document, retry=None, timeout=timeout)
        except (GoogleAPIError, GoogleAuthError, RequestException, ParseError, ValueError) as exc:
            # Their messages embed the request URL; the class name (e.g. TooManyRequests) is enough.
            raise GuardrailError(f"Google moderation failed ({type(exc).__name__})") from None
        # Confidences travel as float32: 0.1 arrives as 0.10000000149…, which would be "above" a 0.1
        # threshold. Seven significant digits give back the value Google meant, tiny ones included.
        return [(c.name, float(f"{c.confidence:.7g}")) for c in response.moderation_categories]

    return moderate


@register
class GoogleTextModeration(Guardrail):
    name = "google_text_moderation"

    def __init__(self, moderate: Moderate, threshold: float, overrides: dict[str, float],
                 executor: Executor | None) -> None:
        self.moderate = moderate
        self.threshold = threshold
        self.overrides = overrides
        self.executor = executor

    @classmethod
    def from_config(cls, settings: LitellmSettings, callback: CallbackSettings,
                    deps: GuardrailDeps) -> GoogleTextModeration:
        moderate = google_moderator(settings.google_moderation_api_endpoint,
                                    settings.google_moderation_anonymous_credentials, callback.timeout)
        return cls(moderate, settings.google_moderation_confidence_threshold,
                   dict(settings.google_category_thresholds), deps.executor)

    def flagged(self, scores: list[tuple[str, float]]) -> list[str]:
        flagged: list[str] = []
        for name, confidence in scores:
            category = normalise(name)
            if confidence > self.overrides.get(category, self.threshold) and category not in flagged:
                flagged.append(category)
        return flagged

    async def check(self, ctx: CheckContext) -> Verdict:
        content = "\n\n".join(s.text for s in ctx.segments if s.text.strip())
        if not content:
            return ALLOW
        scores = await asyncio.get_running_loop().run_in_executor(self.executor, self.moderate, content)
        categories = self.flagged(scores)
        if not categories:
            return ALLOW
        log.info("Google moderation flagged request %s (categories: %s)", ctx.request_id, ", ".join(categories))
        return Verdict(InvalidRequest(
            f"the request was flagged by Google content moderation (categories: {', '.join(categories)})",
            code="content_policy_violation", extra={"categories": categories}))
