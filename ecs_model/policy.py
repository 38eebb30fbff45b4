"""What the model does with each revision, keyed by its image tag (env IMAGE_TAG)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

OUTCOMES = ("complete", "fail", "hang")


@dataclass
class Policy:
    """- outcomes: tag → complete (steady after `step` s) | fail (tasks fail to start: the
      circuit breaker counts them) | hang (never steady). Default complete.
    - migration_exit: tag → the one-off task's exit code (default 0).
    - migration_stop: tag → stop code of a one-off task whose container never started
      (TaskFailedToStart): no exit code at all.
    - migration_runs: tag → seconds a one-off task keeps RUNNING before it exits
      (math.inf: until StopTask).
    - on_rollout: called with the tag when a deployment of it starts."""

    outcomes: dict[str, str] = field(default_factory=dict)
    migration_exit: dict[str, int] = field(default_factory=dict)
    migration_stop: dict[str, str] = field(default_factory=dict)
    migration_runs: dict[str, float] = field(default_factory=dict)
    on_rollout: list[Callable[[str], None]] = field(default_factory=list)

    def outcome(self, tag: str) -> str:
        found = self.outcomes.get(tag, "complete")
        if found not in OUTCOMES:
            raise ValueError(f"outcome for {tag!r} must be one of {', '.join(OUTCOMES)}")
        return found
