"""Strong ETags from the item version, and the `If-Match` / `If-None-Match` parsing."""

from __future__ import annotations

import re

# Versions are stored as a 32-bit integer; an entity tag is exactly the ASCII digits of one.
_STRONG_TAG = re.compile(r'"(0|[1-9][0-9]{0,9})"')
_MAX_VERSION = 2**31 - 1
# RFC 9110 §13.1.1: `*` or a comma-separated list of entity tags (weak ones allowed, never
# matching). The list may be empty and empty elements are ignored (§5.6.1): such a header names
# no version, so the write fails with 412. Anything else is malformed: 422.
_ENTITY_TAG = r'(W/)?"[\x21\x23-\x7e\x80-\xff]*"'  # etagc, obs-text included
# Written so every character has one way to match: no backtracking blow-up on hostile input.
IF_MATCH_SYNTAX = rf"^[ \t]*(\*[ \t]*|({_ENTITY_TAG}[ \t]*)?(,[ \t]*({_ENTITY_TAG}[ \t]*)?)*)$"


_IF_MATCH = re.compile(IF_MATCH_SYNTAX)


def check_if_match(header: str | None) -> str | None:
    if header is not None and not _IF_MATCH.match(header):
        raise ValueError('If-Match must be * or a comma-separated list of ETags such as "3"')
    return header


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> frozenset[int] | None:
    """None means "no condition" (header absent or `*`, which any existing item meets).

    Otherwise the versions named by strong entity tags. Weak tags (`W/"3"`) never match under
    the strong comparison If-Match requires (RFC 9110 §13.1.1), so they add nothing; an empty
    set makes the write fail with 412 when the item exists.
    """
    if header is None or header.strip() == "*":
        return None
    versions: set[int] = set()
    for raw in header.split(","):
        match = _STRONG_TAG.fullmatch(raw.strip())
        if match and int(match.group(1)) <= _MAX_VERSION:
            versions.add(int(match.group(1)))
    return frozenset(versions)


def matches_if_none_match(header: str | None, version: int) -> bool:
    """Weak comparison, as RFC 9110 §13.1.2 asks for If-None-Match."""
    if header is None:
        return False
    current = etag(version)
    for raw in header.split(","):
        tag = raw.strip()
        if tag == "*" or tag.removeprefix("W/") == current:
            return True
    return False
