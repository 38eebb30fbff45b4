"""What the routes need from storage, and the errors both stores raise the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn, Protocol

from app.errors import NotFound, PreconditionFailed

Item = dict[str, Any]


class ItemStore(Protocol):
    async def get(self, item_id: int) -> Item | None: ...

    async def page(self, after: int, limit: int, offset: int) -> Sequence[Item]:
        """Up to `limit` items with an id above `after`, in id order, `offset` of them skipped."""
        ...

    async def create(self, values: dict[str, Any]) -> Item: ...

    async def update(
        self, item_id: int, values: dict[str, Any], if_match: frozenset[int] | None
    ) -> Item: ...

    async def delete(self, item_id: int, if_match: frozenset[int] | None) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def not_found(item_id: int) -> NotFound:
    return NotFound(f"Item {item_id} does not exist.")


def missing_or_stale(item_id: int, current_version: int | None) -> NoReturn:
    """After a conditional write matched no row: was the item gone, or the version stale?"""
    if current_version is None:
        raise not_found(item_id)
    raise PreconditionFailed(
        f"Item {item_id} is at version {current_version}; If-Match does not match. "
        "Fetch it again and retry."
    )
