"""A broker killed with SIGKILL and started again keeps every acknowledged write and offset.

The test runs its own scratch broker (same script, other ports, a temporary data directory),
so the shared broker other tests use is never interrupted.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics
from casegold_platform.settings import KafkaSettings
from tests.conftest import repo_root
from tests.integration.test_kafka_roundtrip import consume

pytestmark = pytest.mark.integration

KAFKA_SH = os.path.join(repo_root(), "deploy", "kafka", "kafka.sh")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ScratchBroker:
    """A second local broker driven through deploy/kafka/kafka.sh."""

    bootstrap: str
    env: dict[str, str]

    def run(self, command: str) -> str:
        done = subprocess.run(
            [KAFKA_SH, command], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"kafka.sh {command} failed:\n{done.stderr}"
        return done.stdout.strip()

    def kill_hard(self) -> None:
        pid = int(self.run("pid"))
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < deadline, "broker survived SIGKILL"
            time.sleep(0.05)


@pytest.fixture
def scratch_broker(tmp_path: Path) -> Iterator[ScratchBroker]:
    port = free_port()
    env = dict(
        os.environ,
        CASEGOLD_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}",
        CASEGOLD_KAFKA_CONTROLLER_PORT=str(free_port()),
        CASEGOLD_VAR_DIR=str(tmp_path),
        CASEGOLD_KAFKA_HEAP="384m",
    )
    broker = ScratchBroker(f"127.0.0.1:{port}", env)
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


async def test_sigkill_and_restart_keeps_acknowledged_writes_and_offsets(
    scratch_broker: ScratchBroker, unique: str
) -> None:
    settings = KafkaSettings(bootstrap=scratch_broker.bootstrap)
    topic = f"test.durable.{unique}"
    group = f"group-{unique}"
    await ensure_topics(settings.bootstrap, [TopicSpec(topic, partitions=2)])
    producer = durable_producer(settings)
    await producer.start()
    try:
        for i in range(200):
            await producer.send_and_wait(topic, key=f"k{i % 7}".encode(), value=f"v{i}".encode())
    finally:
        await producer.stop()
    first = await consume(settings.bootstrap, topic, group, 120, timeout=30)
    assert len(first) >= 120

    scratch_broker.kill_hard()
    scratch_broker.run("start")

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        committed = [await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)]
        consumer.assign([TopicPartition(topic, p) for p in (0, 1)])
        await consumer.seek_to_beginning()
        everything: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(everything) < 200:
            assert time.monotonic() < deadline, f"only {len(everything)} of 200 survived"
            batch = await consumer.getmany(timeout_ms=500)
            everything.extend(m.value for messages in batch.values() for m in messages if m.value)
    finally:
        await consumer.stop()
    assert sorted(everything) == sorted(f"v{i}".encode() for i in range(200))
    assert sum(c or 0 for c in committed) == len(first)
