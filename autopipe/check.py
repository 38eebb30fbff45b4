"""One verify check's result: OK / NG / SKIP, and what it saw."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OK, NG, SKIP = "OK", "NG", "SKIP"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    # Set when the check passed only because a person overrode it (e.g. `--allow-alarm`): their
    # reason, for the deploy's notification.
    override: str = ""

    def as_dict(self) -> dict[str, Any]:
        """name, status, detail; `override` only when there is one (the JSON shape is pinned)."""
        data = asdict(self)
        if not self.override:
            data.pop("override")
        return data
