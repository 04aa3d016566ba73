"""The short fault run: background load through all five services while the broker, the worker,
the notifier, PostgreSQL and follow-up are killed or stopped and poison is published; then the
offline checker (bench/fault_check.py) judges from the outside, one guarantee per test.

The run happens once, after the journeys, on the same stack (the long run: bench/bench_faults.py).
"""

from __future__ import annotations

import pytest
import pytest_asyncio

from bench.fault_run import Options, Outcome, run
from bench.fault_stack import Stack
from tests.support.brokers import ScratchBroker
from tests.support.receivers import Receiver
from tests.support.scratch_postgres import ScratchPostgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.asyncio(loop_scope="package"),
]

SHORT_RUN = [
    ("escalation", "kill9"),
    ("broker", "kill9"),
    ("notifier", "kill9"),
    ("postgres", "stop"),
    ("followup", "sigterm"),
    ("poison", "inject"),
]


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def outcome(
    stack: Stack,
    rel_broker: ScratchBroker,
    rel_postgres: ScratchPostgres,
    rel_receiver: Receiver,
) -> Outcome:
    options = Options(rate=6.0, duration=45.0, schedule=SHORT_RUN, interval=6.0)
    result = await run(stack, rel_broker, rel_postgres, rel_receiver, options)
    print("\n".join(result.lines()))
    return result


def explain(outcome: Outcome, problems: list[str]) -> str:
    return "\n".join(["", *outcome.lines(), *problems[:30]])


@pytest.mark.timeout(600)
async def test_the_run_injected_six_faults_under_load(outcome: Outcome) -> None:
    assert outcome.faults["faults"] == len(SHORT_RUN), explain(outcome, [])
    assert outcome.faults["unrecovered"] == 0, explain(outcome, [])
    assert outcome.load["cases"] > 100
    assert outcome.verdict.figures["steps_fired"] > 0  # the neglected cases climbed their ladder


async def test_every_2xx_case_and_command_is_on_the_topic_and_projected_exactly_once(
    outcome: Outcome,
) -> None:
    problems = outcome.verdict.of("lost", "duplicated_request")
    assert problems == [], explain(outcome, problems)


async def test_indeterminate_and_refused_requests_are_resolved_by_their_retry(
    outcome: Outcome,
) -> None:
    final = outcome.load["final"]
    assert set(final) <= {"ok", "refused"}, explain(outcome, [f"final answers {final}"])
    # The one refusal a client that retries with its key may get: the outcome of a revisit
    # whose lease ran out while follow-up or PostgreSQL was down (the fencing 409); the
    # callback is leased again and answered (the callback test checks that none is lost).
    refusals = outcome.load["refusals"]
    assert set(refusals) <= {"outcome 409"}, explain(outcome, [f"refusals {refusals}"])
    problems = outcome.verdict.of("unresolved")
    assert problems == [], explain(outcome, problems)


async def test_every_due_step_fired_once_and_reached_each_recipient_once(outcome: Outcome) -> None:
    kinds = ("missed_step", "duplicated_step", "duplicated_notice", "undelivered")
    problems = outcome.verdict.of(*kinds)
    assert problems == [], explain(outcome, problems)


async def test_no_step_fires_for_a_milestone_met_before_its_due_instant(outcome: Outcome) -> None:
    problems = outcome.verdict.of("false_escalation")
    assert problems == [], explain(outcome, problems)


async def test_no_callback_is_leased_twice_and_each_outcome_is_one_case_event(
    outcome: Outcome,
) -> None:
    assert outcome.verdict.figures["revisits_answered"] > 0
    problems = outcome.verdict.of("double_lease", "duplicated_outcome", "lost_outcome")
    assert problems == [], explain(outcome, problems)


async def test_no_consumer_is_stuck_after_the_poison_messages(outcome: Outcome) -> None:
    problems = outcome.verdict.of("stuck")
    assert problems == [], explain(outcome, problems)
