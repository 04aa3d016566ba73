"""A second, scratch Kafka broker for tests that stop, kill or restart a broker.

It runs through the same deploy/kafka/kafka.sh as the shared broker, on free ports with its own
data directory, so the shared broker other tests use is never interrupted.
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

from tests.support import repo_root

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

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        """A clean stop (SIGTERM, controlled shutdown)."""
        self.run("stop")

    def kill_hard(self) -> None:
        pid = int(self.run("pid"))
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < deadline, "broker survived SIGKILL"
            time.sleep(0.05)


@pytest.fixture
def scratch_broker(tmp_path: Path) -> Iterator[ScratchBroker]:
    """A broker of the test's own, on free ports, stopped at the end of the test."""
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
