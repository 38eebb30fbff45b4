"""The broken release's figures from hand-made answers: which requests count as sent while it
held production traffic when the load balancer applies a change a little after the model makes
it, and how long traffic took to come back after the rollback was asked for."""

from __future__ import annotations

from datetime import UTC, datetime

from ecs_model.broken_release import measure
from ecs_model.users import Answer

T0 = 1_000.0  # the model gave v3 its share; 1_004.0 it took the share away


def answer(sent: float, at: float, release: str, status: int = 200) -> Answer:
    return Answer(at=T0 + at, status=status, release=release, sent=T0 + sent)


def test_an_answer_sent_before_the_load_balancer_applied_the_change_counts_as_exposed() -> None:
    answers = [
        answer(-0.5, -0.49, "v2"),  # before the window: v2
        answer(-0.01, 0.02, "v2"),  # in flight when v3 got its share: could have gone either way
        answer(1.0, 1.01, "v3", 503),
        answer(4.003, 4.01, "v3", 503),  # sent after the model's change, before it was applied
        answer(4.02, 4.03, "v2"),  # after the window
    ]
    deployment = {"rollback": {"startedAt": datetime.fromtimestamp(T0 + 4.0, UTC)}}
    found = measure(
        answers, broken="v3", previous="v2", deployment=deployment,
        exposure=(T0, T0 + 4.005, 100.0),
    )  # fmt: skip
    exposed = found["while_broken_release_had_production_traffic"]
    assert exposed["user_requests_answered_by_broken_release"] == 2  # both of v3's answers
    assert exposed["user_requests_sent"] == 3  # the two, and the one in flight at the start
    assert exposed["at_most"] == 3
    # The last v3 answer came 0.01 s after the rollback was asked for; v2 answered after it.
    assert found["seconds_from_detection_to_all_traffic_on_previous_release"] == 0.01
    assert found["user_requests_answered_by_broken_release"] == 2


def test_traffic_never_back_on_the_previous_release_is_none() -> None:
    answers = [answer(0.0, 0.01, "v3", 503), answer(5.0, 5.01, "v3", 503)]
    deployment = {"rollback": {"startedAt": datetime.fromtimestamp(T0 + 4.0, UTC)}}
    found = measure(answers, broken="v3", previous="v2", deployment=deployment)
    assert found["seconds_from_detection_to_all_traffic_on_previous_release"] is None
    assert found["while_broken_release_had_production_traffic"] is None
