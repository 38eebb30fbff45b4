"""Calls that must get through: an AWS call retried past botocore's own retries while the error
is transient (throttling, 5xx, a dropped connection) or the credentials expired, until a
deadline. botocore's standard mode already retries each call up to 5 times with backoff
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html); a burst longer
than that surfaces here, and a deploy that has touched the service must not give up on it.

Expired credentials: the cached session is dropped and the chain read again once per burst
(a web-identity token file, an SSO cache or a profile may hold fresh ones). Static credentials
from the environment cannot refresh: the error then surfaces at the deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from autopipe import aws as aws_module
from autopipe.output import Reporter

T = TypeVar("T")


@dataclass
class Persistence:
    reporter: Reporter | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    first_backoff: float = 0.2
    max_backoff: float = 5.0
    retried: int = field(default=0, init=False)  # how many times a call was tried again

    def call(self, what: str, fn: Callable[[], T], *, within: float) -> T:
        """`fn()`, retried on transient errors and expired credentials for `within` seconds."""
        deadline = self.clock() + within
        backoff = self.first_backoff
        refreshed = False
        while True:
            try:
                return fn()
            except Exception as exc:
                expired = aws_module.is_expired(exc)
                if not (expired or aws_module.is_transient(exc)):
                    raise
                if self.clock() + backoff > deadline:
                    raise
                if expired and not refreshed:
                    aws_module.forget_credentials()
                    refreshed = True
                self.retried += 1
                if self.reporter is not None:
                    kind = aws_module.error_code(exc) or type(exc).__name__
                    self.reporter.warn(f"{what}: {kind}; trying again in {backoff:.1f}s")
                self.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
