"""Escalation workers as real processes, and a reader of what they send, for integration tests."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_contracts import ESCALATIONS, EscalationRaised, Event, dump, message_key, parse
from casegold_contracts.topics import CASE_EVENTS
from casegold_platform.kafka import ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_platform.topics import platform_topics
from tests.support import repo_root
from tests.support.brokers import free_port
from tests.support.processes import ModuleProcess
from tests.support.processes import publish as publish_records
from tests.support.processes import skip_history as skip_topic_history

FAST_POLICY = os.path.join(repo_root(), "deploy", "policy", "fast.yaml")


@dataclass(frozen=True)
class WorkerTopics:
    """The topics a worker reads events from and sends escalations to."""

    case_events: str = CASE_EVENTS
    escalations: str = ESCALATIONS

    @classmethod
    def own(cls, app_id: str) -> WorkerTopics:
        """Topics of one test's own: no other worker on the broker reads or writes them."""
        return cls(f"{app_id}.case-events", f"{app_id}.escalations")

    async def create(self, kafka: KafkaSettings, *, create_times: bool = False) -> None:
        """Create both, laid out like the contract's topics. `create_times`: case events keep the
        producer's timestamps, for a test that stamps records as accepted at chosen instants (a
        worker started later converts the topic, decision 0142; records already there keep
        their stamps)."""
        specs = [
            replace(s, name=n) for s, n in zip(platform_topics(kafka), self.names, strict=True)
        ]
        if create_times:
            configs = [c for c in specs[0].configs if c[0] != "message.timestamp.type"]
            specs[0] = replace(
                specs[0], configs=(*configs, ("message.timestamp.type", "CreateTime"))
            )
        await ensure_topics(kafka.bootstrap, specs)

    @property
    def names(self) -> tuple[str, str]:
        return self.case_events, self.escalations


@dataclass
class EscalationProcess(ModuleProcess):
    """One `python -m casegold_escalation` process."""

    app_id: str
    worker_name: str
    data_dir: Path
    policy_file: str = FAST_POLICY
    port: int = field(default_factory=free_port)
    topics: WorkerTopics = field(default_factory=WorkerTopics)

    def __post_init__(self) -> None:
        super().__init__("casegold_escalation", self.data_dir / f"{self.worker_name}.log")

    def start(self, env: Mapping[str, str] | None = None) -> None:
        super().start(
            {
                "CASEGOLD_POLICY_FILE": self.policy_file,
                "CASEGOLD_ESCALATION_APP_ID": self.app_id,
                "CASEGOLD_ESCALATION_WORKER_NAME": self.worker_name,
                "CASEGOLD_ESCALATION_PORT": str(self.port),
                "CASEGOLD_ESCALATION_DATA_DIR": str(self.data_dir),
                "CASEGOLD_ESCALATION_CASE_EVENTS_TOPIC": self.topics.case_events,
                "CASEGOLD_ESCALATION_ESCALATIONS_TOPIC": self.topics.escalations,
                **(env or {}),
            }
        )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Block until /readyz answers 200; returns the wall-clock time it did."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            assert self.alive(), f"worker {self.worker_name} exited:\n{self.log_tail()}"
            assert time.monotonic() < deadline, f"worker not ready:\n{self.log_tail()}"
            time.sleep(0.2)
        return time.time()

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def stop(self, grace: float = 60.0) -> None:
        """SIGTERM (graceful), then SIGKILL after `grace` seconds."""
        self.shutdown(grace)


@contextmanager
def logs_on_failure(*workers: EscalationProcess, lines: int = 60) -> Iterator[None]:
    """Attach the workers' last log lines to a failing assertion (CI keeps only pytest output)."""
    try:
        yield
    except AssertionError as failure:
        tails = "\n".join(
            f"--- {w.worker_name} ({w.log_path}) ---\n{w.log_tail(lines)}" for w in workers
        )
        raise AssertionError(f"{failure}\n{tails}") from failure


async def skip_history(kafka: KafkaSettings, app_id: str) -> None:
    """Make a new worker group start at the end of complaints.case-events (see processes)."""
    await skip_topic_history(kafka, app_id, CASE_EVENTS)


async def publish(
    kafka: KafkaSettings,
    events: Iterable[Event | tuple[bytes, bytes]],
    topic: str = CASE_EVENTS,
) -> None:
    """Append events (or raw key/value pairs) to the case events topic, acks=all, in order."""
    records = (e if isinstance(e, tuple) else (message_key(e), dump(e)) for e in events)
    await publish_records(kafka, topic, records)


class EscalationReader:
    """Reads the escalations topic from the offsets it found when opened."""

    def __init__(self, kafka: KafkaSettings, topic: str = ESCALATIONS) -> None:
        self.kafka = kafka
        self.topic = topic
        self.consumer: AIOKafkaConsumer | None = None
        self.received: list[tuple[float, EscalationRaised]] = []

    async def __aenter__(self) -> EscalationReader:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        partitions = [TopicPartition(self.topic, p) for p in range(self.kafka.partitions)]
        consumer.assign(partitions)
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)
        self.consumer = consumer
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def read_until(
        self,
        done: Callable[[list[EscalationRaised]], bool],
        timeout: float,
        cases: set[UUID] | None = None,
    ) -> list[EscalationRaised]:
        """Collect escalations (of the given cases) until done(all so far) or fail at timeout."""
        assert self.consumer is not None
        deadline = time.monotonic() + timeout
        while True:
            mine = [e for _, e in self.received if cases is None or e.case_id in cases]
            if done(mine):
                return mine
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out with {len(mine)} escalations"
            batch = await self.consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            arrived = time.time()
            for messages in batch.values():
                for message in messages:
                    event = parse(message.value or b"")
                    if isinstance(event, EscalationRaised):
                        self.received.append((arrived, event))
            await asyncio.sleep(0)
