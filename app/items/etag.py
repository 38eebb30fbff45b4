"""Strong ETags from the item version, and the `If-Match` / `If-None-Match` parsing."""

from __future__ import annotations

import re

# Versions are stored as a 32-bit integer; an entity tag is exactly the ASCII digits of one.
_STRONG_TAG = re.compile(r'"(0|[1-9][0-9]{0,9})"')
_MAX_VERSION = 2**31 - 1


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
