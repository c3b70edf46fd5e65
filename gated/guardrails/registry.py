"""The guardrail registry: config name → guardrail class, filled once by `@register` at import."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

_REGISTRY: dict[str, Any] = {}


def register(cls: T) -> T:
    name = cls.name  # type: ignore[attr-defined]
    if name in _REGISTRY:
        raise ValueError(f"guardrail {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def _load_builtins() -> None:
    import gated.guardrails.builtin  # noqa: F401  (registers every built-in guardrail)


def known_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> Any:
    _load_builtins()
    return _REGISTRY[name]
