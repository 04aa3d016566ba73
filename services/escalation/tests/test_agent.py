"""The cases agent through Faust's test_context: in-memory tables, sends captured, no broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka.errors import KafkaTimeoutError

from casegold_contracts import ESCALATIONS, EscalationRaised, dump, parse
from casegold_contracts.builders import DEFAULT_TIME, make_case_opened, make_event
from casegold_escalation import metrics
from casegold_escalation.adapters.policies import PolicyStore
from casegold_escalation.app import Worker
from casegold_escalation.processor import Message
from casegold_escalation.records import CustomerCase, Tick
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.timers import tick_messages
from casegold_escalation.wiring import build_worker
from casegold_platform.settings import KafkaSettings
from casegold_sla import load_policy
from tests.support import repo_root


class CapturedSends:
    """The `Sender` port: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def __call__(self, messages: Sequence[Message], wait_all: bool = False) -> None:
        self.sent.extend(messages)


class NothingSentBefore:
    """The `ResendGuard` port of a partition no earlier worker sent anything on."""

    def loaded(self, partition: int) -> bool:
        return True

    def contains(self, partition: int, event_id: UUID) -> bool:
        return False

    def forget(self, partitions: set[int]) -> None:
        return None

    async def load_many(self, partitions: Iterable[int]) -> None:
        return None


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[tuple[Worker, list[Message]]]:
    policy_path = Path(repo_root(), "deploy", "policy", "fast.yaml")
    settings = EscalationSettings(app_id=f"agent-test-{uuid4().hex[:8]}", data_dir=tmp_path)
    kafka = KafkaSettings()
    store = PolicyStore(kafka, settings.policies_topic, load_policy(policy_path), "")
    clock_now = [DEFAULT_TIME]
    worker = build_worker(settings, kafka, store, clock=lambda: clock_now[0])
    app = worker.app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.conf.store = "memory://"  # type: ignore[assignment]
    app.flow_control.resume()
    sends = CapturedSends()
    worker.send = sends
    worker.recent = NothingSentBefore()
    yield worker, sends.sent


def escalations(sent: list[Message]) -> list[EscalationRaised]:
    parsed = [parse(m.value) for m in sent if m.topic == ESCALATIONS]
    return [e for e in parsed if isinstance(e, EscalationRaised)]


