"""The fault driver: kill -9, SIGTERM, SIGSTOP+SIGCONT of the broker and the services, PostgreSQL
stopped and started, poison messages; one fault at a time, each followed by a wait for recovery.

Only the run's own servers are touched (a scratch broker and a scratch PostgreSQL), never the
shared ones.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.fault_stack import Stack
from casegold_contracts import CASE_EVENTS, ESCALATIONS
from casegold_platform.settings import KafkaSettings
from tests.support.brokers import ScratchBroker
from tests.support.processes import publish
from tests.support.scratch_postgres import ScratchPostgres

SERVICES = ("escalation", "notifier", "followup", "reporting")
# Every fault the driver knows, in the order a long run cycles through them.
ALL_FAULTS: tuple[tuple[str, str], ...] = (
    ("escalation", "kill9"),
    ("broker", "kill9"),
    ("notifier", "kill9"),
    ("postgres", "stop"),
    ("followup", "kill9"),
    ("reporting", "kill9"),
    ("poison", "inject"),
    ("broker", "sigterm"),
    ("escalation", "sigterm"),
    ("notifier", "pause"),
    ("followup", "sigterm"),
    ("reporting", "pause"),
    ("broker", "pause"),
    ("escalation", "pause"),
    ("notifier", "sigterm"),
    ("followup", "pause"),
    ("reporting", "sigterm"),
)
# Poison: bad JSON, an envelope of an unknown type, text PostgreSQL refuses (a NUL), no key.
POISON: tuple[tuple[bytes, bytes], ...] = (
    (b"poison", b"{not json"),
    (b"poison", b'{"type": "no_such_event", "schema_version": 1}'),
    (b"\x00bad-key", b'{"summary": "nul \\u0000 byte"}'),
    (b"", b"[]"),
)


@dataclass
class Fault:
    """One injected fault and how long the stack took to answer again."""

    target: str
    kind: str
    at: float
    held: float = 0.0
    recovered_after: float | None = None

    @property
    def name(self) -> str:
        return f"{self.target} {self.kind}"


@dataclass
class Driver:
    """Injects `schedule` one fault every `interval` seconds, waiting for recovery after each."""

    stack: Stack
    broker: ScratchBroker
    postgres: ScratchPostgres
    kafka: KafkaSettings
    schedule: list[tuple[str, str]]
    interval: float = 10.0
    hold: float = 3.0  # how long a stopped or paused part stays down
    recovery_timeout: float = 180.0
    faults: list[Fault] = field(default_factory=list)

    async def run(self) -> None:
        """Inject the whole schedule."""
        for target, kind in self.schedule:
            began = time.monotonic()
            fault = Fault(target, kind, time.time())
            self.faults.append(fault)
            await self.inject(fault)
            try:
                fault.recovered_after = await self.recovered(began)
            except AssertionError as failure:  # a part still not ready: say so, go on
                print(f"{fault.name}: not recovered: {str(failure)[:200]}", flush=True)
                continue
            print(f"{fault.name}: recovered after {fault.recovered_after:.1f} s", flush=True)
            await asyncio.sleep(max(0.0, began + self.interval - time.monotonic()))

    async def inject(self, fault: Fault) -> None:
        if fault.target == "broker":
            await self._broker(fault)
        elif fault.target == "postgres":
            await asyncio.to_thread(self.postgres.stop, "immediate")
            await asyncio.sleep(self.hold)
            await asyncio.to_thread(self.postgres.start)
        elif fault.target == "poison":
            for topic in (CASE_EVENTS, ESCALATIONS):
                await publish(self.kafka, topic, POISON)
        else:
            await self._service(fault)
        fault.held = self.hold

    async def _service(self, fault: Fault) -> None:
        service = self.stack[fault.target]
        if fault.kind == "kill9":
            await asyncio.to_thread(service.kill_hard)
            service.launch()
        elif fault.kind == "sigterm":
            await asyncio.to_thread(service.shutdown, 60.0)
            service.launch()
        else:
            service.pause()
            await asyncio.sleep(self.hold)
            service.resume()

    async def _broker(self, fault: Fault) -> None:
        if fault.kind == "kill9":
            await asyncio.to_thread(self.broker.kill_hard)
            await asyncio.to_thread(self.broker.start)
        elif fault.kind == "sigterm":
            await asyncio.to_thread(self.broker.stop)
            await asyncio.to_thread(self.broker.start)
        else:
            pid = int(await asyncio.to_thread(self.broker.run, "pid"))
            os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(self.hold)
            os.kill(pid, signal.SIGCONT)

    async def recovered(self, began: float) -> float:
        """Seconds from the fault until every service answers /readyz again."""
        deadline = time.monotonic() + self.recovery_timeout
        for service in self.stack.services.values():
            remaining = max(1.0, deadline - time.monotonic())
            await service.wait_ready(timeout=remaining)
        return time.monotonic() - began

    def figures(self) -> dict[str, object]:
        recoveries = [f.recovered_after for f in self.faults if f.recovered_after is not None]
        return {
            "faults": len(self.faults),
            "by_kind": dict(Counter(f.name for f in self.faults)),
            "slowest_recovery_s": round(max(recoveries, default=0.0), 1),
            "unrecovered": len(self.faults) - len(recoveries),
        }
