"""One verify check's result: OK / NG / SKIP, and what it saw."""

from __future__ import annotations

from dataclasses import dataclass

OK, NG, SKIP = "OK", "NG", "SKIP"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    # Set when the check passed only because a person overrode it (e.g. `--allow-alarm`): their
    # reason, for the deploy's notification.
    override: str = ""
