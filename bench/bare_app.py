"""The baseline of `bench.read_path`: a bare FastAPI app with no middleware, no database and no
logging, whose GET /items/{item_id} answers the same JSON document the real service returns for
an item seeded by the benchmark.

It is the framework's floor on this machine: whatever the real service runs slower than this is
ours (middleware, access log, metrics, SQLAlchemy, asyncpg, PostgreSQL). The endpoint is written
the idiomatic FastAPI way (a pydantic `response_model`), like the "bare FastAPI" row of the
performance facts in DESIGN.md, so the ratio target there applies to it.

Served by uvicorn with the real service's server options (`app/__main__.py`): uvloop and
httptools when installed (uvicorn[standard] installs them), access log off, no Server header,
proxy headers on. Only the application differs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

# What `bench.read_path` seeds, so that both servers answer the same document for an id.
SEEDED_AT = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
SEEDED_DESCRIPTION = "A sample item"


def seeded_name(item_id: int) -> str:
    return f"Item {item_id}"


class Item(BaseModel):
    """The fields of `app.items.schemas.Item`, copied rather than imported: a change to the
    service's schema must not move the baseline (the runner checks that the documents match)."""

    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    version: int


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/items/{item_id}", response_model=Item)
    async def get_item(item_id: int) -> Item:
        return Item(
            id=item_id,
            name=seeded_name(item_id),
            description=SEEDED_DESCRIPTION,
            created_at=SEEDED_AT,
            updated_at=SEEDED_AT,
            version=1,
        )

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    uvicorn.run(
        "bench.bare_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="*",
        timeout_keep_alive=75,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
