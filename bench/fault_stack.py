"""Every Casegold service as a real process on one broker and one database, for journeys and faults.

The five services run as `python -m <module>` on free ports with the dev keys, the given policy,
and the contract's topic names: the broker is expected to be a broker of the run's own (a scratch
broker), because the notifier reads `complaints.escalations` and its topic cannot be moved.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.support.brokers import free_port
from tests.support.notifier import TEST_SETTINGS as NOTIFIER_TEST_SETTINGS
from tests.support.processes import ModuleProcess

# The audiences of SPEC §3; each gets one signed webhook recipient on the run's receiver.
AUDIENCES = (
    "owner",
    "team_lead",
    "department_manager",
    "director",
    "pr_legal",
    "dealer_management",
)
PARTS = ("intake", "escalation", "notifier", "followup", "reporting")


@dataclass
class Service(ModuleProcess):
    """One service process: its module, its environment prefix and its port."""

    part: str
    prefix: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    module_name: str = ""
    stopped: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.module_name, self.log_dir / f"{self.part}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Start (or start again) with the same settings and port."""
        self.start({**self.env, f"{self.prefix}PORT": str(self.port)})
        self.stopped = False

    def pause(self) -> None:
        """SIGSTOP the process group: it holds its sockets and answers nothing."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        """SIGCONT after pause()."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)
        self.stopped = False

    async def ready(self, client: httpx.AsyncClient) -> bool:
        try:
            return (await client.get(f"{self.url}/readyz", timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_ready(self, timeout: float = 120.0) -> None:
        """Return once /readyz answers 200; fail with the log tail if the process died."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while not await self.ready(client):
                assert self.alive(), f"{self.part} exited:\n{self.log_tail()}"
                assert time.monotonic() < deadline, f"{self.part} not ready:\n{self.log_tail()}"
                await asyncio.sleep(0.2)

    async def metrics(self) -> str:
        """The /metrics text."""
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{self.url}/metrics", timeout=10)).text

    async def stop(self, grace: float = 20.0) -> None:
        """SIGCONT if paused, then SIGTERM, then SIGKILL after `grace` seconds."""
        if self.stopped and self.alive():
            self.resume()
        await asyncio.to_thread(self.shutdown, grace)


def recipients(receiver_url: str, secret: str) -> dict[str, list[dict[str, object]]]:
    """One webhook recipient per audience, each on its own path of the receiver."""
    return {
        audience: [
            {"name": audience, "webhook": {"url": f"{receiver_url}/{audience}", "secret": secret}}
        ]
        for audience in AUDIENCES
    }


@dataclass
class Stack:
    """The five services of one run, on one broker, database, policy and receiver."""

    bootstrap: str
    dsn: str
    policy_file: str
    folder: Path
    receiver_url: str
    secret: str
    partitions: int = 3
    run_id: str = "run"
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        book = self.folder / "recipients.yaml"
        book.write_text(
            yaml.safe_dump({"recipients": recipients(self.receiver_url, self.secret)}),
            encoding="utf-8",
        )
        common = {
            "CASEGOLD_KAFKA_BOOTSTRAP": self.bootstrap,
            "CASEGOLD_KAFKA_PARTITIONS": str(self.partitions),
            "CASEGOLD_PG_DSN": self.dsn,
            "CASEGOLD_POLICY_FILE": self.policy_file,
            "CASEGOLD_REPORTING_URL": "http://127.0.0.1:8084",
        }
        own = {
            "intake": ("casegold_intake", "CASEGOLD_INTAKE_", {"CASEGOLD_INTAKE_DEV_KEYS": "true"}),
            "escalation": (
                "casegold_escalation",
                "CASEGOLD_ESCALATION_",
                {
                    "CASEGOLD_ESCALATION_APP_ID": f"rel-{self.run_id}",
                    "CASEGOLD_ESCALATION_WORKER_NAME": "w1",
                    "CASEGOLD_ESCALATION_DATA_DIR": str(self.folder / "escalation"),
                },
            ),
            "notifier": (
                "casegold_notifier",
                "CASEGOLD_NOTIFIER_",
                {
                    **NOTIFIER_TEST_SETTINGS,
                    "CASEGOLD_NOTIFIER_GROUP_ID": f"rel-notifier-{self.run_id}",
                    "CASEGOLD_NOTIFIER_WORKER_NAME": "n1",
                    "CASEGOLD_NOTIFIER_RECIPIENTS_FILE": str(book),
                    # A notice held up by a fault is still worth sending in a test run.
                    "CASEGOLD_NOTIFIER_MAX_ATTEMPTS": "20",
                },
            ),
            "followup": (
                "casegold_followup",
                "CASEGOLD_FOLLOWUP_",
                {
                    "CASEGOLD_FOLLOWUP_DEV_KEYS": "true",
                    "CASEGOLD_FOLLOWUP_GROUP_ID": f"rel-followup-{self.run_id}",
                    "CASEGOLD_FOLLOWUP_PROMOTE_INTERVAL_SECONDS": "0.2",
                    "CASEGOLD_FOLLOWUP_EXPIRE_INTERVAL_SECONDS": "0.2",
                },
            ),
            "reporting": (
                "casegold_reporting",
                "CASEGOLD_REPORTING_",
                {
                    "CASEGOLD_REPORTING_DEV_KEYS": "true",
                    "CASEGOLD_REPORTING_METRICS_REFRESH_SECONDS": "0.2",
                },
            ),
        }
        for part, (module, prefix, env) in own.items():
            self.services[part] = Service(
                part=part,
                prefix=prefix,
                env={**common, **env, **self.overrides.get(part, {})},
                log_dir=self.folder,
                module_name=module,
            )

    def __getitem__(self, part: str) -> Service:
        return self.services[part]

    def url(self, part: str) -> str:
        return self.services[part].url

    async def start(self) -> None:
        """Start every service and wait until each is ready."""
        for service in self.services.values():
            service.launch()
        for service in self.services.values():
            await service.wait_ready()

    async def stop(self) -> None:
        """Stop every service that still runs (graceful first)."""
        await asyncio.gather(*(s.stop() for s in self.services.values()))

    def log_tails(self, lines: int = 30) -> str:
        """The last lines of every service's log, for a failing assertion."""
        return "\n".join(
            f"--- {s.part} ({s.log_path}) ---\n{s.log_tail(lines)}" for s in self.services.values()
        )
