"""The phases of bench/bench_escalation_retention.py (see its docstring)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

from bench.escalation_harness import (
    ROOT,
    BatchWriter,
    BenchError,
    PrivateBroker,
    Worker,
    metric_sum,
    now_us,
)
from bench.escalation_workload import SEEDED_CASE, DuePlan, Workload
from casegold_contracts.builders import make_event
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.wiring import internal_topics
from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_platform.topics import platform_topics
from casegold_sla import from_us, load_policy_text
from tests.support.escalation import skip_history

CLOSED_CASE = 7  # id kind of the closed cases
DAY_US = 86_400_000_000


def say(text: str = "") -> None:
    print(text, flush=True)


def row(label: str, value: str) -> None:
    say(f"  {label:<56}: {value}")


def load_text() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


class Retention:
    def __init__(self, run_dir: Path, closed: int, open_cases: int) -> None:
        self.dir, self.closed, self.open = run_dir, closed, open_cases
        self.app_id = f"bench-{run_dir.name}"
        self.broker = PrivateBroker(run_dir / "broker")
        self.kafka = KafkaSettings(bootstrap=self.broker.bootstrap)
        self.settings = EscalationSettings(app_id=self.app_id)
        self.policy_file = run_dir / "policy.yaml"
        self.worker = Worker(self.app_id, run_dir / "worker", self.policy_file)
        self.run_id = random.randrange(1 << 32)

    async def prepare(self) -> None:
        text = (ROOT / "deploy" / "policy" / "default.yaml").read_text(encoding="utf-8")
        self.policy_file.write_text(text, encoding="utf-8")
        self.workload = Workload(
            self.run_id,
            load_policy_text(text, str(self.policy_file)),
            self.settings.customers_topic,
        )
        await asyncio.to_thread(self.broker.start)
        os.environ["CASEGOLD_KAFKA_BOOTSTRAP"] = self.kafka.bootstrap
        await ensure_topics(self.kafka.bootstrap, platform_topics(self.kafka))
        await ensure_topics(self.kafka.bootstrap, internal_topics(self.settings, self.kafka))
        compact = (("cleanup.policy", "compact"),)
        await ensure_topics(
            self.kafka.bootstrap,
            [
                TopicSpec(self.cases_log, self.kafka.partitions, 1, compact),
                TopicSpec(self.customers_log, self.kafka.partitions, 1, compact),
            ],
        )
        await skip_history(self.kafka, self.app_id)

    @property
    def cases_log(self) -> str:
        return f"{self.app_id}-cases-changelog"

    @property
    def customers_log(self) -> str:
        return f"{self.app_id}-customer-cases-changelog"

    def closed_records(self) -> Iterator[tuple[bytes, bytes, bytes, bytes]]:
        """(case key, closed record, customer key, customer record) of each closed case: opened
        32 days ago, acknowledged, resolved and closed 31 days ago, as the worker stores it."""
        processor = self.workload.processor
        opened_us = now_us() - 32 * DAY_US
        closed_us = now_us() - 31 * DAY_US
        offset = self.workload.first_step_offset(opened_us)
        plan = DuePlan(opened_us + offset, 1_000_000.0, offset)  # opened 1 µs apart
        for case in self.workload.seed(CLOSED_CASE, plan, 0, self.closed):
            record = case.record
            key = case.partition_key.decode()
            for step, name in enumerate(("case_acknowledged", "case_resolved", "case_closed")):
                at = opened_us + 1 if step == 0 else closed_us
                event = make_event(name, case_id=UUID(key), at=from_us(at))
                update = processor.on_event(record, event, event.occurred_at, step + 1)
                assert update.stored is not None, update.rejection
                record = update.stored
            yield case.partition_key, record, case.customer_key, case.customer_record

    async def seed(self) -> None:
        began = time.monotonic()
        async with BatchWriter(self.kafka) as writer:
            for key, record, customer, customer_record in self.closed_records():
                await writer.write(self.cases_log, key, record)
                await writer.write(self.customers_log, customer, customer_record)
            plan = DuePlan(
                now_us() + 2 * 3600 * 1_000_000, 100.0, self.workload.first_step_offset(now_us())
            )
            for case in self.workload.seed(SEEDED_CASE, plan, 0, self.open):
                await writer.write(self.cases_log, case.partition_key, case.record)
                await writer.write(self.customers_log, case.customer_key, case.customer_record)
        row(
            f"{self.closed:,} closed (expired) + {self.open:,} open cases written",
            f"{time.monotonic() - began:.1f} s",
        )

    async def start(self, label: str) -> None:
        spawned = self.worker.start()
        ready = await self.worker.wait_ready(timeout=7200)
        rebuilt = self.rebuild_seconds()
        indexed = int((await self.worker.readyz())["scheduled_cases"])
        row(f"{label} → /readyz 200", f"{ready - spawned:.1f} s (load {load_text()})")
        row("  due-index rebuild (cases indexed)", f"{rebuilt:.1f} s ({indexed:,})")

    def rebuild_seconds(self) -> float:
        log = (self.dir / "worker" / "w1.log").read_text(encoding="utf-8", errors="replace")
        found = [
            re.search(r'"seconds":\s*([0-9.]+)', line)
            for line in log.splitlines()
            if "due index rebuilt" in line
        ]
        seconds = [float(m.group(1)) for m in found if m]
        return seconds[-1] if seconds else float("nan")

    async def purge(self) -> None:
        began = time.monotonic()
        while True:
            text = await self.worker.metrics()
            forgotten = metric_sum(text, 'casegold_escalation_forgotten_total{table="case"}')
            if forgotten >= self.closed:
                break
            if time.monotonic() - began > 7200:
                raise BenchError(f"only {forgotten:,.0f} of {self.closed:,} forgotten")
            await asyncio.sleep(1)
        seconds = time.monotonic() - began
        row(
            "purge: every expired case deleted (tombstones)",
            f"{seconds:.1f} s ({self.closed / seconds:,.0f} cases/s)",
        )

    def wipe_disk(self) -> None:
        shutil.rmtree(self.dir / "worker" / "w1", ignore_errors=True)


async def run(run_dir: Path, closed: int, open_cases: int) -> int:
    bench = Retention(run_dir, closed, open_cases)
    say(f"Retention benchmark: {closed:,} closed + {open_cases:,} open cases (load {load_text()})")
    try:
        await bench.prepare()
        await bench.seed()
        await bench.start("1. empty disk, before the purge (every record)")
        await bench.purge()
        await asyncio.to_thread(bench.worker.stop)
        await bench.start("3. restart, disk kept, after the purge")
        await asyncio.to_thread(bench.worker.stop)
        bench.wipe_disk()
        await bench.start("4. empty disk after the purge (tombstones not compacted)")
        await asyncio.to_thread(bench.worker.stop)
        return 0
    except BenchError as error:
        say(f"benchmark failed: {error}")
        return 1
    finally:
        if bench.worker.alive():
            await asyncio.to_thread(bench.worker.stop)
        await asyncio.to_thread(bench.broker.stop)
