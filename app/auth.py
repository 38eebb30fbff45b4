"""API-key check for writes: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.errors import Unauthorized

# auto_error=False: a missing key must get our problem+json 401, not the framework's error.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key as a bearer token.")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


def key_is_valid(presented: str, keys: tuple[bytes, ...]) -> bool:
    candidate = presented.encode()
    # Compare against every key so timing says nothing about which one (if any) matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key)
    return matched


async def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> None:
    presented = bearer.credentials if bearer is not None else api_key
    if not presented:
        raise Unauthorized("This operation needs an API key (Authorization: Bearer <key>).")
    if not key_is_valid(presented, request.app.state.api_keys):
        raise Unauthorized("The API key is not valid.")
