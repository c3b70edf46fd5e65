"""The built-in guardrails, listed once: importing this module registers them all."""

from gated.guardrails import banned_keywords, blocked_user_check  # noqa: F401
from gated.guardrails import lakera_prompt_injection, llmguard_moderations, openai_moderations  # noqa: F401
