"""Integration-test harness: notifier processes on the real broker and database, and a publisher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from casegold_contracts import ESCALATIONS, EscalationRaised, dump, message_key
from casegold_platform.settings import KafkaSettings
from tests.support.brokers import free_port
from tests.support.processes import ModuleProcess
from tests.support.processes import publish as publish_records
from tests.support.processes import skip_history as skip_topic_history

# Fast enough for tests, and a lease that lapses soon after a kill -9.
TEST_SETTINGS: Mapping[str, str] = {
    "CASEGOLD_NOTIFIER_ATTEMPT_TIMEOUT_SECONDS": "2",
    "CASEGOLD_NOTIFIER_CLAIM_LEASE_SECONDS": "7",
    "CASEGOLD_NOTIFIER_BACKOFF_BASE_SECONDS": "0.2",
    "CASEGOLD_NOTIFIER_BACKOFF_CAP_SECONDS": "0.5",
    "CASEGOLD_NOTIFIER_MAX_ATTEMPTS": "3",
    "CASEGOLD_NOTIFIER_POLL_INTERVAL_SECONDS": "0.2",
    "CASEGOLD_NOTIFIER_SHUTDOWN_GRACE_SECONDS": "5",
    "CASEGOLD_NOTIFIER_LAG_INTERVAL_SECONDS": "0.5",
}


@dataclass
class NotifierProcess(ModuleProcess):
    """One `python -m casegold_notifier` process."""

    name: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        super().__init__("casegold_notifier", self.log_dir / f"notifier-{self.name}.log")

    def start(self, env: Mapping[str, str] | None = None) -> None:
        """Start the process (its log goes to `log_path`)."""
        super().start(
            {
                **TEST_SETTINGS,
                **self.env,
                "CASEGOLD_NOTIFIER_PORT": str(self.port),
                "CASEGOLD_NOTIFIER_WORKER_NAME": self.name,
                **(env or {}),
            }
        )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once /readyz answers 200; fail with the log tail if the process died."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                assert self.alive(), f"notifier {self.name} exited:\n{self.log_tail()}"
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

    async def stop(self, grace: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `grace` s; meanwhile the event loop (a receiver) runs on."""
        await asyncio.to_thread(self.shutdown, grace)


async def skip_history(kafka: KafkaSettings, group_id: str) -> None:
    """Make a new notifier group start at the end of complaints.escalations (see processes)."""
    await skip_topic_history(kafka, group_id, ESCALATIONS)


async def publish(kafka: KafkaSettings, events: Iterable[EscalationRaised | bytes]) -> float:
    """Append escalations (or raw bytes) to complaints.escalations; returns when acknowledged."""
    records = (
        (b"poison", e) if isinstance(e, bytes) else (message_key(e), dump(e)) for e in events
    )
    await publish_records(kafka, ESCALATIONS, records)
    return time.time()


def recipients_file(path: Path, recipients: Mapping[str, list[dict[str, object]]]) -> Path:
    """Write a recipients override file (CASEGOLD_NOTIFIER_RECIPIENTS_FILE) and return its path."""
    path.write_text(yaml.safe_dump({"recipients": dict(recipients)}), encoding="utf-8")
    return path
