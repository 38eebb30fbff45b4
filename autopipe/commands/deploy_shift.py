"""The roll-out of a blue/green or canary (or linear) deploy: no user request reaches the new
revision before it passed the smoke test through the test listener rule.

1. UpdateService with the strategy and the gate (strategy.py: a PAUSE hook at
   POST_TEST_TRAFFIC_SHIFT, timeout action ROLLBACK); watch the deployment to the gate.
2. At the gate the new tasks run and get test traffic only: smoke-test them through the test
   listener rule (`test_url`, header `test_header` with the value of the `test_header_secret`
   secret). Failed: ContinueServiceDeployment(ROLLBACK) — ECS moves nothing, production traffic
   never left the old tasks. Passed: CONTINUE.
3. Watch production traffic move; during the bake time (the old tasks still run) the same smoke
   test on the production URL, and the alarms. A failure there is StopServiceDeployment(ROLLBACK):
   ECS moves traffic back to the old tasks.
4. Then as a rolling deploy: final status, alarms, the release record.
The failures go through the deploy's one rollback path (deploy.py's `roll_back`), so the exit
codes, the failed-revision tag and the release record are those of a rolling deploy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopipe import ecs, rollout, smoke, strategy
from autopipe.errors import ConfigError

if TYPE_CHECKING:
    from autopipe.commands._shared import Rendered
    from autopipe.commands.deploy_steps import Steps


class ShiftRollout:
    def __init__(self, steps: Steps) -> None:
        self.steps, self.d = steps, steps.d
        self.smoked = False  # the production smoke test passed during the bake

    def test_route(self) -> dict[str, str]:
        """The test listener rule's header, its value read from the secret the stack made
        (before anything changes: a missing secret stops the deploy with the service as it was)."""
        d, s = self.d, self.d.settings
        name = s.test_header_secret_name
        try:
            value = d.watcher.persist.call(
                "verify: the test traffic secret",
                lambda: d.aws.secrets().get_secret_value(SecretId=name)["SecretString"],
                within=30,
            )
        except Exception as exc:
            raise ConfigError(
                f"strategy {s.strategy} needs the test listener rule's header value in the secret "
                f"{name} ({type(exc).__name__}); the stack creates it"
            ) from exc
        return {s.test_header: str(value)}

    def configuration(self, service: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
        current = base if base is not None else dict(service.get("deploymentConfiguration") or {})
        return strategy.deployment_configuration(self.d.settings, current)

    def watch(self, rendered: Rendered, own_alarms: list[str], header: dict[str, str]) -> None:
        """From UpdateService's answer to a final status; raises what the deploy ends with."""
        d, s = self.d, self.d.settings
        arn = str(d.deployment_arn)
        outcome = d.watcher.watch(
            arn, timeout=s.rollout_timeout, alarms=own_alarms, until=strategy.at_gate
        )
        # Each watch gets rollout_timeout beyond the time the configuration itself takes.
        if outcome.state == rollout.REACHED:
            self._gate(rendered, outcome.deployment, header)
            budget = s.rollout_timeout + strategy.shift_seconds(s)
            outcome = d.watcher.watch(arn, timeout=budget, alarms=own_alarms, until=strategy.baking)
        if outcome.state == rollout.REACHED:
            self._bake(rendered)
            budget = s.rollout_timeout + 60.0 * s.bake_minutes
            outcome = d.watcher.watch(arn, timeout=budget, alarms=own_alarms)
        self.steps.judge(outcome)

    def _gate(self, rendered: Rendered, deployment: dict[str, Any], header: dict[str, str]) -> None:
        d, s, r = self.d, self.d.settings, self.d.reporter
        hook = strategy.waiting_hook(deployment)
        if hook is None:
            r.warn(f"the deployment is past the gate already ({deployment.get('lifecycleStage')})")
            return
        d.phase = "test"
        url = s.test_url or s.url
        r.step(f"at {strategy.GATE_STAGE}: only test traffic reaches {ecs.short(str(d.new_arn))}")
        failed = self._smoke(rendered, url, header, label=" (test listener rule)")
        arn = str(d.deployment_arn)
        if failed:
            r.step(f"pre-traffic smoke test failed: {failed}", style="bold red")
            self._answer(arn, hook, "ROLLBACK")
            raise d.roll_back(f"pre_traffic_smoke_failed: {failed}")
        self._answer(arn, hook, "CONTINUE")
        r.step("pre-traffic smoke test passed: production traffic may move", style="green")
        d.phase = "watch"

    def _answer(self, arn: str, hook: str, action: str) -> None:
        d = self.d
        self.steps.ensure()
        try:
            d.watcher.persist.call(
                f"gate: ContinueServiceDeployment {action}",
                lambda: ecs.continue_deployment(
                    d.aws, arn, hook, "ROLLBACK" if action == "ROLLBACK" else "CONTINUE"
                ),
                within=30,
            )
        except Exception as exc:
            if action == "CONTINUE":
                raise
            # The rollback goes on through StopServiceDeployment (deploy.py's roll_back).
            d.reporter.warn(f"ContinueServiceDeployment ROLLBACK refused: {type(exc).__name__}")
        else:
            d.reporter.step(f"answered the gate: {action}", style="yellow")

    def _bake(self, rendered: Rendered) -> None:
        d, s, r = self.d, self.d.settings, self.d.reporter
        d.phase = "bake"
        r.step(f"baking {s.bake_minutes} min: the previous tasks still run")
        failed = self._smoke(rendered, s.url, {}, label="")
        if failed:
            r.step(f"smoke test failed during the bake: {failed}", style="bold red")
            raise d.roll_back(f"smoke_failed_during_bake: {failed}")
        self.smoked = True
        d.phase = "watch"

    def _smoke(self, rendered: Rendered, url: str, header: dict[str, str], *, label: str) -> str:
        d, s = self.d, self.d.settings
        if not (d.opts.smoke and url):
            d.reporter.step("smoke test skipped (" + ("--no-smoke" if url else "no url") + ")")
            return ""
        expect = {"image_tag": rendered.image_tag}
        if rendered.git_sha != "unknown":
            expect["git_sha"] = rendered.git_sha
        try:
            probes = smoke.smoke_test(
                url, expect=expect, passes=s.smoke_passes, interval=s.smoke_interval,
                timeout=s.smoke_timeout, reporter=d.reporter, headers=header, label=label,
            )  # fmt: skip
        except smoke.SmokeFailed as exc:
            d.result["smoke_probes"] = d.result.get("smoke_probes", 0) + exc.probes
            return f"smoke test failed: {exc}"
        d.result["smoke_probes"] = d.result.get("smoke_probes", 0) + probes
        return ""
