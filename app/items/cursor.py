"""Opaque page cursors for keyset pagination.

A cursor names the last item of the page it came from; the next page is the items after it in
id order, found through the primary key whatever the table's size and however deep the page.
It is opaque on purpose (clients pass it back, never build it), so the encoding can change:
the `v1` prefix lets a later version tell its own cursors from these.
"""

from __future__ import annotations

import base64
import binascii
import re

_PAYLOAD = re.compile(r"v1:([1-9][0-9]{0,9})")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")
CURSOR_PATTERN = _TOKEN.pattern
MAX_ID = 2**31 - 1


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).rstrip(b"=").decode()


def decode(token: str) -> int:
    """The id a cursor names; ValueError for anything this module did not write."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("not a cursor from this API: pass back the `next` of a page")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor from this API: pass back the `next` of a page") from None
    match = _PAYLOAD.fullmatch(raw)
    if match is None or int(match[1]) > MAX_ID or encode(int(match[1])) != token:
        raise ValueError("not a cursor from this API: pass back the `next` of a page")
    return int(match[1])
