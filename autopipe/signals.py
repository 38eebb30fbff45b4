"""Signals: SIGTERM (what a cancelled CI job sends first) becomes KeyboardInterrupt like Ctrl-C,
so one `except KeyboardInterrupt` handles both; and a block of cleanup (ask ECS to roll back,
release the lock, notify) can hold both off until it is done, so a second Ctrl-C or the runner's
follow-up signal does not cut it in half. GitHub Actions sends SIGINT, then SIGTERM 7.5 s later,
then kills the process 2.5 s after that
(https://docs.github.com/en/actions/managing-workflow-runs/canceling-a-workflow): cleanup must
be a few calls, never a wait."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_deferred = threading.local()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    if getattr(_deferred, "depth", 0):
        _deferred.pending = True
        return
    raise KeyboardInterrupt


def install() -> None:
    """SIGTERM and SIGINT → KeyboardInterrupt (main thread only, as Python requires)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM off inside the block; one that came in is noted, not raised (the
    interrupt is already being handled, or the block is the cleanup that must finish)."""
    _deferred.depth = getattr(_deferred, "depth", 0) + 1
    try:
        yield
    finally:
        _deferred.depth -= 1
