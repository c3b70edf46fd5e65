"""Guardrails: plugins registered by their config name (see registry.py)."""
