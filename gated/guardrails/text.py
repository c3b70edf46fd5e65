"""Text extraction from OpenAI-shaped payloads: the one place that knows where text lives
(every message role, list-content text parts, tool-call arguments, completions `prompt`,
embeddings/moderations `input`; token arrays are skipped). Guardrails and token estimates use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Segment:
    role: str
    text: str


def _content_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
            and isinstance(part.get("text"), str)
        ]
    return []


def _arguments(function: Any) -> list[str]:
    """A tool call's arguments: a JSON string as OpenAI sends them, or (as some OpenAI-compatible
    servers accept) a JSON object, checked as its JSON text."""
    arguments = function.get("arguments") if isinstance(function, dict) else None
    if isinstance(arguments, str):
        return [arguments]
    if isinstance(arguments, dict | list):
        return [orjson.dumps(arguments).decode()]
    return []


def _tool_texts(message: dict[str, Any]) -> list[str]:
    texts = []
    for call in message.get("tool_calls") or ():
        texts.extend(_arguments(call.get("function") if isinstance(call, dict) else None))
    texts.extend(_arguments(message.get("function_call")))
    return texts


def message_texts(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return []
    if not message.get("tool_calls") and message.get("function_call") is None:
        return _content_texts(message.get("content"))
    return _content_texts(message.get("content")) + _tool_texts(message)


def _string_items(value: Any) -> list[str]:
    """A `prompt` or `input`: a string, or a list of strings and (moderations) text parts."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in ([item] if isinstance(item, str) else _content_texts([item]))]
    return []


def request_segments(call_type: str, body: dict[str, Any]) -> list[Segment]:
    if call_type == "chat":
        segments = []
        for message in body.get("messages") or ():
            role = str(message.get("role", "user")) if isinstance(message, dict) else "user"
            segments.extend(Segment(role, text) for text in message_texts(message))
        return segments
    field = "prompt" if call_type == "completion" else "input"
    return [Segment("user", text) for text in _string_items(body.get(field))]


def response_texts(call_type: str, body: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for choice in body.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        if call_type == "chat":
            texts.extend(message_texts(choice.get("message")))
        elif isinstance(choice.get("text"), str):
            texts.append(choice["text"])
    return texts


def delta_parts(chunk: dict[str, Any]) -> list[tuple[tuple[int, int], str]]:
    """The text of one streamed chunk by channel: (choice index, -1) for the content or completions
    text, (choice index, tool-call index) for a tool call's arguments. Each channel is one text
    continued from chunk to chunk; different channels never run into each other."""
    parts: list[tuple[tuple[int, int], str]] = []
    for position, choice in enumerate(chunk.get("choices") or ()):
        if not isinstance(choice, dict):
            continue
        index = _index(choice, position)
        delta = choice.get("delta")
        if isinstance(delta, dict):
            parts.extend(((index, -1), text) for text in _content_texts(delta.get("content")))
            for call_position, call in enumerate(delta.get("tool_calls") or ()):
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    parts.append(((index, _index(call, call_position)), function["arguments"]))
            function_call = delta.get("function_call")
            if isinstance(function_call, dict) and isinstance(function_call.get("arguments"), str):
                parts.append(((index, -2), function_call["arguments"]))
        elif isinstance(choice.get("text"), str):
            parts.append(((index, -1), choice["text"]))
    return parts


def _index(item: dict[str, Any], position: int) -> int:
    index = item.get("index")
    return index if isinstance(index, int) else position


def finished_choices(chunk: dict[str, Any]) -> list[int]:
    """Indexes of the choices whose last chunk this is (it carries a finish_reason)."""
    return [_index(choice, position) for position, choice in enumerate(chunk.get("choices") or ())
            if isinstance(choice, dict) and choice.get("finish_reason")]


def delta_texts(chunk: dict[str, Any]) -> list[str]:
    """Text carried by one streamed chunk (chat deltas or completions text)."""
    return [text for _, text in delta_parts(chunk)]
