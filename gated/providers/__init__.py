"""Upstream providers behind one small interface (base.Provider), chosen by the model prefix."""

from __future__ import annotations

import aiohttp

from gated.providers.azure import AzureProvider
from gated.providers.base import Provider
from gated.providers.mock import MockProvider
from gated.providers.openai import OpenAIProvider


def build_providers(session: aiohttp.ClientSession) -> dict[str, Provider]:
    return {"openai": OpenAIProvider(session), "azure": AzureProvider(session), "mock": MockProvider()}
