"""The name rule's character classes are the Unicode properties they say they are: rebuilt here
from the `regex` module's Unicode tables, code point by code point."""

from __future__ import annotations

import re

import regex

from app.items.schemas import INVISIBLE, NAME_PATTERN, NOT_IN_NAMES


def _members(char_class: str) -> set[int]:
    pattern = re.compile(f"[{char_class}]")
    return {cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and pattern.match(chr(cp))}


def _with_property(expression: str) -> set[int]:
    pattern = regex.compile(expression)
    return {cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and pattern.match(chr(cp))}


def test_invisible_is_white_space_controls_format_and_default_ignorables() -> None:
    expected = _with_property(
        r"[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]"
    )
    assert _members(INVISIBLE) == expected


def test_not_in_names_is_controls_separators_and_bidi_controls() -> None:
    expected = _with_property(r"[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}]")
    assert _members(NOT_IN_NAMES) == expected


def test_the_schema_pattern_is_plain_ecma_262() -> None:
    # No \U escapes, no Python-only syntax: what a JavaScript or Java client can compile.
    assert "\\U" not in NAME_PATTERN
    assert re.fullmatch(r"[\^\[\]\-*$\\u0-9a-f]+", NAME_PATTERN)
