"""What people and machines see. Text mode: Rich lines on stdout. JSON mode: progress on stderr,
one JSON document on stdout (keys sorted, so the output is stable)."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

STATUS_STYLE = {"OK": "green", "NG": "bold red", "SKIP": "yellow"}
SCHEMA_VERSION = 1


class Reporter:
    def __init__(self, *, json_mode: bool = False, stream: TextIO | None = None) -> None:
        self.json_mode = json_mode
        out = stream or (sys.stderr if json_mode else sys.stdout)
        self.console = Console(file=out, highlight=False, soft_wrap=True, emoji=False)
        self.started = time.monotonic()
        self.timeline: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, message: str, *, style: str | None = None) -> None:
        """A line on the timeline: `+  1.23s  message`."""
        t = self.elapsed()
        with self._lock:
            self.timeline.append({"t": round(t, 2), "message": message})
            line = Text(f"+{t:7.2f}s  ", style="dim")
            line.append(message, style=style or "")
            self.console.print(line)

    def info(self, message: str, *, style: str | None = None) -> None:
        with self._lock:
            self.console.print(Text(message, style=style or ""))

    def warn(self, message: str) -> None:
        self.step(f"warning: {message}", style="yellow")

    def check(self, status: str, name: str, detail: str) -> None:
        line = Text(f"{status:<5}", style=STATUS_STYLE.get(status, ""))
        line.append(f"{name:<28} ", style="bold")
        line.append(detail)
        with self._lock:
            self.console.print(line)

    def diff(self, text: str) -> None:
        for raw in text.splitlines():
            style = None
            if raw.startswith("+") and not raw.startswith("+++"):
                style = "green"
            elif raw.startswith("-") and not raw.startswith("---"):
                style = "red"
            elif raw.startswith("@@"):
                style = "cyan"
            self.console.print(Text(raw, style=style or ""))


def emit_json(document: dict[str, Any], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps({"schema": SCHEMA_VERSION, **document}, sort_keys=True, indent=2))
    out.write("\n")
    out.flush()
