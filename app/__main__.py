"""`python -m app`: serve with uvicorn, configured from the settings.

uvicorn handles SIGTERM (docker stop, ECS task stop): it stops accepting, lets in-flight
requests finish for up to SHUTDOWN_TIMEOUT seconds, then runs the lifespan shutdown. Its
httptools protocol gets the HTTP limits it lacks from app/server.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from app.config import get_settings
from app.server import BoundedHttpToolsProtocol


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        print(f"error: invalid settings: {problems}", file=sys.stderr)
        return 2
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=None if settings.reload else settings.workers,
        reload=settings.reload,
        reload_dirs=[str(Path(__file__).parent)] if settings.reload else None,
        log_config=None,  # our structlog set-up owns logging
        access_log=False,  # we write one access line per request ourselves
        # X-Forwarded-* are read by the app, from TRUSTED_PROXIES only (app/main.py).
        proxy_headers=False,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        timeout_keep_alive=settings.keep_alive_timeout,
        # httptools with head-size, head-time and connection limits (MAX_CONNECTIONS is
        # counted there, so that the answer past it is problem+json, not uvicorn's text/plain).
        http=BoundedHttpToolsProtocol,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
