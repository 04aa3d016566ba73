"""What every service run as a real process in tests shares: start, log, kill, stop; and the
Kafka chores of their tests (a group that skips earlier tests' history, an acks=all publisher).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_platform.kafka import durable_producer
from casegold_platform.settings import KafkaSettings


class ModuleProcess:
    """`python -m <module>` in its own session (so a kill reaches its children), output to a log."""

    def __init__(self, module: str, log_path: Path) -> None:
        self.module = module
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill_hard(self) -> None:
        """SIGKILL the process group: no shutdown code runs."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        """SIGTERM: the graceful shutdown."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)

    def shutdown(self, grace: float) -> None:
        """SIGTERM, then SIGKILL if the process is still there after `grace` seconds."""
        if not self.alive():
            return
        self.terminate()
        assert self.process is not None
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill_hard()


async def skip_history(kafka: KafkaSettings, group_id: str, topic: str) -> None:
    """Commit the group's offsets at the end of the topic before the group's first start.

    A new group reads from the beginning; in tests that would replay every earlier test's
    messages. Committing the current end makes the service see only what the test sends.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        consumer.assign(partitions)
        await consumer.commit(dict(await consumer.end_offsets(partitions)))
    finally:
        await consumer.stop()


async def publish(kafka: KafkaSettings, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Append key/value records to the topic, acks=all, one at a time and in order."""
    producer = durable_producer(kafka)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()
