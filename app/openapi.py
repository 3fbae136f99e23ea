"""The served OpenAPI: every error documented as it is sent — an RFC 9457 problem — with the bearer scheme."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
# What any authenticated operation may answer besides its own statuses.
COMMON = {
    "400": "Unreadable request",
    "401": "Missing, unknown or revoked API key",
    "403": "The key's role may not do this",
    "404": "Not found",
    "422": "Invalid parameters or body",
    "503": "Database unavailable; retry",
}
PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/docs", "/redoc"}
# What app.guards refuses for every operation with a body.
BODY = {
    "408": "The body did not arrive within the body read timeout",
    "415": "Unsupported content type or Content-Encoding (bodies are sent uncompressed)",
}
# app.guards answers 400 for a control character in any path or query parameter: the schema says so.
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"


def _no_control_characters(parameter: dict[str, Any]) -> None:
    if parameter.get("in") not in ("query", "path"):
        return
    schema = parameter.get("schema", {})
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("type") == "string" and "pattern" not in option and "enum" not in option:
            option["pattern"] = NO_CONTROL


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def install(app: FastAPI) -> None:
    """Replace FastAPI's generated schema by one whose 4xx/5xx answers are problem documents."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, answer in list(responses.items()):
                    if code[:1] in "45":
                        responses[code] = _problem(answer.get("description") or COMMON.get(code, "Error"))
                if path == "/readyz":
                    responses.setdefault("503", _problem(COMMON["503"]))
                if path not in PUBLIC:
                    for code, description in COMMON.items():
                        responses.setdefault(code, _problem(description))
                if "requestBody" in operation:
                    for code, description in BODY.items():
                        responses.setdefault(code, _problem(description))
                for parameter in operation.get("parameters", []):
                    _no_control_characters(parameter)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
