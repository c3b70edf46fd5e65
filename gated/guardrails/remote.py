"""What the HTTP guardrails (LLM Guard, OpenAI moderations, Lakera) share: settings read from the
environment at startup, and one JSON POST through the process's shared ClientSession that turns
every way a service can fail (connect error, non-2xx, a body that is not JSON) into GuardrailError.
Error texts name the service and what went wrong, never its address."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import orjson

from gated.guardrails.base import GuardrailError


def http_base(value: str | None, setting: str, env: str | None = None, default: str | None = None) -> str:
    """The service's base URL: the config value, else the env variable, else the default."""
    where = f"litellm_settings.{setting}" + (f" or env {env}" if env else "")
    base = value or (os.environ.get(env) if env else None) or default
    if not base:
        raise ValueError(f"needs the service's base URL: set {where}")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"{where}: the base URL must start with http:// or https://")
    return base.rstrip("/")


def env_key(name: str, required: bool = True) -> str | None:
    """A secret from the environment (never from the config file, never logged)."""
    value = os.environ.get(name) or None
    if required and value is None:
        raise ValueError(f"needs env {name}")
    return value


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


async def post_json(http: aiohttp.ClientSession | None, service: str, url: str, payload: Any,
                    headers: dict[str, str]) -> Any:
    """POST `payload`, return the decoded JSON reply; raise GuardrailError on any failure."""
    if http is None:
        raise GuardrailError(f"{service}: no HTTP client")
    try:
        async with http.post(url, data=orjson.dumps(payload),
                             headers={"Content-Type": "application/json", **headers}) as response:
            status = response.status
            raw = await response.read()
    except aiohttp.ClientError as exc:
        raise GuardrailError(f"{service}: request failed ({type(exc).__name__})") from None
    if not 200 <= status < 300:
        raise GuardrailError(f"{service}: answered HTTP {status}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GuardrailError(f"{service}: the reply is not JSON") from None
