"""The service's users during a rehearsal: a steady stream of requests through the load
balancer's production route (no test header), each answer recorded with the release that
served it, so a rehearsal can count what a broken release answered and when it stopped.

The release comes from the answer's `X-Served-By` header (the target group and slot, alb.py;
the tag itself from the stand-in) through `release_of`."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

SERVED_BY = "X-Served-By"


@dataclass(frozen=True)
class Answer:
    at: float  # time.time() when the answer (or the failure) came
    status: int  # 0: no answer (refused, reset, timed out)
    release: str | None  # the image tag of the task that answered
    sent: float = 0.0  # time.time() when the request was sent


class Users:
    """`clients` connections (kept alive, as browsers and SDKs do), `rate` requests a second in
    all, until `stop`."""

    def __init__(
        self,
        url: str,
        release_of: Callable[[str], str | None],
        *,
        path: str = "/items?limit=5",
        rate: float = 40.0,
        clients: int = 2,
    ) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path, self.rate, self.clients = path, rate, clients
        self._release_of = release_of
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.answers: list[Answer] = []

    def start(self) -> Users:
        self._stop.clear()
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"user-{n}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.at <= end]

    @staticmethod
    def by_release(answers: list[Answer]) -> dict[str, int]:
        counted = Counter(
            a.release or ("no answer" if a.status == 0 else "unknown") for a in answers
        )
        return dict(sorted(counted.items()))

    @staticmethod
    def statuses(answers: list[Answer]) -> dict[str, dict[str, int]]:
        """Per release, how many answers had each status ("0": no answer)."""
        out: dict[str, Counter[str]] = {}
        for a in answers:
            out.setdefault(a.release or "none", Counter())[str(a.status)] += 1
        return {release: dict(sorted(c.items())) for release, c in sorted(out.items())}

    def _client(self) -> None:
        interval = self.clients / self.rate  # the pace of this client, not a synchronisation
        # A closed HTTPConnection opens a new socket on its next request.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
        while not self._stop.is_set():
            started, sent = time.monotonic(), time.time()
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                response.read()
                served = response.getheader(SERVED_BY) or ""
                answer = Answer(time.time(), response.status, self._release_of(served), sent)
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                answer = Answer(time.time(), 0, None, sent)
                connection.close()
            with self._lock:
                self.answers.append(answer)
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))
        connection.close()
