"""`azure/<deployment>`: Azure OpenAI, addressed by deployment name and `api-version`."""

from __future__ import annotations

from urllib.parse import quote

from gated.config import LitellmParams
from gated.providers.base import PATHS
from gated.providers.http import HttpProvider


class AzureProvider(HttpProvider):
    def url(self, params: LitellmParams, call_type: str) -> str:
        base = (params.api_base or "").rstrip("/")
        deployment = quote(params.upstream_model, safe="")
        return f"{base}/openai/deployments/{deployment}{PATHS[call_type]}?api-version={params.api_version}"

    def headers(self, params: LitellmParams) -> dict[str, str]:
        return {"api-key": params.api_key} if params.api_key else {}
