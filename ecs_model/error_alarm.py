"""The deployment alarm on the load balancer's 5xx answers, for a rehearsal: CloudWatch's
`HTTPCode_Target_5XX_Count` alarm (the stack's `<prefix>-5xx`, infra/constructs/alarms.py)
evaluated on a rehearsal's clock — more than `threshold` 5xx answers in the last `window`
seconds turns it ALARM, fewer turns it OK again, read every `period` seconds. ECS watches it
during the deployment and rolls back when it is red (the model: rollouts.py `_alarmed`).

On AWS the metric has 1-minute periods and the alarm needs its evaluation periods to pass, so
this detection takes minutes there, not the second it takes here. The model counts the 5xx
answers of the production route only; the load balancer's metric also counts those of the test
listener rule, so on AWS a failed pre-traffic smoke test can turn the alarm red as well, which
only adds ECS's own rollback to autopipe's.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class ErrorAlarm:
    def __init__(
        self,
        cloudwatch: Any,
        name: str,
        count: Callable[[], int],
        *,
        threshold: int = 5,
        window: float = 1.0,
        period: float = 0.2,
    ) -> None:
        self._cloudwatch, self.name, self._count = cloudwatch, name, count
        self.threshold, self.window, self.period = threshold, window, period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = "OK"
        self.changes: list[tuple[float, str, int]] = []  # (time.time(), state, 5xx in window)

    def start(self) -> ErrorAlarm:
        self._thread = threading.Thread(target=self._loop, name="error-alarm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        samples: deque[tuple[float, int]] = deque()
        while not self._stop.wait(self.period):  # the alarm's own evaluation clock
            now, total = time.monotonic(), self._count()
            samples.append((now, total))
            while samples and samples[0][0] < now - self.window:
                samples.popleft()
            recent = total - samples[0][1]
            state = "ALARM" if recent > self.threshold else "OK"
            if state != self.state:
                self._cloudwatch.set_alarm_state(
                    AlarmName=self.name,
                    StateValue=state,
                    StateReason=f"{recent} 5xx answers in {self.window:g}s",
                )
                self.state = state
                self.changes.append((time.time(), state, recent))
