"""The gh-106905 guard is on exactly where the interpreter has the bug."""

from __future__ import annotations

import ast
import difflib
import gc
import random
import sys
import threading
from pathlib import Path

import pytest

from tests.support.cpython_ast import affected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ((3, 11, 2), True),  # Debian 12
        ((3, 11, 7), True),
        ((3, 11, 8), False),  # python/cpython#113476
        ((3, 12, 1), True),
        ((3, 12, 2), False),  # python/cpython#113472
        ((3, 12, 3), False),  # Ubuntu 24.04
        ((3, 13, 0), False),
    ],
)
def test_affected_versions(version: tuple[int, int, int], expected: bool) -> None:
    assert affected(version) is expected


def test_guard_installed_by_the_suite_only_where_needed() -> None:
    assert getattr(ast.parse, "__serialized__", False) is affected(sys.version_info[:3])


def _garbage_collection_runs_python(phase: str, info: dict[str, int]) -> None:
    # Python code inside a collection lets another thread take the GIL while one is halfway
    # through building an AST: the interleaving gh-106905 breaks on (the reproducer).
    a = [f"{random.randint(0, 10)}\n" for _ in range(100)]
    b = [f"{random.randint(0, 10)}\n" for _ in range(100)]
    list(difflib.unified_diff(a, b))


def test_parse_from_many_threads_at_once() -> None:
    """Unguarded, this raises SystemError on 3.11.2 and 3.11.7 in about one run out of two."""
    source = Path(difflib.__file__).read_text()
    errors: list[BaseException] = []

    def parse() -> None:
        try:
            for _ in range(4):
                ast.parse(source)
        except SystemError as exc:
            errors.append(exc)

    gc.callbacks.append(_garbage_collection_runs_python)
    try:
        threads = [threading.Thread(target=parse) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.callbacks.remove(_garbage_collection_runs_python)
    assert errors == []
