"""The gateway's error hierarchy. Each class fixes status, type and code of the SPEC §6 envelope;
the error middleware is the only place that renders them."""

from __future__ import annotations

from typing import Any

from gated.redact import mask_keys


class GatewayError(Exception):
    status = 500
    type = "server_error"
    code = "internal_error"
    should_retry: bool | None = None  # None: let the client's SDK decide

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        rejected_by: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.rejected_by = rejected_by  # set when a policy refused an LLM request before the upstream
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def envelope(self) -> dict[str, Any]:
        # a message may quote what the client sent (a model name, an id): a key there is masked
        body: dict[str, Any] = {"message": mask_keys(self.message), "type": self.type, "param": self.param,
                                "code": self.code}
        body.update(self.extra)
        return {"error": body}

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        return headers


class InvalidRequest(GatewayError):
    status, type, code = 400, "invalid_request_error", "invalid_request"


class AuthenticationFailed(GatewayError):
    status, type, code = 401, "authentication_error", "invalid_api_key"


class Forbidden(GatewayError):
    status, type, code = 403, "permission_error", "forbidden"


class NotFound(GatewayError):
    status, type, code = 404, "invalid_request_error", "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class UnsupportedRoute(NotFound):
    code = "unsupported_route"


class MethodNotAllowed(GatewayError):
    status, type, code = 405, "invalid_request_error", "method_not_allowed"


class Conflict(GatewayError):
    status, type, code = 409, "invalid_request_error", "conflict"


class RequestTooLarge(GatewayError):
    status, type, code = 413, "invalid_request_error", "request_too_large"


class BudgetExceeded(GatewayError):
    status, type, code = 429, "insufficient_quota", "budget_exceeded"
    should_retry = False


class RateLimited(GatewayError):
    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"


class InternalError(GatewayError):
    status, type, code = 500, "server_error", "internal_error"


class UpstreamFailed(GatewayError):
    """Every deployment tried failed; the gateway already retried, so clients should not."""

    status, type, code = 502, "upstream_error", "upstream_error"
    should_retry = False


class UpstreamTimeout(GatewayError):
    status, type, code = 504, "upstream_error", "upstream_timeout"
    should_retry = False


class GuardrailUnavailable(GatewayError):
    status, type, code = 503, "service_unavailable", "guardrail_unavailable"
    should_retry = False


class UpstreamRelayed(GatewayError):
    """An upstream 4xx that already had the OpenAI shape; relayed with its own status/type/code."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message") or "upstream error"), param=error.get("param"))
        self.status = status
        self.type = str(error.get("type") or "invalid_request_error")
        self.code = str(error.get("code") or "upstream_error")
