"""The short fault run: background load through all five services while the broker, the worker,
the notifier, PostgreSQL, reporting and follow-up are killed, stopped or paused, and poison is
published; then the offline checker (bench/fault_check.py) judges from the outside.

It runs after the journeys, on the same stack (the long run: bench/bench_faults.py).
"""

from __future__ import annotations

import pytest

from bench.fault_run import Options, run
from bench.fault_stack import Stack
from tests.support.brokers import ScratchBroker
from tests.support.receivers import Receiver
from tests.support.scratch_postgres import ScratchPostgres

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="package")]

SHORT_RUN = [
    ("escalation", "kill9"),
    ("broker", "kill9"),
    ("notifier", "sigterm"),
    ("postgres", "stop"),
    ("reporting", "kill9"),
    ("followup", "pause"),
    ("poison", "inject"),
]


@pytest.mark.timeout(600)
async def test_nothing_lost_doubled_or_falsely_escalated_across_seven_faults(
    stack: Stack,
    module_broker: ScratchBroker,
    module_postgres: ScratchPostgres,
    module_receiver: Receiver,
) -> None:
    options = Options(rate=6.0, duration=70.0, schedule=SHORT_RUN, interval=9.0)
    outcome = await run(stack, module_broker, module_postgres, module_receiver, options)
    report = "\n".join(outcome.lines())
    print(report)
    problems = "\n".join([*outcome.verdict.problems[:40], *outcome.verdict.pending[:20]])
    failure = f"{report}\n{problems}\n{stack.log_tails(10)}"
    assert outcome.faults["faults"] >= 5, failure
    assert outcome.verdict.figures["steps_fired"] > 0, failure  # the neglected cases escalated
    assert outcome.verdict.problems == [], failure
    assert outcome.verdict.pending == [], failure
