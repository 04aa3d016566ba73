"""Escalation workers as real processes, and a reader of what they send, for integration tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_contracts import ESCALATIONS, EscalationRaised, Event, dump, message_key, parse
from casegold_contracts.topics import CASE_EVENTS
from casegold_platform.kafka import durable_producer
from casegold_platform.settings import KafkaSettings
from tests.support import repo_root
from tests.support.brokers import free_port

FAST_POLICY = os.path.join(repo_root(), "deploy", "policy", "fast.yaml")


@dataclass
class EscalationProcess:
    """One `python -m casegold_escalation` process."""

    app_id: str
    worker_name: str
    data_dir: Path
    policy_file: str = FAST_POLICY
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.worker_name}.log"

    def start(self) -> None:
        env = dict(
            os.environ,
            CASEGOLD_POLICY_FILE=self.policy_file,
            CASEGOLD_ESCALATION_APP_ID=self.app_id,
            CASEGOLD_ESCALATION_WORKER_NAME=self.worker_name,
            CASEGOLD_ESCALATION_PORT=str(self.port),
            CASEGOLD_ESCALATION_DATA_DIR=str(self.data_dir),
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "casegold_escalation"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

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
            assert self.process is not None and self.process.poll() is None, (
                f"worker {self.worker_name} exited:\n{self.log_tail()}"
            )
            assert time.monotonic() < deadline, f"worker not ready:\n{self.log_tail()}"
            time.sleep(0.2)
        return time.time()

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def kill_hard(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 60 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


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
    """Commit the group's offsets at the end of complaints.case-events before its first start.

    A new group reads the topic from the beginning; in tests that would replay every earlier
    test's cases. Committing the current end makes the worker see only what the test posts.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id=app_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(CASE_EVENTS, p) for p in range(kafka.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


async def publish(kafka: KafkaSettings, events: Iterable[Event | tuple[bytes, bytes]]) -> None:
    """Append events (or raw key/value pairs) to complaints.case-events, acks=all, in order."""
    producer = durable_producer(kafka)
    await producer.start()
    try:
        for event in events:
            key, value = event if isinstance(event, tuple) else (message_key(event), dump(event))
            await producer.send_and_wait(CASE_EVENTS, key=key, value=value)
    finally:
        await producer.stop()


class EscalationReader:
    """Reads complaints.escalations from the offsets it found when opened."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.consumer: AIOKafkaConsumer | None = None
        self.received: list[tuple[float, EscalationRaised]] = []

    async def __aenter__(self) -> EscalationReader:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        partitions = [TopicPartition(ESCALATIONS, p) for p in range(self.kafka.partitions)]
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