async def test_a_sensitive_case_escalates_at_once_and_a_replay_sends_nothing_new(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, sent = worker
    case_id = uuid4()
    opened = make_case_opened(
        case_id=case_id, at=DEFAULT_TIME, sensitive=True, sensitive_reasons=("lawyer",)
    )
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        await context.put(dump(opened), key=str(case_id).encode())
        await context.put(dump(opened), key=str(case_id).encode())
        ack = make_event("case_acknowledged", case_id=case_id, at=DEFAULT_TIME)
        await context.put(dump(ack), key=str(case_id).encode())
    tier_2 = [e for e in escalations(sent) if e.payload.step == "tier_2"]
    assert {e.payload.audience for e in tier_2} == {"department_manager", "pr_legal"}
    assert len(tier_2) == 2, "the replayed case_opened sent nothing again"
    assert escalation_worker.cases.get(str(case_id).encode()) is not None


async def test_an_agent_failing_on_every_message_makes_the_worker_unready(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, _ = worker

    async def broken(messages: Sequence[Message], wait_all: bool = False) -> None:
        raise RuntimeError("changelog topic has 0 partitions")

    good = escalation_worker.send
    escalation_worker.send = broken
    agent = escalation_worker.app.agents["customers"]
    phone = "+8613900000000"
    async with agent.test_context() as context:
        # The first case of a customer sends nothing; the second sends its detection, and
        # fails on it again and again while the dependency is broken.
        await context.put(CustomerCase(phone, uuid4(), 1).encode(), key=phone.encode())
        second = CustomerCase(phone, uuid4(), 2).encode()
        # put() returns once the agent is done with the record: here, only after it recovers.
        pending = asyncio.create_task(context.put(second, key=phone.encode()))
        await until(lambda: escalation_worker.checks()["agents"] is False)
        escalation_worker.send = good
        await until(lambda: escalation_worker.checks()["agents"] is True)
        await pending


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition the agent makes true, failing at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


def rejected(reason: str) -> float:
    value = metrics.REGISTRY.get_sample_value("casegold_events_rejected_total", {"reason": reason})
    return value or 0.0


async def test_a_record_whose_key_is_not_its_case_id_is_counted_and_skipped(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, sent = worker
    real, other = uuid4(), uuid4()
    opened = make_case_opened(case_id=real, at=DEFAULT_TIME, sensitive=True)
    before = rejected("bad_key"), rejected("key_mismatch")
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        await context.put(dump(opened), key=b"not-a-uuid")
        await context.put(dump(opened), key=str(other).encode())
        await context.put(dump(opened), key=str(real).upper().encode())
        await context.put(dump(opened), key=str(real).encode())
        await until(lambda: escalation_worker.cases.get(str(real).encode()) is not None)
    assert (rejected("bad_key"), rejected("key_mismatch")) == (before[0] + 2, before[1] + 1)
    for bad in (b"not-a-uuid", str(other).encode(), str(real).upper().encode()):
        assert escalation_worker.cases.get(bad) is None
    # Only the correctly keyed copy escalated: each notice once.
    notices = [(e.payload.escalation_id, e.payload.audience) for e in escalations(sent)]
    assert notices and len(notices) == len(set(notices))


def test_a_key_that_is_no_case_id_in_the_due_index_never_fails_its_tick_batch(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, _ = worker
    good = str(uuid4()).encode()
    escalation_worker.index.schedule(0, b"not-a-uuid", 10)
    escalation_worker.index.schedule(0, good, 10)
    due = escalation_worker.index.pop_due(20, 100, 5)
    ticks = tick_messages(escalation_worker, due)
    assert [(t.key, Tick.decode(t.value).due_us) for t in ticks] == [(good, 10)]
    assert escalation_worker.index.due_of(b"not-a-uuid") is None


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_send_the_broker_does_not_acknowledge_is_retried_not_skipped(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, sent = worker
    captured = escalation_worker.send
    failures = [KafkaTimeoutError(), KafkaTimeoutError()]

    async def flaky(messages: Sequence[Message], wait_all: bool = False) -> None:
        if failures:
            raise failures.pop()
        await captured(messages, wait_all)

    escalation_worker.send = flaky
    case_id = uuid4()
    opened = make_case_opened(case_id=case_id, at=DEFAULT_TIME, sensitive=True)
    skipped = sample("casegold_escalation_failures_total", stage="cases")
    retried = sample("casegold_escalation_retries_total", stage="cases")
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        await context.put(dump(opened), key=str(case_id).encode())
        await until(lambda: escalation_worker.cases.get(str(case_id).encode()) is not None)
    assert failures == []
    assert sample("casegold_escalation_retries_total", stage="cases") == retried + 2
    assert sample("casegold_escalation_failures_total", stage="cases") == skipped
    tier_2 = [e for e in escalations(sent) if e.payload.step == "tier_2"]
    assert len(tier_2) == 2, "the immediate tier 2 reached both audiences once"


async def test_a_resend_guard_that_cannot_read_is_retried_not_skipped(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, sent = worker

    class Unreadable(NothingSentBefore):
        reads = 0

        def loaded(self, partition: int) -> bool:
            return self.reads > 1

        async def load_many(self, partitions: Iterable[int]) -> None:
            self.reads += 1
            if self.reads == 1:
                raise ConnectionError("broker away")

    escalation_worker.recent = Unreadable()
    case_id = uuid4()
    opened = make_case_opened(case_id=case_id, at=DEFAULT_TIME, sensitive=True)
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        await context.put(dump(opened), key=str(case_id).encode())
        await until(lambda: escalation_worker.cases.get(str(case_id).encode()) is not None)
    assert len([e for e in escalations(sent) if e.payload.step == "tier_2"]) == 2


async def test_steps_whose_notices_the_resend_guard_skips_are_not_counted_again(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, sent = worker

    class AllSentBefore(NothingSentBefore):
        def contains(self, partition: int, event_id: UUID) -> bool:
            return True

    escalation_worker.recent = AllSentBefore()
    case_id = uuid4()
    opened = make_case_opened(case_id=case_id, at=DEFAULT_TIME, sensitive=True)
    labels = {"tier": "2", "reason": "sensitive"}
    before = sample("casegold_escalations_total", **labels)
    skipped = sample("casegold_escalation_resend_skipped_total")
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        await context.put(dump(opened), key=str(case_id).encode())
        await until(lambda: escalation_worker.cases.get(str(case_id).encode()) is not None)
    assert escalations(sent) == []
    assert sample("casegold_escalation_resend_skipped_total") == skipped + 2
    assert sample("casegold_escalations_total", **labels) == before
