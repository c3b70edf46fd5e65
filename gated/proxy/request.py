"""Reading an LLM request: the fields the gateway owns or reads (SPEC §4), validated without
validating the whole OpenAI body, and the body that goes upstream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gated.config import LitellmParams
from gated.errors import InvalidRequest
from gated.providers.base import CHAT, COMPLETION, EMBEDDING, MODERATION

GATEWAY_FIELDS = ("metadata", "tags", "user_id", "mock_response")
TAGS_HEADER = "x-gated-tags"
MAX_TAGS = 32
MAX_TAG_LENGTH = 128
REQUIRED_FIELD = {CHAT: "messages", COMPLETION: "prompt", EMBEDDING: "input", MODERATION: "input"}


@dataclass(slots=True)
class LlmRequest:
    call_type: str
    body: dict[str, Any]
    model_group: str | None
    stream: bool
    client_wants_usage: bool
    tags: list[str]
    end_user: str | None
    metadata: dict[str, Any]
    mock_response: str | None
    max_output_tokens: int | None


MAX_NESTING = 250   # orjson reads 1024 levels but writes at most 255: deeper bodies could not be forwarded


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body (at most `limit` bytes, else aiohttp's 413). A body that arrived whole with
    the headers, the usual case, is taken from the buffer: request.read() costs two more awaits and
    two copies of it (SPEC §12)."""
    content = request.content
    if not content.is_eof():
        return await request.read()
    body = content.read_nowait()
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(limit, len(body))
    return body


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    # only a body with that many brackets can nest that deep; counting them is cheap, writing is not
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING:
        try:
            orjson.dumps(body)
        except TypeError:
            raise InvalidRequest(f"request body is nested more than {MAX_NESTING} levels deep") from None
    return body


def _typed(body: Mapping[str, Any], name: str, kind: type, label: str, param: str = "") -> Any:
    """body[name] if absent/null or of `kind` (a bool is not accepted as an int), else 400."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InvalidRequest(f"'{param or name}' must be {label}", param=param or name)
    return value


def _check_tags(value: Any, param: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InvalidRequest(f"'{param}' must be a list of strings", param=param)
    for tag in value:
        if not 1 <= len(tag) <= MAX_TAG_LENGTH:
            raise InvalidRequest(f"each tag in '{param}' must be 1 to {MAX_TAG_LENGTH} characters", param=param)
    return value


def request_tags(body: Mapping[str, Any], metadata: Mapping[str, Any], headers: Mapping[str, str]) -> list[str]:
    header = headers.get(TAGS_HEADER)
    if not header and metadata.get("tags") is None and body.get("tags") is None:
        return []
    from_header = [t.strip() for t in header.split(",") if t.strip()] if header else []
    tags = [
        *_check_tags(metadata.get("tags"), "metadata.tags"),
        *_check_tags(body.get("tags"), "tags"),
        *_check_tags(from_header, TAGS_HEADER),
    ]
    unique = list(dict.fromkeys(tags))
    if len(unique) > MAX_TAGS:
        raise InvalidRequest(f"at most {MAX_TAGS} tags per request", param="tags")
    return unique


def parse_request(call_type: str, body: dict[str, Any], headers: Mapping[str, str]) -> LlmRequest:
    model = _typed(body, "model", str, "a string")
    if call_type != MODERATION and not model:
        raise InvalidRequest("'model' is required", param="model")
    required = REQUIRED_FIELD[call_type]
    if body.get(required) is None:
        raise InvalidRequest(f"'{required}' is required", param=required)
    if call_type == CHAT:
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("'messages' must be a non-empty list", param="messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise InvalidRequest(f"'messages[{index}]' must be an object with a 'role'", param=f"messages[{index}]")
            content = message.get("content")
            if not (content is None or isinstance(content, str)
                    or isinstance(content, list) and all(isinstance(part, dict) for part in content)):
                raise InvalidRequest(f"'messages[{index}].content' must be a string, a list of content parts or null",
                                     param=f"messages[{index}].content")
    elif not isinstance(body[required], (str, list)):
        raise InvalidRequest(f"'{required}' must be a string or a list", param=required)
    stream = bool(_typed(body, "stream", bool, "a boolean")) and call_type in (CHAT, COMPLETION)
    stream_options = _typed(body, "stream_options", dict, "an object") or {}
    metadata = _typed(body, "metadata", dict, "an object") or {}
    end_user = _typed(body, "user", str, "a string")
    _typed(body, "user_id", str, "a string")
    _typed(metadata, "user_id", str, "a string", "metadata.user_id")
    mock_response = _typed(body, "mock_response", str, "a string")
    max_output = None
    for name in ("max_completion_tokens", "max_tokens"):
        value = _typed(body, name, int, "an integer")
        if value is not None and value < 0:
            raise InvalidRequest(f"'{name}' must not be negative", param=name)
        max_output = max_output if max_output is not None else value
    return LlmRequest(
        call_type=call_type, body=body, model_group=model, stream=stream,
        client_wants_usage=bool(stream_options.get("include_usage")),
        tags=request_tags(body, metadata, headers), end_user=end_user, metadata=metadata,
        mock_response=mock_response, max_output_tokens=max_output,
    )


def upstream_body(request: LlmRequest, params: LitellmParams) -> dict[str, Any]:
    """The client's body with `model` rewritten and the gateway's own fields removed."""
    body = {k: v for k, v in request.body.items() if k not in GATEWAY_FIELDS}
    if params.forward_metadata and "metadata" in request.body:
        body["metadata"] = request.body["metadata"]
    body["model"] = params.upstream_model
    if request.stream and params.stream_usage and not request.client_wants_usage:
        body["stream_options"] = {**(request.body.get("stream_options") or {}), "include_usage": True}
    return body
