"""Request and response bodies. Unknown fields are rejected, types are not coerced."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.items.models import DEFAULT_DESCRIPTION

MAX_NAME = 100
MAX_DESCRIPTION = 1000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain a non-whitespace character")
    return value


Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME, examples=["Widget"]),
    AfterValidator(_not_blank),
]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION, examples=["A sample item"])]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ItemCreate(_Input):
    """A new item; also the full replacement body for PUT."""

    name: Name
    description: Description = DEFAULT_DESCRIPTION


class ItemPatch(_Input):
    """A partial update: only the fields present change. `null` is not a value here."""

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
    total: int = Field(description="All items, regardless of limit and offset.")
    limit: int
    offset: int
