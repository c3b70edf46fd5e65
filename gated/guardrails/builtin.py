"""The built-in guardrails, listed once: importing this module registers them all."""

from gated.guardrails import banned_keywords, blocked_user_check  # noqa: F401
