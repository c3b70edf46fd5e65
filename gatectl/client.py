"""The only module of gatectl that speaks HTTP. Turns transport failures and API error bodies
into ApiError / Unreachable, which main() maps to exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HINTS = {
    401: "check --key / GATED_MASTER_KEY",
    403: "this needs the master key (or a key with the right role)",
    404: "check the id: the list commands show the existing ones",
    409: "pick another id or alias",
    429: "a budget or rate limit refused it; see `gatectl key info`",
}


class Unreachable(Exception):
    pass


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    @property
    def hint(self) -> str | None:
        return HINTS.get(self.status)


@dataclass
class Client:
    url: str
    key: str | None
    timeout: float

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            response = httpx.request(method, self.url.rstrip("/") + path, params=params, json=json,
                                     headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise Unreachable(f"gated at {self.url} did not answer within {self.timeout}s") from None
        except httpx.HTTPError:
            raise Unreachable(f"cannot reach gated at {self.url}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                raise ApiError(response.status_code, str(error.get("message")), error.get("code"))
            raise ApiError(response.status_code, f"HTTP {response.status_code}", None)
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)
