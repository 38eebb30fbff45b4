"""A local HAProxy standing in for the ALB and its target group, driven through its runtime API.

The backend has pre-declared server slots that start in maintenance (= not registered). The
methods below mirror the target lifecycle ECS drives on the ALB:

    register(slot, port)   RegisterTargets: "initial" until `rise` health checks on /ready pass,
                           only then does the target get traffic;
    deregister(slot)       DeregisterTargets: "draining" — no new requests, in-flight ones finish
                           (bounded by the deregistration delay), then the target is removed.

No `retries` and no `option redispatch`: the ALB does not re-send a request that failed on a
target (it answers 502/504), so neither may this stand-in, or it would hide a bad drain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from testbed.haproxy import HAProxyProcess, HAProxyUnavailable, preamble

__all__ = ["HAProxy", "HAProxyUnavailable", "Target"]

BACKEND = "targets"
# `show servers state` srv_op_state: 2 is SRV_ST_RUNNING ("healthy"). srv_admin_state bits:
# maintenance forced / inherited / from DNS; drain forced / inherited. (0x04 only records that
# the config said `disabled`; it stays set after the server is made ready.)
OP_RUNNING = 2
ADMIN_MAINT = 0x01 | 0x02 | 0x20
ADMIN_DRAIN = 0x08 | 0x10


def render_config(
    *, port: int, admin_socket: Path, slots: int, check_interval_ms: int, rise: int, fall: int
) -> str:
    servers = "\n".join(
        # 127.0.0.1:1 is a placeholder; `register` sets the real port. `disabled` = maintenance.
        f"    server s{n} 127.0.0.1:1 disabled"
        for n in range(1, slots + 1)
    )
    return (
        preamble(admin_socket)
        + f"""
frontend lb
    bind 127.0.0.1:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    # Same probe as the target group (infra/constructs/load_balancer.py), on a faster clock.
    option httpchk GET /ready
    http-check expect status 200
    default-server check inter {check_interval_ms}ms rise {rise} fall {fall}
    # Which target answered, so the test can tell old containers from new ones.
    http-response set-header X-Served-By %[srv_name]
{servers}
"""
    )


@dataclass(frozen=True)
class Target:
    """One slot as the runtime API reports it."""

    name: str
    port: int
    healthy: bool  # op state RUNNING: passed `rise` checks and not failed `fall` since
    admin_state: int  # bit 0x01 forced maintenance, 0x08 forced drain
    current_sessions: int
    total_sessions: int

    @property
    def in_service(self) -> bool:
        """Healthy and neither in maintenance nor draining: gets new requests."""
        return self.healthy and not self.admin_state & (ADMIN_MAINT | ADMIN_DRAIN)


class HAProxy(HAProxyProcess):
    def __init__(
        self,
        workdir: Path,
        *,
        slots: int = 4,
        check_interval_ms: int = 500,
        rise: int = 2,
        fall: int = 3,
    ) -> None:
        super().__init__(workdir)
        self.write_config(
            render_config(
                port=self.port,
                admin_socket=self.admin_socket,
                slots=slots,
                check_interval_ms=check_interval_ms,
                rise=rise,
                fall=fall,
            )
        )

    # -- runtime API -----------------------------------------------------------------------
    def targets(self) -> dict[str, Target]:
        # Health and admin state from `show servers state`, session counters from `show stat`.
        states = self.servers_state(BACKEND)
        stats = {row["svname"]: row for row in self.stats(BACKEND, 4)}
        return {
            name: Target(
                name=name,
                port=int(row["srv_port"]),
                healthy=int(row["srv_op_state"]) == OP_RUNNING,
                admin_state=int(row["srv_admin_state"]),
                current_sessions=int(stats[name]["scur"]),
                total_sessions=int(stats[name]["stot"]),
            )
            for name, row in states.items()
        }

    def set_state(self, slot: str, state: str) -> None:
        self.expect_silence(f"set server {BACKEND}/{slot} state {state}")

    # -- the ALB target lifecycle ----------------------------------------------------------
    def register(self, slot: str, port: int, timeout: float = 60.0) -> float:
        """Point `slot` at 127.0.0.1:`port` and give it traffic once healthy; returns seconds.

        Leaving maintenance straight to `ready` would count the server UP at once (HAProxy
        assumes it healthy until a check fails) and send it requests before the app listens.
        The ALB starts a target in "initial" and waits for `rise` passing checks: the same here
        by leaving maintenance into drain (no new traffic), forcing the health to DOWN, waiting
        for the checks to bring it UP, and only then making it ready.
        """
        started = time.monotonic()
        reply = self.command(f"set server {BACKEND}/{slot} addr 127.0.0.1 port {port}")
        if "changed" not in reply:
            raise RuntimeError(f"haproxy: could not point {slot} at port {port}: {reply}")
        self.set_state(slot, "drain")
        self.expect_silence(f"set server {BACKEND}/{slot} health down")
        self._wait(lambda: self.targets()[slot].healthy, timeout, f"{slot} healthy")
        self.set_state(slot, "ready")
        return time.monotonic() - started

    def deregister(self, slot: str, delay: float) -> tuple[int, int]:
        """Drain `slot` until its in-flight requests finish or `delay` passes, then remove it
        (maintenance). Returns the requests in flight when draining began and when it ended
        (0 = every one of them finished on the old target)."""
        self.set_state(slot, "drain")
        at_drain = left = self.targets()[slot].current_sessions
        deadline = time.monotonic() + delay
        while left and time.monotonic() < deadline:
            time.sleep(0.01)
            left = self.targets()[slot].current_sessions
        self.set_state(slot, "maint")
        return at_drain, left

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
