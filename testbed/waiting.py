"""Waiting on a condition instead of sleeping for a guess: poll with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Poll `condition` until it returns something truthy; TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


async def async_wait_for(condition: Callable[[], T], what: str, limit: float = 10.0) -> T:
    """`wait_for` for a coroutine: the event loop keeps running while we wait."""
    deadline = time.monotonic() + limit
    while True:
        result = await asyncio.to_thread(condition)
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {limit} s")
        await asyncio.sleep(0.02)
