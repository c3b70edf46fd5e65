"""gated's one middleware: request context (request id, timing, access log, metrics), auth by the
route's declared role, and errors (the only renderer of the SPEC §6 envelope, aiohttp's own
404/405/413 included)."""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from gated import appkeys
from gated.auth import OPEN
from gated.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    RequestTooLarge,
    UnsupportedRoute,
)
from gated.logs import ms
from gated.routes import ADMIN_ONLY, ANY_KEY, PUBLIC, Route

log = logging.getLogger(__name__)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    """A version 7 UUID (RFC 9562: milliseconds since the epoch, then random bits) as text. Being
    time-ordered, the spend log's request_id index grows at its end: random ids touched a
    different index page per row, and writing those pages was most of the spend writer's cost.
    The random bits need to be unique, not secret: `random` (reseeded in every forked worker)
    instead of os.urandom, a system call per request."""
    ms = f"{time.time_ns() // 1_000_000:012x}"
    r = f"{random.getrandbits(80):020x}"
    return f"{ms[:8]}-{ms[8:]}-7{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:19]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def error_response(error: GatewayError) -> web.Response:
    return web.Response(
        body=orjson.dumps(error.envelope()),
        status=error.status,
        content_type="application/json",
        headers=error.response_headers(),
    )


@web.middleware
async def gateway(request: web.Request, handler: Any) -> web.StreamResponse:
    """Around every handler: the request id and timing, the route's role check, every error in
    the envelope, then the access log and metrics. One layer, because each aiohttp middleware
    costs a few µs per request (SPEC §12)."""
    supplied = request.headers.get("x-request-id")
    request_id = supplied if supplied and _SAFE_REQUEST_ID.match(supplied) else new_request_id()
    request[appkeys.REQUEST_ID] = request_id
    request[appkeys.STARTED] = started = time.perf_counter()
    request[appkeys.LOG_FIELDS] = fields = {}
    status = 500
    app = request.app
    spec = app[appkeys.ROUTE_SPECS].get(request.match_info.route)   # None: no route matched
    try:
        try:
            await _authorise(app, request, spec)
            response = await handler(request)
        except Exception as exc:   # noqa: BLE001 - every failure becomes an envelope
            response = _error_response_for(exc, request)
        if not response.prepared:        # a streamed response set it before its first byte
            response.headers["x-gated-request-id"] = request_id
        status = response.status
        return response
    finally:
        seconds = time.perf_counter() - started
        method, path = request.method, request.path
        fields.update(request_id=request_id, method=method, path=path, status=status,
                      latency_ms=ms(seconds))
        app[appkeys.METRICS].observe_request(
            spec.path if spec is not None else "(unmatched)", fields.get("model") or "",
            status, seconds, fields.get("overhead_ms"), fields.get("cost"))
        app[appkeys.ACCESS_LOG](f"{method} {path} {status} {seconds * 1000:.1f}ms id={request_id}", fields)


def _error_response_for(exc: Exception, request: web.Request) -> web.Response:
    if isinstance(exc, GatewayError):
        return error_response(exc)
    if isinstance(exc, web.HTTPException):
        return error_response(_from_aiohttp(exc, request))
    if isinstance(exc, RequestPayloadError):   # e.g. Content-Encoding: gzip on a body that is not gzip
        # aiohttp's text is "400, message:\n  <reason>" (or empty): keep the reason, on one line
        reason = " ".join(str(exc).split()).removeprefix("400, message:").strip() or "malformed body"
        return error_response(InvalidRequest(f"the request body cannot be read: {reason[:200]}"))
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(InternalError("the gateway failed to handle this request"))


def _from_aiohttp(exc: web.HTTPException, request: web.Request) -> GatewayError:
    if exc.status == 404:
        return UnsupportedRoute(f"gated does not serve {request.path[:200]}", param="path")
    if exc.status == 405:
        return MethodNotAllowed("method not allowed on this route")
    if exc.status == 413:
        return RequestTooLarge("request body is larger than general_settings.max_request_size_mb")
    error = GatewayError(exc.reason or "request failed")
    error.status = exc.status
    error.type = "invalid_request_error" if exc.status < 500 else "server_error"
    error.code = "invalid_request" if exc.status < 500 else "internal_error"
    return error


async def _authorise(app: web.Application, request: web.Request, spec: Route | None) -> None:
    """The caller's principal, checked against the role the route declares (routes.py)."""
    if spec is None or spec.role == PUBLIC:
        return
    authenticator = app[appkeys.AUTH]
    principal = await authenticator.authenticate(request.headers)
    if spec.role == ADMIN_ONLY:
        authenticator.require_admin(principal)
    elif spec.role != ANY_KEY and principal.role == OPEN:
        authenticator.require_admin(principal)  # admin routes with finer rules still need a master key
    request[appkeys.PRINCIPAL] = principal
