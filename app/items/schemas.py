"""Request and response bodies. Unknown fields are rejected, types are not coerced."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from app.items.models import DEFAULT_DESCRIPTION

MAX_NAME = 100
MAX_DESCRIPTION = 1000


# Code points that show nothing: White_Space, Cc, Cf, Default_Ignorable_Code_Point (zero-width
# space, Hangul fillers, variation selectors, the BOM...) and the blank Braille pattern U+2800,
# a "symbol" that renders as nothing. Written out as ranges (Unicode 15; tests/unit/
# test_names.py rebuilds them from the Unicode properties), so that the schema's pattern and the
# validator are one rule. The BMP part is the pattern clients see (ECMA-262 has no \U escape).
_INVISIBLE_BMP = (
    r"\u0000-\u0020\u007f-\u00a0\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    r"\u08e2\u115f-\u1160\u1680\u17b4-\u17b5\u180b-\u180f\u2000-\u200f\u2028-\u202f"
    r"\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
)
INVISIBLE = _INVISIBLE_BMP + (
    r"\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0000-\U000e0fff"
)
# Never in a name, which is one line of plain text: Cc (NUL and the other controls), the line
# and paragraph separators, and the Bidi_Control characters (which make a name display as
# another one).
NOT_IN_NAMES = r"\u0000-\u001f\u007f-\u009f\u061c\u200e-\u200f\u2028-\u202e\u2066-\u2069"
NAME_PATTERN = f"^[^{NOT_IN_NAMES}]*[^{NOT_IN_NAMES}{_INVISIBLE_BMP}][^{NOT_IN_NAMES}]*$"
_FORBIDDEN = re.compile(f"[{NOT_IN_NAMES}]")
_VISIBLE = re.compile(f"[^{INVISIBLE}]")


def _nfc(limit: int) -> Callable[[str], str]:
    def normalize(value: str) -> str:
        """One stored form per text: "é" typed as one code point or as e + accent is one."""
        value = unicodedata.normalize("NFC", value)
        if len(value) > limit:  # NFC rarely lengthens a text; the column holds `limit`
            raise ValueError(f"must be at most {limit} characters in NFC form")
        return value

    return normalize


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here, the same on every backend, instead of
    # failing in the driver. (Lone surrogates, legal in JSON escapes, pydantic refuses itself.)
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


def _plain_line(value: str) -> str:
    found = _FORBIDDEN.search(value)
    if found:
        raise ValueError(f"must not contain control characters (found U+{ord(found[0]):04X})")
    return value


def _visible(value: str) -> str:
    if not _VISIBLE.search(value):
        raise ValueError("must contain a visible character")
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
        json_schema_extra={"pattern": NAME_PATTERN},
    ),
    AfterValidator(_nfc(MAX_NAME)),
    AfterValidator(_storable),
    AfterValidator(_plain_line),
    AfterValidator(_visible),
]
Description = Annotated[
    str,
    Field(
        max_length=MAX_DESCRIPTION,
        examples=["A sample item"],
        json_schema_extra={"pattern": _NO_NUL},
    ),
    AfterValidator(_nfc(MAX_DESCRIPTION)),
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
