"""Small hand-picked schemas of the OpenAI-compatible routes, for the OpenAPI document only: the
hot path reads the few fields it needs and forwards the rest (extra fields are allowed)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from gated.routes import Schema


class _Open(Schema):
    model_config = ConfigDict(extra="allow")


class GatewayFields(_Open):
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    user: str | None = None
    user_id: str | None = None


class ChatCompletionRequest(GatewayFields):
    model: str
    messages: list[dict[str, Any]]
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None


class CompletionRequest(GatewayFields):
    model: str
    prompt: str | list[str] | list[int] | list[list[int]]
    stream: bool | None = None
    max_tokens: int | None = None


class EmbeddingRequest(GatewayFields):
    model: str
    input: str | list[str] | list[int] | list[list[int]]


class ModerationRequest(GatewayFields):
    model: str | None = None
    input: str | list[str]


class Usage(_Open):
    prompt_tokens: int
    completion_tokens: int | None = None
    total_tokens: int


class ChatCompletionResponse(_Open):
    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: Usage | None = None


class CompletionResponse(ChatCompletionResponse):
    pass


class EmbeddingResponse(_Open):
    object: str
    data: list[dict[str, Any]]
    model: str
    usage: Usage | None = None


class ModerationResponse(_Open):
    id: str
    model: str
    results: list[dict[str, Any]]


class ModelCard(Schema):
    id: str
    object: str = "model"
    created: int
    owned_by: str


class ModelList(Schema):
    object: str = "list"
    data: list[ModelCard]
