"""The built-in guardrails, listed once: importing this module registers them all."""

from gated.guardrails import (  # noqa: F401
    banned_keywords,
    blocked_user_check,
    google_text_moderation,
    lakera_prompt_injection,
    llamaguard_moderations,
    llmguard_moderations,
    openai_moderations,
)
