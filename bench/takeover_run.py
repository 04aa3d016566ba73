"""The warm-takeover benchmark (run it with `python bench/bench_takeover.py [--cases N]`).

Two escalation workers (same app id, own data folders and ports) on a broker of the
benchmark's own, with `CASEGOLD_ESCALATION_STANDBY_REPLICAS=--standby` (decision 0094):

1. Load. `--cases` open cases (default 100,000) written to the table changelogs (as in
   escalation_run.py): the bulk due in 2 h, and a due stream of `--rate` first steps a second
   (default 50/s for `--stream` 300 s), spread over all partitions by their case ids, coming due
   `--lead` seconds after the seeding. Both workers are started at once.
2. Warm. Both /readyz 200, then every standby copy caught up: each worker's store of the other
   one's partitions has applied its changelogs to less than one standby batch from the end
   (takeover_state.py; decision 0135).
3. Takeover. Once the due stream has fired for a while, kill -9 of the second worker. From the
   survivor's log and the notices topic: kill → rebalance seen → partitions assigned → tables
   recovered → due index rebuilt → first step fired for a case of a killed worker's partition,
   and every step due in the outage fired; the changelog records its recovery read for the
   taken-over partitions (Faust's recovery tables, tests/support/faust_log.py) next to what a
   cold recovery would read (the changelogs' records of those partitions); 0 missing, 0 twice.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.escalation_harness import (
    ROOT,
    BatchWriter,
    BenchError,
    Collector,
    Notice,
    PrivateBroker,
    Worker,
    now_us,
    partition_of,
)
from bench.escalation_run import Figures, _revision, load_text, row, say
from bench.escalation_workload import SEEDED_CASE, DuePlan, Workload, bench_id
from bench.takeover_state import TableLag, table_lag
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.wiring import TABLES, internal_topics
from casegold_platform.kafka import ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_platform.topics import platform_topics
from casegold_sla import load_policy_text
from tests.support import faust_log
from tests.support.escalation import skip_history

DUE_CASE = 6  # id kind of the due-stream cases


@dataclass
class Options:
    cases: int
    rate: float
    stream: float
    lead: float | None
    standby: int
    policy: Path
    keep: bool
    worker_env: dict[str, str]


async def offset_bounds(kafka: KafkaSettings, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """(beginning, end) offsets of every partition of a topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return (
            {tp.partition: o for tp, o in begin.items()},
            {tp.partition: o for tp, o in end.items()},
        )
    finally:
        await consumer.stop()


