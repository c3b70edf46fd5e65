"""The OpenAPI 3.1 document, generated from the route table and its pydantic models, so a route
cannot exist undocumented. DOCS_FILTERED keeps only the OpenAI-compatible routes."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gated import __version__
from gated.routes import ADMIN_ONLY, ANY_KEY, PUBLIC, SCOPED, Route, Schema

REF = "#/components/schemas/{model}"
ROLE_TEXT = {
    PUBLIC: "No authentication.",
    ANY_KEY: "Any key (the master key or a virtual key); open when gated has no master key.",
    ADMIN_ONLY: "Master key only.",
    SCOPED: "Master key, or a virtual key within the role matrix (team admins: their own team; "
            "any key: itself).",
}
ERRORS = {
    "400": "Invalid request: malformed JSON, missing or wrong-typed field (`param` names it)",
    "401": "Missing or invalid key",
    "403": "Not allowed for this key",
    "404": "Unknown id, model or route",
    "409": "Id or alias already taken",
    "413": "Body too large",
    "429": "Budget or rate limit",
    "500": "Unexpected failure in gated",
    "502": "Every upstream deployment failed",
    "503": "A guardrail service is unavailable",
    "504": "Upstream timeout",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["message", "type", "param", "code"],
        "properties": {
            "message": {"type": "string"}, "type": {"type": "string"},
            "param": {"type": ["string", "null"]}, "code": {"type": "string"},
            "guardrail": {"type": "string"}, "categories": {"type": "array", "items": {"type": "string"}},
        },
    }},
}
PATH_PARAM = re.compile(r"{(\w+)}")


def _errors_for(route: Route) -> dict[str, Any]:
    codes = ["400", "404", "500"] if route.method == "POST" or route.params else ["404", "500"]
    if route.role != PUBLIC:
        codes += ["401", "403"]
    if route.method == "POST":
        codes += ["413"]
    if route.openai and route.method == "POST":
        codes += ["429", "502", "503", "504"]
    if route.path.endswith(("/new", "/generate", "/update")):
        codes += ["409"]
    return {code: {"description": ERRORS[code],
                   "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorEnvelope")}}}}
            for code in sorted(set(codes))}


def _operation(route: Route, schemas: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    path_names = set(PATH_PARAM.findall(route.path))
    operation: dict[str, Any] = {
        "summary": route.summary,
        "description": ROLE_TEXT[route.role],
        "operationId": route.method.lower() + "_" + re.sub(r"[^A-Za-z0-9]+", "_", route.path).strip("_"),
        "tags": [route.group],
        "responses": {"200": {"description": "OK"}, **_errors_for(route)},
    }
    if route.role != PUBLIC:
        operation["security"] = [{"bearer": []}]
    if route.params:
        operation["parameters"] = [
            {"name": p.name, "in": "path" if p.name in path_names else "query",
             "required": p.required or p.name in path_names, "description": p.description,
             "schema": {"type": p.type, **({"enum": list(p.choices)} if p.choices else {})}}
            for p in route.params
        ]
    if route.request_model is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": schemas[(route.request_model, "validation")]}}}
    if route.response_model is not None:
        content_type = "text/html" if route.response_model is HtmlPage else "application/json"
        operation["responses"]["200"]["content"] = {content_type: {
            "schema": schemas[(route.response_model, "serialization")]}}
    return operation


class HtmlPage(Schema):
    """Marker: the route answers an HTML page."""


def build_document(routes: list[Route], title: str, description: str, openai_only: bool) -> dict[str, Any]:
    chosen = [r for r in routes if r.openai] if openai_only else routes
    models = sorted({(m, mode) for r in chosen for m, mode in ((r.request_model, "validation"),
                                                               (r.response_model, "serialization"))
                     if m is not None and m is not HtmlPage}, key=lambda pair: (pair[0].__name__, pair[1]))
    schemas, definitions = models_json_schema(models, ref_template=REF) if models else ({}, {})
    schemas = dict(schemas)
    for route in chosen:
        if route.response_model is HtmlPage:
            schemas[(HtmlPage, "serialization")] = {"type": "string"}
    paths: dict[str, dict[str, Any]] = {}
    for route in chosen:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    components = dict(definitions.get("$defs", {}))
    components["ErrorEnvelope"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "description": description, "version": __version__},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "a gated key: `Authorization: Bearer sk-…`"}}},
    }
