"""Every service of the stack as a real process on free ports and topics of one test's own.

Intake, follow-up and reporting read and write a case-events topic of the test; the worker
reads it and sends to complaints.escalations, which the notifier reads (its topic is not a
setting) from the end it had when the test began. Reporting reads escalations from an empty
topic of the test, so that it does not project the shared topic's history.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from casegold_contracts import ESCALATIONS
from casegold_platform.kafka import ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_platform.topics import platform_topics
from tests.support import repo_root
from tests.support.brokers import free_port
from tests.support.escalation import EscalationProcess, WorkerTopics
from tests.support.notifier import NotifierProcess
from tests.support.notifier import skip_history as skip_notifier_history
from tests.support.processes import ModuleProcess
from tools.demo.stack import Endpoints

DEMO_POLICY = str(Path(repo_root()) / "deploy" / "policy" / "demo.yaml")


class ServiceProcess(ModuleProcess):
    """`python -m <module>` of an HTTP service on a free port, with the dev keys."""

    def __init__(self, module: str, prefix: str, log_dir: Path, env: dict[str, str]) -> None:
        super().__init__(module, log_dir / f"{module}.log")
        self.port = free_port()
        self.env = {f"{prefix}PORT": str(self.port), f"{prefix}DEV_KEYS": "true", **env}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.alive(), f"{self.module} exited:\n{self.log_tail()}"
            assert time.monotonic() < deadline, f"{self.module} not ready:\n{self.log_tail()}"
            time.sleep(0.2)


def sink_recipients(path: Path, sink_http_port: int) -> Path:
    """The demo policy's recipients section, aimed at a sink on another port."""
    text = Path(DEMO_POLICY).read_text(encoding="utf-8")
    section = text[text.index("\nrecipients:") :]
    path.write_text(section.replace("127.0.0.1:8180", f"127.0.0.1:{sink_http_port}"))
    return path


@dataclass
class LiveStack:
    """The five services of one test, started and stopped together."""

    folder: Path
    dsn: str
    unique: str
    kafka: KafkaSettings
    sink_http_port: int
    sink_smtp_port: int
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    worker: EscalationProcess | None = None
    notifier: NotifierProcess | None = None

    @property
    def case_events(self) -> str:
        return f"test.ops.{self.unique}.case-events"

    async def start(self) -> None:
        """Create the test's topics, start every service, return once each is ready."""
        own_escalations = f"test.ops.{self.unique}.escalations"
        layout = platform_topics(self.kafka)
        await ensure_topics(
            self.kafka.bootstrap,
            [replace(layout[0], name=self.case_events), replace(layout[1], name=own_escalations)],
        )
        common = {"CASEGOLD_PG_DSN": self.dsn, "CASEGOLD_POLICY_FILE": DEMO_POLICY}
        for name, module, prefix, env in (
            ("intake", "casegold_intake", "CASEGOLD_INTAKE_", {"TOPIC": self.case_events}),
            (
                "followup",
                "casegold_followup",
                "CASEGOLD_FOLLOWUP_",
                {"TOPIC": self.case_events, "GROUP_ID": f"ops-followup-{self.unique}"},
            ),
            (
                "reporting",
                "casegold_reporting",
                "CASEGOLD_REPORTING_",
                {"CASE_EVENTS_TOPIC": self.case_events, "ESCALATIONS_TOPIC": own_escalations},
            ),
        ):
            own = {prefix + key: value for key, value in env.items()}
            self.services[name] = ServiceProcess(module, prefix, self.folder, {**common, **own})
        self.worker = EscalationProcess(
            app_id=f"ops-esc-{self.unique}",
            worker_name="w1",
            data_dir=self.folder / "esc",
            policy_file=DEMO_POLICY,
            topics=WorkerTopics(self.case_events, ESCALATIONS),
        )
        group = f"ops-notifier-{self.unique}"
        recipients = sink_recipients(self.folder / "recipients.yaml", self.sink_http_port)
        self.notifier = NotifierProcess(
            name=self.unique,
            log_dir=self.folder,
            env={
                **common,
                "CASEGOLD_NOTIFIER_GROUP_ID": group,
                "CASEGOLD_NOTIFIER_RECIPIENTS_FILE": str(recipients),
                "CASEGOLD_NOTIFIER_SMTP_PORT": str(self.sink_smtp_port),
            },
        )
        await skip_notifier_history(self.kafka, group)
        for service in self.services.values():
            service.start(service.env)
        self.worker.start()
        self.notifier.start()
        for service in self.services.values():
            service.wait_ready()
        self.worker.wait_ready()
        await self.notifier.wait_ready()
        await self.projecting()

    async def projecting(self, timeout: float = 90.0) -> None:
        """Wait until reporting's projector holds its lock (it is ready before it projects)."""
        reporting = self.services["reporting"]
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                text = (await client.get(f"{reporting.url}/metrics")).text
                if "casegold_reporting_projector_active 1.0" in text:
                    return
                assert time.monotonic() < deadline, (
                    f"reporting's projector not active within {timeout} s:\n{reporting.log_tail()}"
                )
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        """SIGTERM every service (SIGKILL after 20 s)."""
        if self.worker is not None:
            self.worker.stop(grace=20)
        if self.notifier is not None:
            await self.notifier.stop(grace=20)
        for service in self.services.values():
            service.shutdown(20)

    def endpoints(self, sink: str) -> Endpoints:
        """Where the demo finds each part."""
        assert self.worker is not None and self.notifier is not None
        return Endpoints(
            intake=self.services["intake"].url,
            escalation=f"http://127.0.0.1:{self.worker.port}",
            followup=self.services["followup"].url,
            reporting=self.services["reporting"].url,
            notifier=f"http://127.0.0.1:{self.notifier.port}",
            sink=sink,
        )

    def targets(self) -> dict[str, str]:
        """host:port of each service, by the `service` label Prometheus gives it."""
        endpoints = self.endpoints("")
        names = ("intake", "escalation", "followup", "reporting", "notifier")
        return {name: endpoints.of(name).removeprefix("http://") for name in names}

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of every service's log, for a failure message."""
        parts: list[ModuleProcess] = [*self.services.values()]
        parts += [p for p in (self.worker, self.notifier) if p is not None]
        return "\n".join(f"--- {p.module} ---\n{p.log_tail(lines)}" for p in parts)