class Takeover:
    def __init__(self, options: Options, run_dir: Path) -> None:
        self.o = options
        self.run_id = random.randrange(1 << 32)
        self.app_id = f"bench-{run_dir.name}"
        self.dir = run_dir
        self.policy_file = self.dir / "policy.yaml"
        self.broker = PrivateBroker(self.dir / "broker")
        self.kafka = KafkaSettings(bootstrap=self.broker.bootstrap)
        self.settings = EscalationSettings(app_id=self.app_id)
        env = {"CASEGOLD_ESCALATION_STANDBY_REPLICAS": str(options.standby), **options.worker_env}
        self.workers = [
            Worker(self.app_id, self.dir / "workers", self.policy_file, env, name=name)
            for name in ("w1", "w2")
        ]
        self.collector = Collector(self.kafka)
        self.figures = Figures()
        self.stream_cases = min(int(options.rate * options.stream), options.cases // 2)
        self.bulk_cases = options.cases - self.stream_cases
        self.changelogs = {table: f"{self.app_id}-{table}-changelog" for table in TABLES}

    # -- set-up -------------------------------------------------------------------------------

    async def prepare(self) -> None:
        text = self.o.policy.read_text(encoding="utf-8")
        self.policy_file.write_text(text, encoding="utf-8")
        self.workload = Workload(
            self.run_id,
            load_policy_text(text, str(self.policy_file)),
            self.settings.customers_topic,
        )
        say(f"starting a private broker under {self.dir.relative_to(ROOT)} …")
        await asyncio.to_thread(self.broker.start)
        os.environ["CASEGOLD_KAFKA_BOOTSTRAP"] = self.kafka.bootstrap  # for the workers
        await ensure_topics(self.kafka.bootstrap, platform_topics(self.kafka))
        await ensure_topics(self.kafka.bootstrap, internal_topics(self.settings, self.kafka))
        await skip_history(self.kafka, self.app_id)

    async def seed(self, kind: int, plan: DuePlan, count: int) -> float:
        """Write the records of `count` opened cases to the table changelogs; returns seconds."""
        began = time.monotonic()
        cases_log, customers_log = self.changelogs["cases"], self.changelogs["customer-cases"]
        async with BatchWriter(self.kafka) as writer:
            for case in self.workload.seed(kind, plan, 0, count):
                await writer.write(cases_log, case.partition_key, case.record)
                await writer.write(customers_log, case.customer_key, case.customer_record)
        return time.monotonic() - began

    async def load(self) -> None:
        say(
            f"\n1. load: {self.o.cases:,} open cases, two workers, "
            f"standby replicas {self.o.standby}"
        )
        if self.stream_cases / self.o.rate < 90:
            raise BenchError("the due stream must last 90 s at least (raise --stream or --cases)")
        offset = self.workload.first_step_offset(now_us())
        bulk = DuePlan(now_us() + 2 * 3600 * 1_000_000, self.o.rate, offset)
        seconds = await self.seed(SEEDED_CASE, bulk, self.bulk_cases)
        row(f"bulk: {self.bulk_cases:,} cases written to the changelogs", f"{seconds:.1f} s")
        lead = self.o.lead if self.o.lead is not None else 45 + self.o.cases * 0.6e-3
        seed_estimate = self.stream_cases * 150e-6
        first_due = now_us() + int((seed_estimate + lead) * 1_000_000)
        self.stream = DuePlan(first_due, self.o.rate, offset)
        seconds = await self.seed(DUE_CASE, self.stream, self.stream_cases)
        row(
            f"due stream: {self.stream_cases:,} cases, {self.o.rate:.0f}/s",
            f"{seconds:.1f} s to write; first due in {(first_due - now_us()) / 1e6:.0f} s",
        )
        await self.collector.start()
        spawned = time.time()
        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            ready = await worker.wait_ready(timeout=1800)
            row(
                f"{worker.process.worker_name}: start on an empty disk → /readyz 200",
                f"{ready - spawned:.1f} s",
            )

    # -- phase 2 ------------------------------------------------------------------------------

    async def partitions_of(self, worker: Worker) -> set[int]:
        return set((await worker.readyz())["partitions"])

    async def standby_lags(self) -> list[tuple[str, TableLag]]:
        """Per worker and table, how far its store of the other worker's partitions lags."""
        owned = [await self.partitions_of(w) for w in self.workers]
        ends = {t: (await offset_bounds(self.kafka, log))[1] for t, log in self.changelogs.items()}
        lags = []
        for worker, other in zip(self.workers, reversed(owned), strict=True):
            folder = worker.process.data_dir / worker.process.worker_name
            for table in TABLES:
                lag = await asyncio.to_thread(table_lag, folder, table, other, ends[table])
                lags.append((worker.process.worker_name, lag))
        return lags

    async def warm(self) -> None:
        say("\n2. standbys catching up")
        if self.o.standby == 0:
            row("standby replicas 0", "nothing to catch up (cold takeover)")
            return
        began = time.monotonic()
        while True:
            lags = await self.standby_lags()
            if all(lag.warm for _, lag in lags):
                break
            if time.monotonic() - began > 900:
                raise BenchError(f"standbys not caught up after 900 s: {lags}")
            await asyncio.sleep(2)
        row("both ready → every standby within one batch", f"{time.monotonic() - began:.1f} s")
        for name, lag in lags:
            row(f"  {name}'s standby of {lag.table}: records not yet applied", f"{lag.lag:,}")

    # -- phase 3 ------------------------------------------------------------------------------

    def stream_notices(self) -> list[Notice]:
        prefix = bench_id(self.run_id, DUE_CASE, 0)[:13]
        return [
            n
            for n in self.collector.notices
            if n.case_id.startswith(prefix) and n.milestone == "first_response"
        ]

    def expected(self, start_us: int, end_us: int, partitions: set[int]) -> set[str]:
        first = self.stream.index_due_before(start_us)
        last = min(self.stream_cases, self.stream.index_due_before(end_us))
        ids = (bench_id(self.run_id, DUE_CASE, n) for n in range(first, last))
        return {
            c for c in ids if partition_of(c.encode("ascii"), self.kafka.partitions) in partitions
        }

    def fired(self, cases: set[str]) -> dict[str, Notice]:
        seen: dict[str, Notice] = {}
        for notice in self.stream_notices():
            if notice.case_id in cases:
                seen.setdefault(notice.case_id, notice)
        return seen

    async def wait_all(self, cases: set[str], timeout: float) -> dict[str, Notice]:
        await self.collector.wait_for(lambda: cases <= self.fired(cases).keys(), timeout)
        return self.fired(cases)

    async def takeover(self) -> None:
        survivor, victim = self.workers
        every = set(range(self.kafka.partitions))
        taken = await self.partitions_of(victim)
        if not taken or taken == every:
            raise BenchError(f"the second worker holds partitions {sorted(taken)}: no split")
        kill_at = max(time.time(), self.stream.first_due_us / 1e6 + 15)
        if self.stream.due_us(self.stream_cases) / 1e6 < kill_at + 60:
            raise BenchError("the due stream ends too soon after the kill (raise --stream)")
        await asyncio.sleep(kill_at - time.time())
        say(
            f"\n3. kill -9 of {victim.process.worker_name} "
            f"(partitions {sorted(taken)}; load {load_text()})"
        )
        bounds = {t: await offset_bounds(self.kafka, log) for t, log in self.changelogs.items()}
        cold = sum(end[p] - begin[p] for begin, end in bounds.values() for p in taken)
        folder = survivor.process.data_dir / survivor.process.worker_name
        at_kill = [
            await asyncio.to_thread(table_lag, folder, t, taken, bounds[t][1]) for t in TABLES
        ]
        killed = victim.kill_hard()
        killed_us = int(killed * 1e6)
        ready = await self.wait_survivor(survivor, every, timeout=300)
        outage = self.expected(killed_us, int(ready * 1e6), taken)
        if not await self.collector.wait_for(lambda: bool(self.fired_after(killed_us, taken)), 120):
            raise BenchError("no step of a taken-over partition fired within 120 s of the kill")
        first = min(n.fired_us for n in self.fired_after(killed_us, taken)) / 1e6
        got = await self.wait_all(outage, timeout=120)
        missing = len(outage - got.keys())
        last = max((n.fired_us for n in got.values()), default=int(ready * 1e6)) / 1e6
        lines = faust_log.read_log(survivor.process.log_path)
        self.report_phases(lines, killed, ready, first)
        row(
            f"kill -9 → all {len(outage):,} steps due in the outage fired",
            f"{last - killed:.1f} s ({missing} missing)",
        )
        read = self.report_replay(lines, killed, taken, cold, at_kill)
        self.figures.bar(
            "warm takeover: kill -9 → first step fired",
            f"{first - killed:.1f} s (outage steps all by {last - killed:.1f} s, "
            f"{missing} missing)",
            first - killed <= 15 and not missing,
        )
        self.figures.bar(
            "no changelog replay",
            f"{'?' if read is None else f'{read:,}'} records read for the taken-over partitions "
            f"(cold: {cold:,})",
            read is not None and read <= cold // 100,
        )
        self.window = (self.stream.first_due_us, int((max(last, ready) + 10) * 1e6))

    def fired_after(self, since_us: int, partitions: set[int]) -> list[Notice]:
        n_partitions = self.kafka.partitions
        return [
            n
            for n in self.stream_notices()
            if n.fired_us >= since_us
            and partition_of(n.case_id.encode("ascii"), n_partitions) in partitions
        ]

    async def wait_survivor(self, survivor: Worker, every: set[int], timeout: float) -> float:
        """Poll the survivor's /readyz until it answers 200 holding every partition."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = await survivor.readyz()
            if body.get("status") == "ok" and set(body.get("partitions", [])) == every:
                return time.time()
            await asyncio.sleep(0.1)
        raise BenchError(f"the survivor did not take every partition in {timeout:.0f} s")

    def report_phases(
        self, lines: list[faust_log.Line], killed: float, ready: float, first: float
    ) -> None:
        def after(text: str) -> str:
            line = faust_log.first(lines, text, killed)
            return f"{line.at - killed:.1f} s" if line else "not in the log"

        row("kill -9 → survivor sees the rebalance (re-joins)", after(faust_log.REJOINING))
        row("kill -9 → partitions assigned", after(faust_log.ASSIGNED))
        row(
            "kill -9 → table recovery starts (changelog ends read)",
            after(faust_log.ACTIVE_HIGHWATERS),
        )
        row("kill -9 → tables recovered (Faust: worker ready)", after(faust_log.WORKER_READY))
        row("kill -9 → due index rebuilt", after(faust_log.INDEX_REBUILT))
        row("kill -9 → survivor /readyz 200 with every partition", f"{ready - killed:.1f} s")
        row("kill -9 → first step fired (a taken-over partition)", f"{first - killed:.1f} s")

    def report_replay(
        self,
        lines: list[faust_log.Line],
        killed: float,
        taken: set[int],
        cold: int,
        at_kill: list[TableLag],
    ) -> int | None:
        lag = sum(t.lag for t in at_kill)
        unknown = sorted({p for t in at_kill for p in t.unknown})
        row(
            "survivor's stores of them at the kill: records not on disk",
            f"{lag:,}" + (f" (no store for partitions {unknown})" if unknown else ""),
        )
        recovery = next(
            (r for r in faust_log.recoveries(lines, killed) if taken <= r.partitions()), None
        )
        if recovery is None:
            row("changelog records read to take over", "no recovery of them in the log")
            return None
        read = recovery.records_to_read(taken)
        restoring = faust_log.first(lines, faust_log.RESTORING, recovery.at)
        done = faust_log.first(lines, faust_log.RESTORED, recovery.at)
        spent = f", {done.at - restoring.at:.1f} s reading" if restoring and done else ""
        row("changelog records read to take over (Faust's log)", f"{read:,}{spent}")
        row("what a cold recovery of those partitions reads", f"{cold:,}")
        return read

    # -- wrap-up ------------------------------------------------------------------------------

    async def finish(self) -> None:
        start, end = self.window
        wanted = self.expected(start, end, set(range(self.kafka.partitions)))
        got = await self.wait_all(wanted, timeout=60)
        seen: set[str] = set()
        twice = 0
        for notice in self.collector.notices:
            twice += notice.event_id in seen
            seen.add(notice.event_id)
        row(
            f"steps due from the stream's start to 10 s after: {len(wanted):,}",
            f"{len(wanted - got.keys())} missing; {twice} notices sent twice",
        )
        self.figures.bar(
            "0 missing, 0 sent twice",
            f"{len(wanted - got.keys())} / {twice}",
            not twice and wanted <= got.keys(),
        )

    async def cleanup(self) -> None:
        await self.collector.stop()
        for worker in self.workers:
            if worker.alive():
                await asyncio.to_thread(worker.stop)
        await asyncio.to_thread(self.broker.stop)
        if not self.o.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


async def main_async(options: Options, run_dir: Path) -> int:
    bench = Takeover(options, run_dir)
    say(
        f"Escalation warm-takeover benchmark — Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, revision {_revision()} (packages copied at start)"
    )
    say(
        f"  {options.cases:,} cases; standby replicas {options.standby}; due stream "
        f"{options.rate:.0f}/s; load average {load_text()}"
        + (f"; worker environment {options.worker_env}" if options.worker_env else "")
    )
    began = time.monotonic()
    try:
        await bench.prepare()
        await bench.load()
        await bench.warm()
        await bench.takeover()
        await bench.finish()
    except BenchError as error:
        say(f"\nbenchmark failed: {error}")
        return 1
    finally:
        await bench.cleanup()
    bench.figures.summary(began, 42)
    return 0


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/bench_takeover.py", description="Warm takeover of the escalation worker."
    )
    parser.add_argument("--cases", type=int, default=100_000, help="open cases to load")
    parser.add_argument("--rate", type=float, default=50.0, help="steps coming due per second")
    parser.add_argument("--stream", type=float, default=300.0, help="seconds of due stream")
    parser.add_argument("--lead", type=float, default=None, help="seconds until the first is due")
    parser.add_argument("--standby", type=int, default=1, choices=(0, 1), help="standby replicas")
    parser.add_argument("--policy", type=Path, default=ROOT / "deploy" / "policy" / "default.yaml")
    parser.add_argument("--keep", action="store_true", help="keep var/bench/<run> afterwards")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of both workers (e.g. CASEGOLD_ESCALATION_SESSION_TIMEOUT=6)",
    )
    args = parser.parse_args(argv)
    if args.cases < 1000:
        parser.error("--cases must be at least 1000")
    worker_env = dict(item.split("=", 1) for item in args.worker_env)
    return Options(
        args.cases,
        args.rate,
        args.stream,
        args.lead,
        args.standby,
        args.policy,
        args.keep,
        worker_env,
    )


def main(run_dir: Path) -> int:
    """Run the benchmark in run_dir (which bench_takeover.py created); returns the exit code."""
    options = parse_options()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # retries during start-up are noise
    return asyncio.run(main_async(options, run_dir))
