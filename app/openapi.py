"""The OpenAPI document, true to what the service sends: every error response is RFC 9457
`application/problem+json` (FastAPI would document its own `application/json` validation error
shape, which this service never sends), and a 503 announces its `Retry-After` header.

The fuzz test (tests/integration/test_fuzz.py) holds every response to this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from app.errors import PROBLEM_JSON
from app.items.schemas import drop_null


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field(default="about:blank", description="Always `about:blank` here.")
    title: str = Field(description="The HTTP status phrase, or a short summary.")
    status: int = Field(description="The HTTP status code, repeated.")
    detail: str | None = Field(default=None, description="What went wrong, for a human.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="Also in the X-Request-ID header.")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where: `body`, `query`, `path` or `header`, …")
    msg: str
    type: str


class ValidationProblem(Problem):
    """A 422: the request does not match the schema."""

    errors: list[ValidationIssue]


_REF = "#/components/schemas/{model}"
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _problem_content(status: int) -> dict[str, Any]:
    model = ValidationProblem if status == 422 else Problem
    return {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model=model.__name__)}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for operations in schema["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("400", {"description": "The body does not parse"})
            for parameter in operation.get("parameters", ()):
                drop_null(parameter["schema"])  # present or absent, never null
            for code, response in operation["responses"].items():
                status = int(code)
                if status < 400:
                    continue
                response["content"] = _problem_content(status)
                if status == 422:
                    response["description"] = "The request does not match the schema"
                if status == 503:
                    response["headers"] = _RETRY_AFTER
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for model in (Problem, ValidationIssue, ValidationProblem):
        model_schema = model.model_json_schema(ref_template=_REF)
        model_schema.pop("$defs", None)  # each nested model is a component of its own
        components[model.__name__] = model_schema
    app.openapi_schema = schema
    return schema


def install_openapi(app: FastAPI) -> None:
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
