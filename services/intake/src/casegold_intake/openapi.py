"""The OpenAPI document: request bodies parsed by the routes themselves, categories, security."""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from pydantic import TypeAdapter

from casegold_intake.commands import Command
from casegold_intake.models import CaseRequest, MentionRequest
from casegold_platform.http import BEARER_SCHEME

# Write routes validate their JSON body straight from bytes (pydantic-core's parser, one pass),
# so FastAPI does not see a body parameter; their bodies are declared here instead.
BODIES: Final[dict[str, TypeAdapter[Any]]] = {
    "CaseRequest": TypeAdapter(CaseRequest),
    "MentionRequest": TypeAdapter(MentionRequest),
    "Command": TypeAdapter(Command),
}
_REF: Final = "#/components/schemas/{model}"
KEY_PARAMETER: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1–200 visible ASCII characters; required for the ivr role",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
}


def write_operation(name: str) -> dict[str, Any]:
    """`openapi_extra` of a write route: its JSON body (the named component) and its header."""
    schema = {"$ref": _REF.format(model=name)}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "parameters": [KEY_PARAMETER],
    }


def install(app: FastAPI, categories: tuple[str, ...]) -> None:
    """Complete FastAPI's document: body components, the category list, bearer security."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for name, adapter in BODIES.items():
                schema = adapter.json_schema(ref_template=_REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[name] = schema
            for name in ("CaseRequest", "MentionRequest"):
                schemas[name]["properties"]["category"]["enum"] = list(categories)
            components["securitySchemes"] = {"bearer": BEARER_SCHEME}
            for path, operations in document["paths"].items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
