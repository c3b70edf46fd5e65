"""A tiny raw-HTTP client for gated's admin and LLM routes, as a caller holding one key."""

from __future__ import annotations

from typing import Any

import httpx


class Api:
    def __init__(self, url: str, key: str | None) -> None:
        self.url, self.key = url, key

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers={**self.headers(), **(headers or {})}, timeout=30)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, headers=self.headers(), timeout=30)

    def chat(self, model: str = "gpt-3.5-turbo", **extra: Any) -> httpx.Response:
        return self.post("/v1/chat/completions",
                         {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra})

    def ok(self, path: str, body: Any = None) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 200, response.text
        return response.json()

    def as_key(self, key: str) -> Api:
        return Api(self.url, key)
