"""The cases agent through Faust's test_context: in-memory tables, sends captured, no broker."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP
from structlog.testing import capture_logs

from casegold_contracts import ESCALATIONS, EscalationRaised, dump, parse
from casegold_contracts.builders import DEFAULT_TIME, make_case_opened, make_event
from casegold_escalation import metrics
from casegold_escalation.adapters.policies import PolicyStore
from casegold_escalation.app import Worker
from casegold_escalation.guard import guarded
from casegold_escalation.lag import Progress
from casegold_escalation.processor import Message
from casegold_escalation.records import CustomerCase, Tick
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.stall import StallWatch
from casegold_escalation.timers import GC_THRESHOLDS, reseek_stalled, tick_messages, tick_once
from casegold_escalation.wiring import build_worker
from casegold_platform.settings import KafkaSettings
from casegold_sla import load_policy, to_us
from tests.support import repo_root
from tests.support.waiting import until


class CapturedSends:
    """The `Sender` port: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def __call__(self, messages: Sequence[Message], wait_all: bool = False) -> None:
        self.sent.extend(messages)

    async def pipelined(self, messages: Sequence[Message]) -> Awaitable[None] | None:
        self.sent.extend(messages)
        return None  # acknowledged at once


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


class MemoryCaseStore:
    """The `CaseStore` port on the in-memory cases table; a changelog that only counts."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.changelog: dict[int, int] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self.table.data.data.get(key)
        return value

    async def send(self, batch: Mapping[int, Mapping[bytes, bytes | None]]) -> dict[int, int]:
        for partition, writes in batch.items():
            self.changelog[partition] = self.changelog.get(partition, -1) + len(writes)
        return {partition: self.changelog[partition] for partition in batch}

    def write(self, partition: int, writes: Mapping[bytes, bytes | None], offset: int) -> None:
        for key, value in writes.items():
            if value is None:
                self.table.data.data.pop(key, None)
            else:
                self.table.data.data[key] = value


def make_worker(
    tmp_path: Path, policy_file: str, clock_now: list[datetime]
) -> tuple[Worker, list[Message]]:
    """A worker on in-memory tables whose clock reads clock_now[0], sends captured."""
    policy_path = Path(repo_root(), "deploy", "policy", policy_file)
    settings = EscalationSettings(app_id=f"agent-test-{uuid4().hex[:8]}", data_dir=tmp_path)
    kafka = KafkaSettings()
    store = PolicyStore(kafka, settings.policies_topic, load_policy(policy_path), "")
    worker = build_worker(settings, kafka, store, clock=lambda: clock_now[0])
    app = worker.app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.conf.store = "memory://"  # type: ignore[assignment]
    app.flow_control.resume()
    sends = CapturedSends()
    worker.send = sends
    worker.recent = NothingSentBefore()
    worker.case_store = MemoryCaseStore(worker.cases)
    worker.customer_store = MemoryCaseStore(worker.customer_cases)
    consumer: Any = app.consumer
    consumer.highwater = read_to_the_end(worker)
    consumer.end_taken_in = fetched_now_and_again()
    return worker, sends.sent


def fetched_now_and_again() -> Callable[[Any], int]:
    """Take-in times of fetch responses, a new one at every look and far past any clock a test
    sets: each partition's end is as fresh as the consumer's own (lag.EndTimes)."""
    looks = itertools.count(to_us(datetime(2100, 1, 1, tzinfo=UTC)) // 1000)
    return lambda tp: next(looks)


def read_to_the_end(worker: Worker, unread: int = 0) -> Callable[[Any], int]:
    """The consumer's partition ends as if every record the test put were the last one, or
    `unread` records more on the case-events partitions."""

    def highwater(tp: Any) -> int:
        if tp.topic == worker.settings.ticks_topic:
            applied = worker.tick_progress.get(tp.partition)
            return applied + 1 if applied is not None else 0
        done = worker.progress.get(tp.partition)
        return (done.offset + 1 if done else 0) + unread

    return highwater


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[tuple[Worker, list[Message]]]:
    yield make_worker(tmp_path, "fast.yaml", [DEFAULT_TIME])


async def put_tick(context: Any, worker: Worker, case_id: UUID) -> None:
    """Hand the agent a tick for the case, as if read from the ticks topic."""
    original = context.to_message

    def on_ticks_topic(*args: Any, **kwargs: Any) -> Any:
        message = original(*args, **kwargs)
        message.topic = worker.settings.ticks_topic
        message.tp = TP(message.topic, message.partition)
        return message

    context.to_message = on_ticks_topic
    try:
        await context.put(Tick(case_id, 0).encode(), key=str(case_id).encode())
    finally:
        context.to_message = original


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

    class Broken(CapturedSends):
        async def __call__(self, messages: Sequence[Message], wait_all: bool = False) -> None:
            raise RuntimeError("changelog topic has 0 partitions")

    good = escalation_worker.send
    escalation_worker.send = Broken()
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

    class Flaky(CapturedSends):
        """Sends whose acknowledgement fails twice (the producer timing out), then arrives."""

        async def pipelined(self, messages: Sequence[Message]) -> Awaitable[None] | None:
            if failures:
                error = failures.pop()

                async def unacknowledged() -> None:
                    raise error

                return unacknowledged()
            await captured.pipelined(messages)
            return None

    escalation_worker.send = Flaky()
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


async def test_the_next_record_does_not_wait_for_a_notice_ack_and_the_state_waits_for_it(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, sent = worker
    acks: list[asyncio.Future[None]] = []

    class SlowAcks(CapturedSends):
        """Notices the broker acknowledges only when the test says so."""

        async def pipelined(self, messages: Sequence[Message]) -> Awaitable[None] | None:
            sent.extend(messages)
            if not any(m.notice_id for m in messages):
                return None
            acks.append(asyncio.get_running_loop().create_future())
            return acks[-1]

    escalation_worker.send = SlowAcks()
    loud, quiet = uuid4(), uuid4()
    loud_key, quiet_key = str(loud).encode(), str(quiet).encode()
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        # A sensitive case escalates at once: its state waits for the notices' ack.
        opened = make_case_opened(case_id=loud, at=DEFAULT_TIME, sensitive=True)
        await context.put(dump(opened), key=loud_key)
        assert len(acks) == 1 and escalation_worker.cases.get(loud_key) is None
        # The next records are applied meanwhile: another case is stored with the next flush,
        # and a later event of the waiting case reads its pending state and queues behind it.
        await context.put(dump(make_case_opened(case_id=quiet, at=DEFAULT_TIME)), key=quiet_key)
        await until(lambda: escalation_worker.cases.get(quiet_key) is not None)
        ack = make_event("case_acknowledged", case_id=loud, at=DEFAULT_TIME)
        await context.put(dump(ack), key=loud_key)
        assert escalation_worker.cases.get(loud_key) is None
        assert escalation_worker.pipeline.has(loud_key)
        acks[0].set_result(None)
        await until(lambda: not escalation_worker.pipeline.has(loud_key))
        await until(lambda: escalation_worker.cases.get(loud_key) is not None)
    stored = escalation_worker.cases.get(loud_key)
    assert stored is not None and b"case_acknowledged" in stored, "the newest state, in order"
    assert len([e for e in escalations(sent) if e.payload.step == "tier_2"]) == 2


async def test_breaches_are_counted_at_the_target_in_and_out_of_special_periods(
    tmp_path: Path,
) -> None:
    # The production policy: P2 first response 4 h; in the 3.15 period 2 h, tier 1 at 90 min.
    special = datetime.fromisoformat("2025-03-15T10:00:00+08:00")
    clock = [DEFAULT_TIME]
    escalation_worker, sent = make_worker(tmp_path, "default.yaml", clock)
    cases = {"ordinary": (uuid4(), DEFAULT_TIME, 4), "special": (uuid4(), special, 2)}
    labels = {"milestone": "first_response", "priority": "P2"}
    before = sample("casegold_sla_breaches_total", **labels)
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        for case_id, opened_at, _ in cases.values():
            opening = make_case_opened(case_id=case_id, at=opened_at, priority="P2")
            await context.put(dump(opening), key=str(case_id).encode())
        counted = []
        for case_id, opened_at, breach_hours in cases.values():
            for minutes in (89, 91, breach_hours * 60 - 1, breach_hours * 60):
                clock[0] = opened_at + timedelta(minutes=minutes)
                await put_tick(context, escalation_worker, case_id)
                counted.append(sample("casegold_sla_breaches_total", **labels) - before)
    # Each case breaches once, at its target, not at its (special) tier 1 at 90 min.
    assert counted == [0, 0, 0, 1, 1, 1, 1, 2]
    special_steps = [e.payload.step for e in escalations(sent) if e.case_id == cases["special"][0]]
    assert special_steps[0] == "tier_1" and "warning" not in special_steps


async def test_fire_lag_is_observed_per_step_sent_as_the_clock_minus_due(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, _ = worker
    case_id = uuid4()
    before = sample("casegold_escalation_fire_lag_seconds_count")
    quick = sample("casegold_escalation_fire_lag_seconds_bucket", le="0.25")
    half = sample("casegold_escalation_fire_lag_seconds_bucket", le="0.5")
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        opening = make_case_opened(case_id=case_id, at=DEFAULT_TIME, priority="P1")
        await context.put(dump(opening), key=str(case_id).encode())
        # P1's warning is due 3 s in on the fast policy; the tick is applied 0.5 s after that.
        escalation_worker.clock = lambda: DEFAULT_TIME + timedelta(seconds=3.5)
        await put_tick(context, escalation_worker, case_id)
    assert sample("casegold_escalation_fire_lag_seconds_count") == before + 1
    # 0.5 s late: in the 0.5 bucket, not in the 0.25 one.
    assert sample("casegold_escalation_fire_lag_seconds_bucket", le="0.25") == quick
    assert sample("casegold_escalation_fire_lag_seconds_bucket", le="0.5") == half + 1


async def test_timers_pending_is_the_due_cases_not_yet_applied(
    worker: tuple[Worker, list[Message]], monkeypatch: pytest.MonkeyPatch
) -> None:
    escalation_worker, sent = worker
    escalation_worker.settings = escalation_worker.settings.model_copy(
        update={"wait_for_unread": False}
    )
    monkeypatch.setattr(escalation_worker, "assigned_partitions", lambda: {0})
    escalation_worker.indexed_partitions = {0}
    due, later = [str(uuid4()).encode() for _ in range(3)], str(uuid4()).encode()
    for key in due:
        escalation_worker.index.schedule(0, key, 1)
    escalation_worker.index.schedule(0, later, 2**62)
    assert await tick_once(escalation_worker) == 3
    assert sample("casegold_escalation_timers_pending") == 3
    # The agent applies one tick (it reschedules the case): two remain pending, not re-sent.
    escalation_worker.index.schedule(0, due[0], 2**62)
    assert await tick_once(escalation_worker) == 0
    assert sample("casegold_escalation_timers_pending") == 2
    assert len([m for m in sent if m.topic == escalation_worker.settings.ticks_topic]) == 3


async def test_a_step_due_after_the_last_fetch_response_waits_for_a_response_built_after_it(
    worker: tuple[Worker, list[Message]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The partition looks read to its end, but that end came in a response taken in before the
    # step was due: an acknowledgement appended since is not in it, and may cancel the step.
    escalation_worker, sent = worker
    monkeypatch.setattr(escalation_worker, "assigned_partitions", lambda: {0})
    escalation_worker.indexed_partitions = {0}
    due = DEFAULT_TIME + timedelta(seconds=10)
    key = str(uuid4()).encode()
    escalation_worker.index.schedule(0, key, to_us(due))
    escalation_worker.progress[0] = Progress(9, to_us(DEFAULT_TIME))  # read to the end (10)
    escalation_worker.clock = lambda: due + timedelta(seconds=5)
    early, late = due - timedelta(seconds=1), due + timedelta(seconds=0.5)
    responses = [early, early, late]
    taken_in = iter([int(r.timestamp() * 1000) for r in responses])
    consumer: Any = escalation_worker.app.consumer
    consumer.end_taken_in = lambda tp: next(taken_in)
    for _ in responses:
        assert await tick_once(escalation_worker) == 0, "judged on an end older than the step"
    assert escalation_worker.index.held(to_us(due) + 1, {0: to_us(due)}) == 1
    # A response taken in after the one taken in past the due instant: built after it.
    consumer.end_taken_in = lambda tp: int((due + timedelta(seconds=1)).timestamp() * 1000)
    assert await tick_once(escalation_worker) == 1
    assert [m.key for m in sent if m.topic == escalation_worker.settings.ticks_topic] == [key]


async def test_the_collector_is_tuned_once_when_the_worker_is_first_ready(
    worker: tuple[Worker, list[Message]], monkeypatch: pytest.MonkeyPatch
) -> None:
    escalation_worker, _ = worker
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "set_threshold", lambda *t: calls.append(f"threshold {t}"))
    monkeypatch.setattr(escalation_worker, "assigned_partitions", lambda: {0})
    escalation_worker.indexed_partitions = {0}
    escalation_worker.app.in_recovery = True
    escalation_worker.tune_gc = True
    await tick_once(escalation_worker)
    assert calls == []  # not while the tables recover: what they load is not made yet
    escalation_worker.app.in_recovery = False
    await tick_once(escalation_worker)
    await tick_once(escalation_worker)
    assert calls == ["freeze", f"threshold {GC_THRESHOLDS}"]
    # A worker built in a test process (no tune_gc) leaves the interpreter's collector alone.
    escalation_worker.tune_gc = False
    await tick_once(escalation_worker)
    assert len(calls) == 2


PHONE, MASKED = "+8613912345678", "+*********5678"


async def test_an_undecodable_event_is_logged_with_phones_masked(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, _ = worker
    agent = escalation_worker.app.agents["cases"]
    unknown = json.dumps({"type": f"call {PHONE}", "schema_version": 1}).encode()
    with capture_logs() as logs:
        async with agent.test_context() as context:
            await context.put(unknown, key=str(uuid4()).encode())
    [entry] = [e for e in logs if e["event"] == "undecodable case event"]
    assert PHONE not in str(entry) and MASKED in entry["detail"]


async def test_poison_and_retried_messages_are_logged_with_phones_masked(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, _ = worker
    attempts: list[int] = []

    async def poison() -> None:
        raise ValueError(f"1 validation error: input_value='{PHONE}'")

    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError(f"lookup of {PHONE} timed out")

    with capture_logs() as logs:
        await guarded(escalation_worker, "cases", poison, offset=1)
        await guarded(escalation_worker, "cases", flaky, offset=2)
    logged = [e for e in logs if e["event"] in ("poison message skipped", "retrying message")]
    assert [e["event"] for e in logged] == ["poison message skipped", "retrying message"]
    assert all(PHONE not in str(e) and MASKED in e["error"] for e in logged), logged


async def test_a_case_whose_policy_version_cannot_be_read_yet_is_retried_not_skipped(
    worker: tuple[Worker, list[Message]],
) -> None:
    escalation_worker, sent = worker
    registry = escalation_worker.policies.registry
    frozen = registry.current
    case_id = uuid4()
    key = str(case_id).encode()
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        await context.put(dump(make_case_opened(case_id=case_id, at=DEFAULT_TIME)), key=key)
        await until(lambda: escalation_worker.cases.get(key) is not None)
        opened_state = escalation_worker.cases.get(key)
        # Another policy is current now and the case's version is not held: as on a worker
        # started after another one published the version the case was frozen under.
        other = load_policy(Path(repo_root(), "deploy", "policy", "default.yaml"))
        registry.add(other, make_current=True)
        del registry._sets[frozen.version]
        refreshes: list[str] = []

        async def refresh() -> int:
            refreshes.append("read")
            if len(refreshes) == 1:
                raise ConnectionError("broker away")  # the policies topic unreadable
            if len(refreshes) >= 3:
                registry.add(frozen)  # the version arrives on the third read
            return 1

        escalation_worker.policies.refresh = refresh  # type: ignore[method-assign]
        retried = sample("casegold_escalation_retries_total", stage="cases")
        skipped = sample("casegold_escalation_failures_total", stage="cases")
        ack = make_event("case_acknowledged", case_id=case_id, at=DEFAULT_TIME)
        await context.put(dump(ack), key=key)
        await until(lambda: escalation_worker.cases.get(key) != opened_state)
    assert len(refreshes) == 3
    assert sample("casegold_escalation_retries_total", stage="cases") == retried + 2
    assert sample("casegold_escalation_failures_total", stage="cases") == skipped, "not poison"
    assert not [e for e in escalations(sent) if e.case_id == case_id]


async def test_a_tick_applied_behind_unread_events_fires_only_what_was_due_before_them(
    worker: tuple[Worker, list[Message]],
) -> None:
    # A tick sent before a restart, applied after it while the case's acknowledgement (accepted
    # before tier 1 was due) is still unread: it must not fire past that acknowledgement.
    escalation_worker, sent = worker
    case_id = uuid4()
    key = str(case_id).encode()
    agent = escalation_worker.app.agents["cases"]
    async with agent.test_context() as context:
        opening = make_case_opened(case_id=case_id, at=DEFAULT_TIME, priority="P1")
        # Read at the broker's 3.5 s: P1's warning (3 s) was due before it, tier 1 (4 s) not.
        accepted = (DEFAULT_TIME + timedelta(seconds=3.5)).timestamp()
        await context.put(dump(opening), key=key, timestamp=accepted)
        consumer: Any = escalation_worker.app.consumer
        consumer.highwater = read_to_the_end(escalation_worker, unread=1)
        escalation_worker.clock = lambda: DEFAULT_TIME + timedelta(seconds=9)
        await put_tick(context, escalation_worker, case_id)
        steps = [e.payload.step for e in escalations(sent) if e.case_id == case_id]
        assert steps == ["warning"], "only the step due before the unread record fired"
        assert escalation_worker.index.due_of(key) == to_us(DEFAULT_TIME + timedelta(seconds=4))
        # Nothing of the partition read since the assignment: nothing fires, the case waits.
        escalation_worker.progress.clear()
        await put_tick(context, escalation_worker, case_id)
        assert [e.payload.step for e in escalations(sent) if e.case_id == case_id] == steps
        # Read to the end: what is due at the clock fires.
        consumer.highwater = read_to_the_end(escalation_worker)
        await put_tick(context, escalation_worker, case_id)
    fired = [e.payload.step for e in escalations(sent) if e.case_id == case_id]
    assert fired[:2] == ["warning", "tier_1"]


async def test_no_partition_is_sought_back_while_the_agent_s_feed_holds_fetched_records(
    worker: tuple[Worker, list[Message]], monkeypatch: pytest.MonkeyPatch
) -> None:
    escalation_worker, _ = worker
    settings = escalation_worker.settings
    consumer: Any = escalation_worker.app.consumer
    sought: list[dict[Any, int]] = []

    async def seek_wait(partitions: dict[Any, int]) -> None:
        sought.append(dict(partitions))

    monkeypatch.setattr(consumer, "seek_wait", seek_wait)
    monkeypatch.setattr(consumer, "highwater", lambda tp: 50)  # records past the commit
    escalation_worker.indexed_partitions = {0}
    consumer._committed_offset[TP(settings.case_events_topic, 0)] = 10
    escalation_worker.stalls = StallWatch(0.0)
    feed = escalation_worker.feeds["cases"]
    feed.queue.put_nowait([object()])  # a fetch waiting for the agent
    for _ in range(2):
        await reseek_stalled(escalation_worker)
    assert sought == [] and escalation_worker.stalls.behind == {}
    feed.queue.get_nowait()  # the agent keeps up again: the partition is judged
    for _ in range(2):
        await reseek_stalled(escalation_worker)
    assert sought and sought[0][TP(settings.case_events_topic, 0)] == 10
