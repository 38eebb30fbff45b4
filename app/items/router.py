"""`/items` routes. Rows are serialized straight to JSON bytes: the hot path skips re-validating
what the database just returned, while `response_model` still documents the shape.

GET /items/{item_id}, the hot path, is served by `ItemReadRoute`: the same route (so the same
OpenAPI operation), with FastAPI's per-request dependency solving and parameter validation
skipped when the request needs neither (README.md, "Performance": ~28 % of its CPU)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BeforeValidator
from starlette.types import Receive, Scope, Send

from app.deps import ItemsDep, WriteAccess
from app.errors import PROBLEM_JSON
from app.items import cursor
from app.items.etag import (
    IF_MATCH_SYNTAX,
    check_if_match,
    etag,
    matches_if_none_match,
    parse_if_match,
)
from app.items.schemas import Item, ItemCreate, ItemPage, ItemPatch
from app.items.store import Item as StoredItem
from app.items.store import ItemStore, not_found

MAX_LIMIT = 100
# `offset` is legacy: its cost grows with the offset, so it stops where a cursor must take over.
MAX_OFFSET = 1000
MAX_ID = cursor.MAX_ID  # PostgreSQL `integer`; larger ids cannot exist, so they are a 422.

router = APIRouter(prefix="/items", tags=["items"])


def _is_canonical(text: str) -> bool:
    return text.isascii() and text.isdigit() and text[0] != "0"


def _canonical_id(value: object) -> object:
    """One spelling per item: `7`, never `07`, `+7` or `7.0` (a cache or a log keyed by URL
    would otherwise see several resources)."""
    if isinstance(value, str) and not _is_canonical(value):
        raise ValueError("an item id is a positive decimal integer without leading zeros")
    return value


ItemId = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="The item's id, in decimal without leading zeros."),
    BeforeValidator(_canonical_id),
]
Cursor = Annotated[
    str | None,
    Query(
        description="The `next` of the previous page (opaque: pass it back as it came).",
        pattern=cursor.CURSOR_PATTERN,
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        description='ETag(s) from a read, e.g. `"3"`, or `*`; the write fails with 412 when stale.',
        json_schema_extra={"pattern": IF_MATCH_SYNTAX},
    ),
    AfterValidator(check_if_match),
]

_problem: dict[str, Any] = {"content": {PROBLEM_JSON: {}}}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such item", **_problem},
    503: {"description": "Database unavailable", **_problem},
}

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_READ_ERRORS,
    401: {"description": "Missing or wrong API key", **_problem},
    412: {"description": "If-Match does not match the current ETag", **_problem},
    413: {"description": "Body too large", **_problem},
    415: {"description": "A body that is not JSON, or JSON that is not UTF-8", **_problem},
}


def _item_response(item: StoredItem, status_code: int = 200, **headers: str) -> Response:
    return Response(
        orjson.dumps(item),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": etag(item["version"]), **headers},
    )


def _query_error(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


@router.get("", response_model=ItemPage, responses={503: _READ_ERRORS[503]})
async def list_items(
    repository: ItemsDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    after: Cursor = None,
    offset: Annotated[
        int,
        Query(ge=0, le=MAX_OFFSET, description="Legacy: items to skip. Prefer `after`."),
    ] = 0,
) -> Response:
    """Items in id order, `limit` at a time. Follow `next` (also in the `Link` header) for the
    following page; each page costs the same however large the table and however deep the page."""
    if after is not None and offset:
        raise _query_error("offset", "use either after or offset, not both")
    try:
        after_id = cursor.decode(after) if after is not None else 0
    except ValueError as exc:
        raise _query_error("after", str(exc)) from None
    rows = await repository.page(after_id, limit + 1, offset)  # one more: is there a next page?
    headers = {}
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor.encode(rows[-1]["id"])
        # A relative reference (RFC 8288 §3.1): nothing from the request's Host is reflected.
        headers["Link"] = f'<{request.url.path}?limit={limit}&after={next_cursor}>; rel="next"'
    body = {"items": rows, "limit": limit, "next": next_cursor}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


async def get_item(
    item_id: ItemId,
    repository: ItemsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    return await _read(repository, item_id, if_none_match)


async def _read(repository: ItemStore, item_id: int, if_none_match: str | None) -> Response:
    item = await repository.get(item_id)
    if item is None:
        raise not_found(item_id)
    if matches_if_none_match(if_none_match, item["version"]):
        return Response(status_code=304, headers={"ETag": etag(item["version"])})
    return _item_response(item)


class ItemReadRoute(APIRoute):
    """`get_item` as FastAPI declares it (parameters, response model, OpenAPI operation), served
    by an ASGI app that reads the id and If-None-Match itself when the id is canonical and in
    range: FastAPI's validation could then only have accepted it, and the `ItemsDep` and
    `Header()` dependencies amount to `app.state.items` and the first If-None-Match (what
    Starlette's `Headers.get` returns). Any other id goes to FastAPI's own handler, so every 422
    is the framework's. A 404 or 503 raised here meets the app's exception handlers in
    ExceptionMiddleware, the ones FastAPI's handler would have used.
    tests/integration/test_item_read_route.py holds the two to the same answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        framework = self.app
        longest = len(str(MAX_ID))

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            raw = scope["path_params"]["item_id"]
            if not (_is_canonical(raw) and len(raw) <= longest and int(raw) <= MAX_ID):
                await framework(scope, receive, send)
                return
            if_none_match = None
            for name, value in scope["headers"]:
                if name == b"if-none-match":
                    if_none_match = value.decode("latin-1")
                    break
            response = await _read(scope["app"].state.items, int(raw), if_none_match)
            await response(scope, receive, send)

        self.app = app


router.add_api_route(
    "/{item_id}",
    get_item,
    methods=["GET"],
    response_model=Item,
    responses={**_READ_ERRORS, 304: {}},
    route_class_override=ItemReadRoute,
)


@router.post(
    "",
    response_model=Item,
    status_code=status.HTTP_201_CREATED,
    dependencies=[WriteAccess],
    responses=_WRITE_ERRORS,
)
async def create_item(body: ItemCreate, repository: ItemsDep, request: Request) -> Response:
    item = await repository.create(body.model_dump())
    location = str(request.url_for("get_item", item_id=item["id"]).path)
    return _item_response(item, 201, Location=location)


@router.put("/{item_id}", response_model=Item, dependencies=[WriteAccess], responses=_WRITE_ERRORS)
async def replace_item(
    item_id: ItemId, body: ItemCreate, repository: ItemsDep, if_match: IfMatch = None
) -> Response:
    """Full replacement: an omitted `description` goes back to its default."""
    row = await repository.update(item_id, body.model_dump(), parse_if_match(if_match))
    return _item_response(row)


@router.patch(
    "/{item_id}", response_model=Item, dependencies=[WriteAccess], responses=_WRITE_ERRORS
)
async def update_item(
    item_id: ItemId, body: ItemPatch, repository: ItemsDep, if_match: IfMatch = None
) -> Response:
    """Partial update: only the fields sent change (the version bumps even if none are sent)."""
    row = await repository.update(
        item_id, body.model_dump(exclude_unset=True), parse_if_match(if_match)
    )
    return _item_response(row)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteAccess],
    responses=_WRITE_ERRORS,
)
async def delete_item(item_id: ItemId, repository: ItemsDep, if_match: IfMatch = None) -> Response:
    await repository.delete(item_id, parse_if_match(if_match))
    return Response(status_code=204)
