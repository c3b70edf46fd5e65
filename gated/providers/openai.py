"""`openai/…`: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama…)."""

from __future__ import annotations

from gated.config import LitellmParams
from gated.providers.base import PATHS
from gated.providers.http import HttpProvider

DEFAULT_API_BASE = "https://api.openai.com/v1"


class OpenAIProvider(HttpProvider):
    def url(self, params: LitellmParams, call_type: str) -> str:
        return (params.api_base or DEFAULT_API_BASE).rstrip("/") + PATHS[call_type]

    def headers(self, params: LitellmParams) -> dict[str, str]:
        return {"Authorization": f"Bearer {params.api_key}"} if params.api_key else {}
