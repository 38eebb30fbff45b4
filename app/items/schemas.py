"""Request and response bodies. Unknown fields are rejected, types are not coerced."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from app.items.models import DEFAULT_DESCRIPTION

MAX_NAME = 100
MAX_DESCRIPTION = 1000


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here, the same on every backend, instead of
    # failing in the driver. (Lone surrogates, legal in JSON escapes, pydantic refuses itself.)
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain a non-whitespace character")
    return value


# The patterns document the rules for clients and fuzzers; the validators enforce them, with
# clearer messages than a pattern mismatch would give.
_NO_NUL = "^[^\\u0000]*$"
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NAME,
        examples=["Widget"],
        json_schema_extra={"pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"},
    ),
    AfterValidator(_storable),
    AfterValidator(_not_blank),
]
Description = Annotated[
    str,
    Field(
        max_length=MAX_DESCRIPTION,
        examples=["A sample item"],
        json_schema_extra={"pattern": _NO_NUL},
    ),
    AfterValidator(_storable),
]


def drop_null(schema: dict[str, Any]) -> None:
    """`X | None` renders as `anyOf [X, null]`; where null is not accepted (a PATCH field, a
    header), only X belongs in the schema."""
    branches = schema.get("anyOf")
    if branches is None or len(branches) != 2 or {"type": "null"} not in branches:
        return
    del schema["anyOf"]
    schema.update(next(b for b in branches if b != {"type": "null"}))


def _never_null(schema: JsonDict) -> None:
    properties = schema["properties"]
    for prop in properties.values() if isinstance(properties, dict) else ():
        if isinstance(prop, dict):
            drop_null(prop)
            if prop.get("default", "") is None:
                del prop["default"]  # "omitted", not null


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ItemCreate(_Input):
    """A new item; also the full replacement body for PUT."""

    name: Name
    description: Description = DEFAULT_DESCRIPTION


class ItemPatch(_Input):
    """A partial update: only the fields present change. `null` is not a value here."""

    # Optional but never null: the schema must not offer `null` (the validator refuses it).
    model_config = ConfigDict(json_schema_extra=_never_null)

    name: Name | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ItemPatch:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; omit a field to keep it")
        return self


class Item(BaseModel):
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Starts at 1 and bumps on every change; the ETag.")


class ItemPage(BaseModel):
    items: list[Item]
    limit: int
    next: str | None = Field(
        description="Cursor of the following page (`?after=`), null on the last page."
    )
