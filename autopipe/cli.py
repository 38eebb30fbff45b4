"""Placeholder entry point; the commands live in autopipe/commands/."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("autopipe: not built yet")
