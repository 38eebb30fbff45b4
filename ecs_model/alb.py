"""The service's Application Load Balancer on loopback, as the stack builds it for blue/green,
canary and linear deployments (infra/constructs/traffic_shift.py): one listener, a production
rule and a test rule, each a weighted forward to the two target groups, and the target groups
checking `/health` on their targets. HAProxy plays each part:

    frontend listener           the listener: a request whose test header carries the secret
                                matches the test rule, every other request the production rule
    backend rule_production     the production rule's forward action: servers `blue` and
    backend rule_test           `green` are the two target groups, their weights the rule's
    frontend/backend tg_blue    a target group: its targets are server slots that start in
    frontend/backend tg_green   maintenance (= not registered), checked like the stack's group

ECS moves traffic by changing the rules' weights (ModifyRule through the infrastructure role);
here the emulator's traffic changes set the same weights through HAProxy's runtime API.
A target group answers `X-Served-By: <group>/<slot>`, so a client can tell who served it.
As the ALB, no retry and no redispatch: a request that fails on a target fails.

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from testbed.haproxy import HAProxyProcess, preamble
from testbed.pg import free_port
from testbed.waiting import wait_for

GROUPS = ("blue", "green")  # the primary and the alternate target group
RULES = ("rule_production", "rule_test")
OP_RUNNING = 2  # `show servers state` srv_op_state: passed its health checks


def other(group: str) -> str:
    return GROUPS[1 - GROUPS.index(group)]


class LoadBalancer:
    def __init__(
        self, workdir: Path, *, header: str, secret: str, slots: int = 8, check_ms: int = 100
    ) -> None:
        self.proxy = HAProxyProcess(workdir)
        self.url = self.proxy.url
        self.slots = slots
        self._group_ports = {group: free_port() for group in GROUPS}
        self._free = {group: [f"s{n}" for n in range(1, slots + 1)] for group in GROUPS}
        self.weights: dict[str, dict[str, int]] = {
            rule: {"blue": 100, "green": 0} for rule in RULES
        }
        self.proxy.write_config(self._config(header, secret, check_ms))

    def start(self) -> LoadBalancer:
        self.proxy.start()
        return self

    def stop(self) -> None:
        self.proxy.stop()

    def _config(self, header: str, secret: str, check_ms: int) -> str:
        rules = "".join(
            f"""
backend {rule}
    balance roundrobin
"""
            + "".join(
                f"    server {group} 127.0.0.1:{self._group_ports[group]} weight "
                f"{self.weights[rule][group]}\n"
                for group in GROUPS
            )
            for rule in RULES
        )
        groups = "".join(
            f"""
frontend tg_{group}
    bind 127.0.0.1:{self._group_ports[group]}
    default_backend {group}

backend {group}
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server check inter {check_ms}ms rise 2 fall 2
    http-response set-header X-Served-By %[be_name]/%[srv_name]
"""
            + "".join(f"    server s{n} 127.0.0.1:1 disabled\n" for n in range(1, self.slots + 1))
            for group in GROUPS
        )
        return (
            preamble(self.proxy.admin_socket, maxconn=2000)
            + f"""
frontend listener
    bind 127.0.0.1:{self.proxy.port}
    acl test_traffic req.hdr({header}) -m str {secret}
    use_backend rule_test if test_traffic
    default_backend rule_production
{rules}{groups}"""
        )

    # --- the rules: ECS's ModifyRule ------------------------------------------------------------

    def set_weights(self, rule: str, weights: dict[str, int]) -> None:
        # One command per group: raise before lowering, so that no request in between finds
        # both groups at weight 0 (HAProxy's own 503), where ModifyRule changes both at once.
        wanted = {g: max(0, min(256, int(weights.get(g, 0)))) for g in GROUPS}
        for group in sorted(GROUPS, key=lambda g: wanted[g] <= self.weights[rule][g]):
            self.proxy.expect_silence(f"set server {rule}/{group} weight {wanted[group]}")
            self.weights[rule][group] = wanted[group]

    # --- the target groups: RegisterTargets / DeregisterTargets ---------------------------------

    def register(self, group: str, port: int) -> str:
        """Point a free slot of `group` at 127.0.0.1:`port`; it gets traffic once `/health`
        passed `rise` checks (the group's "initial" state until then). Returns the slot."""
        if not self._free[group]:
            raise RuntimeError(f"target group {group}: all {self.slots} slots used")
        slot = self._free[group].pop(0)
        server = f"{group}/{slot}"
        reply = self.proxy.command(f"set server {server} addr 127.0.0.1 port {port}")
        if "changed" not in reply:
            raise RuntimeError(f"haproxy: could not point {server} at port {port}: {reply}")
        # Out of maintenance straight to `ready` would count the target healthy at once: go
        # through a forced DOWN so the checks decide, as the ALB's "initial" state does.
        self.proxy.expect_silence(f"set server {server} state drain")
        self.proxy.expect_silence(f"set server {server} health down")
        self.proxy.expect_silence(f"set server {server} state ready")
        return slot

    def healthy(self, group: str, slot: str) -> bool:
        row = self.proxy.servers_state(group).get(slot)
        return row is not None and int(row["srv_op_state"]) == OP_RUNNING

    def production_5xx(self) -> int:
        """5xx answers the production rule has given since the start (its backend's
        hrsp_5xx, which counts the target groups' 5xx and its own 503 without targets)."""
        rows = self.proxy.stats("rule_production", 2)
        return int(rows[0]["hrsp_5xx"] or 0) if rows else 0

    def in_flight(self, group: str, slot: str) -> int:
        rows = self.proxy.stats(group, 4)
        return next((int(row["scur"] or 0) for row in rows if row["svname"] == slot), 0)

    def deregister(self, group: str, slot: str, *, delay: float) -> None:
        """Draining: no new requests; in-flight ones finish (up to `delay`); then removed."""
        server = f"{group}/{slot}"
        self.proxy.expect_silence(f"set server {server} state drain")
        # Past the deregistration delay the ALB closes what is left: so does this.
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: self.in_flight(group, slot) == 0, f"{server} drained", delay)
        self.proxy.expect_silence(f"set server {server} state maint")
