"""A guard for CPython gh-106905 on the interpreters that have it (3.11.0-3.11.7, 3.12.0-3.12.1;
Debian 12 ships 3.11.2).

There, `ast.parse` keeps its recursion depth in state shared by every thread: when two threads
build an AST at once (pytest rendering a failure or rewriting an import while a server thread
formats a traceback, whose 3.11 caret anchors parse the line), one of them raises
`SystemError: AST constructor recursion depth mismatch`, and pytest ends the whole session with
INTERNALERROR. Fixed by python/cpython#113476 (3.11.8) and #113472 (3.12.2). Serializing
`ast.parse` removes the race; on fixed interpreters nothing is changed.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from typing import Any


def affected(version: tuple[int, int, int] = sys.version_info[:3]) -> bool:
    major, minor, micro = version
    return ((major, minor) == (3, 11) and micro < 8) or ((major, minor) == (3, 12) and micro < 2)


def serialize_ast_parse() -> bool:
    """Make `ast.parse` take a process-wide lock where the bug exists; True when installed."""
    if not affected() or getattr(ast.parse, "__serialized__", False):
        return False
    lock = threading.RLock()
    parse = ast.parse

    @functools.wraps(parse)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    serialized.__serialized__ = True  # type: ignore[attr-defined]
    ast.parse = serialized
    return True
