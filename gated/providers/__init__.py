"""Upstream providers behind one small interface (base.Provider), chosen by the model prefix."""

from __future__ import annotations

from gated.providers.azure import AzureProvider
from gated.providers.base import Provider
from gated.providers.mock import MockProvider
from gated.providers.openai import OpenAIProvider
from gated.providers.transport import UpstreamPool


def build_providers(pool: UpstreamPool) -> dict[str, Provider]:
    return {"openai": OpenAIProvider(pool), "azure": AzureProvider(pool), "mock": MockProvider()}
