"""The HTTP servers measured for the service, each as the command line that runs the real app
(`app.main:create_app`) with the limits it can set. `python -m app` is what ships. Like it, the
uvicorn candidates leave X-Forwarded-* to the app (`--no-proxy-headers`): uvicorn's CLI would
otherwise wrap every request in its own proxy-headers middleware."""

from __future__ import annotations

import sys


def command(name: str, port: int) -> list[str]:
    py = sys.executable
    where = ["--host", "127.0.0.1", "--port", str(port)]
    factory = "app.main:create_app"
    commands = {
        "shipped": [py, "-m", "app"],
        "uvicorn-httptools": [py, "-m", "uvicorn", "--factory", factory, *where, "--http",
                              "httptools", "--loop", "uvloop", "--timeout-keep-alive", "75",
                              "--no-access-log", "--no-server-header", "--no-proxy-headers",
                              "--log-level", "warning"],
        "uvicorn-h11": [py, "-m", "uvicorn", "--factory", factory, *where, "--http", "h11",
                        "--h11-max-incomplete-event-size", "16384", "--loop", "uvloop",
                        "--timeout-keep-alive", "75", "--no-access-log", "--no-server-header",
                        "--no-proxy-headers", "--log-level", "warning"],
        "granian": [py, "-m", "granian", "--interface", "asgi", "--factory", factory, *where,
                    "--loop", "uvloop", "--http", "1", "--no-ws", "--http1-header-read-timeout",
                    "60000", "--backpressure", "1000", "--log-level", "warning"],
        "hypercorn": [py, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "--keep-alive", "75",
                      "--read-timeout", "65", "--worker-class", "uvloop", "--log-level", "warning",
                      "app.main:create_app()"],
    }  # fmt: skip
    return commands[name]


NAMES = ("shipped", "uvicorn-httptools", "uvicorn-h11", "granian", "hypercorn")
