"""Integration-test harness: notifier processes on the real broker and database, and a publisher."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_contracts import ESCALATIONS, EscalationRaised, dump, message_key
from casegold_escalation.notifier.testing import free_port
from casegold_platform.kafka import durable_producer
from casegold_platform.settings import KafkaSettings

# Fast enough for tests, and a lease that lapses soon after a kill -9.
TEST_SETTINGS: Mapping[str, str] = {
    "CASEGOLD_NOTIFIER_ATTEMPT_TIMEOUT_SECONDS": "2",
    "CASEGOLD_NOTIFIER_CLAIM_LEASE_SECONDS": "7",
    "CASEGOLD_NOTIFIER_BACKOFF_BASE_SECONDS": "0.2",
    "CASEGOLD_NOTIFIER_BACKOFF_CAP_SECONDS": "0.5",
    "CASEGOLD_NOTIFIER_MAX_ATTEMPTS": "3",
    "CASEGOLD_NOTIFIER_POLL_INTERVAL_SECONDS": "0.2",
    "CASEGOLD_NOTIFIER_SHUTDOWN_GRACE_SECONDS": "5",
}


@dataclass
class NotifierProcess:
    """One `python -m casegold_escalation.notifier` process."""

    name: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"notifier-{self.name}.log"

    def start(self) -> None:
        """Start the process (its log goes to `log_path`)."""
        env = {
            **os.environ,
            **TEST_SETTINGS,
            **self.env,
            "CASEGOLD_NOTIFIER_PORT": str(self.port),
            "CASEGOLD_NOTIFIER_WORKER_NAME": self.name,
        }
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "casegold_escalation.notifier"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once /readyz answers 200; fail with the log tail if the process died."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                assert self.process is not None and self.process.poll() is None, (
                    f"notifier {self.name} exited:\n{self.log_tail()}"
                )
                try:
                    response = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"notifier not ready:\n{self.log_tail()}"
                await asyncio.sleep(0.1)

    async def metrics(self) -> str:
        """The /metrics text."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            return (await client.get(f"http://127.0.0.1:{self.port}/metrics")).text

    def kill_hard(self) -> None:
        """SIGKILL the process group: no shutdown code runs."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        """SIGTERM: the graceful shutdown."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s; meanwhile the event loop (a receiver) keeps running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.kill_hard()


async def skip_history(kafka: KafkaSettings, group_id: str) -> None:
    """Commit the group's offsets at the end of complaints.escalations before its first start.

    A new group reads from the beginning; in tests that would deliver every earlier test's
    notices. Committing the current end makes the notifier see only what the test publishes.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(ESCALATIONS, p) for p in range(kafka.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def publish(kafka: KafkaSettings, events: Iterable[EscalationRaised | bytes]) -> float:
    """Append escalations (or raw bytes) to complaints.escalations; returns when acknowledged."""
    producer = durable_producer(kafka)
    await producer.start()
    try:
        for event in events:
            if isinstance(event, bytes):
                await producer.send_and_wait(ESCALATIONS, key=b"poison", value=event)
            else:
                await producer.send_and_wait(ESCALATIONS, key=message_key(event), value=dump(event))
    finally:
        await producer.stop()
    return time.time()


def recipients_file(path: Path, recipients: Mapping[str, list[dict[str, object]]]) -> Path:
    """Write a recipients override file (CASEGOLD_NOTIFIER_RECIPIENTS_FILE) and return its path."""
    path.write_text(yaml.safe_dump({"recipients": dict(recipients)}), encoding="utf-8")
    return path
