"""The escalation worker benchmark (run it with `python bench/bench_escalation.py [--cases N]`).

One worker process (`python -m casegold_escalation`, its own app id and data folder) on a Kafka
broker of the benchmark's own, on the production policy (deploy/policy/default.yaml, copied at
start so a concurrent edit cannot change it mid-run). Phases, each printing its figures:

1. Load. `--cases` open cases (default 1,000,000), each with its own customer, in two groups:
   - the bulk, whose first ladder step (the P3 first-response warning, 9 h after opening) comes
     due from 2 h after the start on, so never during the run;
   - the due stream, `--rate` cases a second for `--stream` seconds (default 100/s for 900 s =
     90,000 cases), opened 9 h before instants spaced 1/rate apart: their warnings come due at
     exactly `--rate` a second once the run reaches them.
   The cases are loaded through the worker's table changelogs (case records computed by the
   worker's own CaseProcessor from the very case_opened bytes, and the customers agent's
   records): applied as events they would take the worker about an hour (see phase 2).
2. Events/s (`--backlog` commands, default 200,000, and `--opened` case_opened, default 10,000),
   with no step due meanwhile. The worker is paused (SIGSTOP) while the backlog is written, then
   resumed and timed until /metrics counts every event applied; then a bare aiokafka consumer
   reads the same messages (getmany, and getmany + contracts.parse) and the ratio is printed.
3. Fire lag at full size. A clean restart brings the due stream in; with `--flow` events a
   second flowing (half new cases, half acknowledgements), fired − due of every step due during
   `--window` seconds, read from the escalation_raised notices on complaints.escalations.
4. kill -9 and restart with every case loaded: seconds until steps fire again, the steps due
   during the outage, fire lag after recovery, notices sent twice; RSS (VmRSS/VmHWM) throughout.

Everything runs under var/bench/<run>/ and is removed at the end (`--keep` keeps it); the worker
runs from a copy of the casegold packages taken at start (bench_escalation.py), so edits made
to the working tree during a run cannot mix two versions of the record layout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import faust_floor
from bench.escalation_harness import (
    ROOT,
    BatchWriter,
    BenchError,
    Collector,
    Flow,
    Notice,
    PrivateBroker,
    Worker,
    cpu_seconds,
    end_offsets,
    group_lag,
    metric_sum,
    now_us,
    percentile,
    raw_consume,
)
from bench.escalation_workload import (
    BACKLOG_COMMANDS,
    NEW_CASE,
    SEEDED_CASE,
    DuePlan,
    Workload,
    bench_id,
)
from casegold_contracts import CASE_EVENTS
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.wiring import internal_topics
from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_platform.topics import platform_topics
from casegold_sla import load_policy_text
from tests.support.escalation import skip_history

DUE_CASE = 6  # id kind of the due-stream cases (the bulk uses SEEDED_CASE)
MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass
class Options:
    cases: int
    rate: float
    stream: float
    backlog: int
    opened: int
    window: float
    flow: float
    flow_opened: float  # the share of the flow that is new cases; the rest acknowledgements
    policy: Path
    keep: bool
    worker_env: dict[str, str]


@dataclass
class Figures:
    """What the summary at the end reports against the bars."""

    lines: list[str] = field(default_factory=list)
    bars: list[tuple[str, str, bool | None]] = field(default_factory=list)

    def bar(self, what: str, figure: str, met: bool | None) -> None:
        self.bars.append((what, figure, met))

    def summary(self, began: float, width: int) -> None:
        """Print the run's lines and its bars, met or not."""
        minutes = (time.monotonic() - began) / 60
        say(f"\nsummary ({minutes:.1f} min, load average now {load_text()}):")
        for line in self.lines:
            say(f"  {line}")
        for what, figure, met in self.bars:
            mark = "n/a" if met is None else ("met" if met else "NOT met")
            say(f"  {what:<{width}} {figure}  [{mark}]")


def say(text: str = "") -> None:
    print(text, flush=True)


def row(label: str, value: str) -> None:
    say(f"  {label:<52}: {value}")


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def lag_summary(notices: list[Notice]) -> tuple[float, float, float, float]:
    """(p50, p99, max) of fired − due and p99 of seen − due, in seconds."""
    fired = [(n.fired_us - n.due_us) / 1e6 for n in notices]
    seen = [(n.seen_us - n.due_us) / 1e6 for n in notices]
    return percentile(fired, 50), percentile(fired, 99), max(fired), percentile(seen, 99)


def lag_by_slice(notices: list[Notice], start: float, seconds: float) -> str:
    """The worst fire lag of the steps due in each slice of the window: a stall shows as one
    slice, a worker that cannot keep up as lags that grow from slice to slice."""
    worst: dict[int, float] = {}
    for n in notices:
        index = int((n.due_us / 1e6 - start) // seconds)
        worst[index] = max(worst.get(index, 0.0), (n.fired_us - n.due_us) / 1e6)
    return " ".join(f"{worst[i]:.1f}" for i in sorted(worst))


class Bench:
    def __init__(self, options: Options, run_dir: Path) -> None:
        self.o = options
        self.run_id = random.randrange(1 << 32)
        self.app_id = f"bench-{run_dir.name}"
        self.dir = run_dir
        self.policy_file = self.dir / "policy.yaml"
        self.broker = PrivateBroker(self.dir / "broker")
        self.kafka = KafkaSettings(bootstrap=self.broker.bootstrap)
        self.settings = EscalationSettings(app_id=self.app_id)
        self.worker = Worker(self.app_id, self.dir / "worker", self.policy_file, options.worker_env)
        self.collector = Collector(self.kafka)
        self.flow: Flow | None = None
        self.figures = Figures()
        self.stream_cases = min(int(options.rate * options.stream), options.cases // 2)
        self.bulk_cases = options.cases - self.stream_cases
        self.backlog_cases = min(options.backlog // len(BACKLOG_COMMANDS), self.bulk_cases // 2)
        self.new_cases = 0
        self.acked = 0
        self.command_events = 0

    # -- set-up -------------------------------------------------------------------------------

    async def prepare(self) -> None:
        text = self.o.policy.read_text(encoding="utf-8")
        self.policy_file.write_text(text, encoding="utf-8")
        self.policies = load_policy_text(text, str(self.policy_file))
        self.workload = Workload(self.run_id, self.policies, self.settings.customers_topic)
        say(f"starting a private broker under {self.dir.relative_to(ROOT)} …")
        await asyncio.to_thread(self.broker.start)
        os.environ["CASEGOLD_KAFKA_BOOTSTRAP"] = self.kafka.bootstrap  # for the worker
        await ensure_topics(self.kafka.bootstrap, platform_topics(self.kafka))
        await ensure_topics(self.kafka.bootstrap, internal_topics(self.settings, self.kafka))
        compact = (("cleanup.policy", "compact"),)
        changelogs = [f"{self.app_id}-cases-changelog", f"{self.app_id}-customer-cases-changelog"]
        await ensure_topics(
            self.kafka.bootstrap,
            [TopicSpec(name, self.kafka.partitions, 1, compact) for name in changelogs],
        )
        await skip_history(self.kafka, self.app_id)

    async def seed(self, kind: int, plan: DuePlan, count: int) -> float:
        """Write the records of `count` opened cases to the table changelogs; returns seconds."""
        began = time.monotonic()
        cases_log = f"{self.app_id}-cases-changelog"
        customers_log = f"{self.app_id}-customer-cases-changelog"
        async with BatchWriter(self.kafka) as writer:
            for case in self.workload.seed(kind, plan, 0, count):
                await writer.write(cases_log, case.partition_key, case.record)
                await writer.write(customers_log, case.customer_key, case.customer_record)
        return time.monotonic() - began

    # -- phase 1 ------------------------------------------------------------------------------

    async def load(self) -> None:
        say(f"\n1. load: {self.o.cases:,} open cases, one worker")
        offset = self.workload.first_step_offset(now_us())
        self.bulk_plan = DuePlan(now_us() + 2 * 3600 * 1_000_000, self.o.rate, offset)
        seconds = await self.seed(SEEDED_CASE, self.bulk_plan, self.bulk_cases)
        row(
            f"bulk: {self.bulk_cases:,} cases written to the changelogs",
            f"{seconds:.1f} s (first step {offset / 3.6e9:.1f} h after opening)",
        )
        spawned = self.worker.start()
        ready = await self.worker.wait_ready(timeout=1800)
        scheduled = await self._scheduled()
        row("worker start on an empty disk → /readyz 200", f"{ready - spawned:.1f} s")
        row("cases in the due index", f"{scheduled:,}")
        if scheduled < self.bulk_cases:
            raise BenchError(f"only {scheduled} of {self.bulk_cases} cases indexed")
        self.figures.lines.append(
            f"cold start (table recovery from the changelog): {ready - spawned:.1f} s"
        )

    async def _scheduled(self) -> int:
        return int((await self.worker.readyz())["scheduled_cases"])

    # -- phase 2 ------------------------------------------------------------------------------

    def backlog_commands(self) -> list[tuple[bytes, bytes]]:
        at = now_us()
        records = []
        first = self.bulk_cases - self.backlog_cases
        for n in range(first, self.bulk_cases):
            case = bench_id(self.run_id, SEEDED_CASE, n)
            for name in BACKLOG_COMMANDS:
                self.command_events += 1
                records.append(self.workload.command(name, case, self.command_events, at))
        return records

    def new_openings(self, count: int) -> list[tuple[bytes, bytes]]:
        at = now_us()
        records = [self.workload.opened(NEW_CASE, self.new_cases + n, at) for n in range(count)]
        self.new_cases += count
        return records

    async def drain(self, label: str, records: list[tuple[bytes, bytes]]) -> tuple[float, float]:
        """Pause the worker, write the backlog, resume, time it; returns (events/s, raw ratio)."""
        count = len(records)
        base = await self.worker.events_total()
        rejected_base = metric_sum(await self.worker.metrics(), "casegold_events_rejected_total")
        start = await end_offsets(self.kafka, CASE_EVENTS)
        self.worker.pause()
        try:
            async with BatchWriter(self.kafka) as writer:
                for key, value in records:
                    await writer.write(CASE_EVENTS, key, value)
        finally:
            self.worker.resume()
        resumed = time.monotonic()
        worker_cpu, broker_cpu = cpu_seconds(self.worker.pid), cpu_seconds(self.broker.pid())
        stop = await end_offsets(self.kafka, CASE_EVENTS)
        deadline = resumed + max(300.0, count / 50)
        done = base
        while done < base + count:
            if time.monotonic() > deadline:
                raise BenchError(f"{label}: {done - base:.0f} of {count} applied before timeout")
            await asyncio.sleep(0.1)
            done = await self.worker.events_total()
        seconds = time.monotonic() - resumed
        worker_cpu = cpu_seconds(self.worker.pid) - worker_cpu
        broker_cpu = cpu_seconds(self.broker.pid()) - broker_cpu
        rejected = metric_sum(await self.worker.metrics(), "casegold_events_rejected_total")
        rate = count / seconds
        fetched = await raw_consume(self.kafka, CASE_EVENTS, start, stop, decode=False)
        parsed = await raw_consume(self.kafka, CASE_EVENTS, start, stop, decode=True)
        if fetched.messages != count or parsed.parsed != count:
            raise BenchError(f"{label}: raw consumer read {fetched.messages}/{parsed.parsed}")
        raw_rate = count / parsed.seconds
        row(f"{label}: {count:,} events drained by the worker", f"{seconds:.1f} s")
        row("  worker events/s", f"{rate:,.0f} events/s")
        row(
            "  CPU during the drain (worker / broker)",
            f"{worker_cpu / seconds:.0%} / {broker_cpu / seconds:.0%} of one core",
        )
        row("  raw aiokafka getmany only", f"{count / fetched.seconds:,.0f} messages/s")
        row("  raw aiokafka getmany + contracts.parse", f"{raw_rate:,.0f} events/s")
        row("  raw consumer / worker", f"{raw_rate / rate:.1f} ×")
        if rejected != rejected_base:
            row("  rejected commands (unexpected)", f"{rejected - rejected_base:.0f}")
        return rate, raw_rate / rate

    async def events_per_second(self) -> None:
        say(f"\n2. events/s: backlogs written while the worker is paused (load {load_text()})")
        commands = self.backlog_commands()
        rate, ratio = await self.drain("commands (assign, note, acknowledge, contact)", commands)
        floors = await self.faust_floors(len(commands))
        self.figures.bar(
            "events/s per worker (commands)",
            f"{rate:,.0f} events/s (raw consumer {ratio:.1f} × faster; {floors})",
            rate >= 5000,
        )
        if self.o.opened:
            opened_rate, ratio = await self.drain("case_opened", self.new_openings(self.o.opened))
            self.figures.bar(
                "events/s per worker (case_opened)",
                f"{opened_rate:,.0f} events/s (raw consumer {ratio:.1f} × faster)",
                opened_rate >= 3000,
            )

    async def faust_floors(self, count: int) -> str:
        """Faust alone on the same broker, in the same run: an agent doing nothing, and one
        writing each event to a table (bench/faust_floor.py)."""
        rates = {}
        # Below some tens of thousands, the drain is within the probe's 0.2 s polling.
        count = max(count, 20_000)
        for mode in ("pass", "table"):
            rate, _ = await faust_floor.measure(self.kafka, mode, count)
            rates[mode] = rate
            row(f"  bare Faust floor ({mode}), {count:,} events", f"{rate:,.0f} events/s")
        return f"bare Faust {rates['pass']:,.0f} /s, Faust table write {rates['table']:,.0f} /s"

    # -- phase 3 ------------------------------------------------------------------------------

    def stream_notices(self, notices: list[Notice]) -> list[Notice]:
        prefix = bench_id(self.run_id, DUE_CASE, 0)[:13]
        return [
            n for n in notices if n.case_id.startswith(prefix) and n.milestone == "first_response"
        ]

    def expected(self, start_us: int, end_us: int) -> set[str]:
        """Case ids of the due stream whose first step is due in [start, end)."""
        first = self.stream_plan.index_due_before(start_us)
        last = min(self.stream_cases, self.stream_plan.index_due_before(end_us))
        return {bench_id(self.run_id, DUE_CASE, n) for n in range(first, last)}

    def fired_cases(self, start_us: int, end_us: int) -> dict[str, Notice]:
        seen: dict[str, Notice] = {}
        for notice in self.stream_notices(self.collector.due_between(start_us, end_us)):
            seen.setdefault(notice.case_id, notice)
        return seen

    async def wait_fired(self, start_us: int, end_us: int, timeout: float) -> set[str]:
        """Wait until every step due in [start, end) was seen; returns the missing case ids."""
        wanted = self.expected(start_us, end_us)
        await self.collector.wait_for(
            lambda: wanted <= self.fired_cases(start_us, end_us).keys(), timeout
        )
        return wanted - self.fired_cases(start_us, end_us).keys()

    def next_flow_event(self) -> Callable[[], tuple[bytes, bytes]]:
        ackable = self.bulk_cases - self.backlog_cases
        owed = [0.0]  # new cases owed to the flow's share of them

        def make() -> tuple[bytes, bytes]:
            owed[0] += self.o.flow_opened
            at = now_us()
            if owed[0] >= 1.0:
                owed[0] -= 1.0
                self.new_cases += 1
                return self.workload.opened(NEW_CASE, self.new_cases, at)
            self.command_events += 1
            if self.acked < ackable:
                self.acked += 1
                case = bench_id(self.run_id, SEEDED_CASE, self.acked - 1)
                return self.workload.command("case_acknowledged", case, self.command_events, at)
            case = bench_id(self.run_id, SEEDED_CASE, self.command_events % ackable)
            return self.workload.command("note_added", case, self.command_events, at)

        return make

    def report_waits(self, before: str, after: str, seconds: float) -> None:
        """Where the cases agent's time went besides applying records: its flushes, and its
        waits for records, for room in the write cache, behind unacknowledged notices."""

        def delta(name: str) -> float:
            return metric_sum(after, name) - metric_sum(before, name)

        flush = "casegold_escalation_state_flush_seconds"
        flushes = delta(flush + '_count{phase="store"}')
        if flushes:
            changelog = delta(flush + '_sum{phase="changelog"}') / flushes
            store = delta(flush + '_sum{phase="store"}') / flushes
            row(
                "  state flushes / writes each / changelog + store s",
                f"{flushes:,.0f} / "
                f"{delta('casegold_escalation_state_flush_writes_sum') / flushes:,.0f} / "
                f"{changelog:.3f} + {store:.3f} s",
            )
        waits = "casegold_escalation_agent_waits_seconds_total"
        shares = []
        for on in ("records", "state", "notices"):
            sample = waits + '{agent="cases",on="' + on + '"}'
            shares.append(f"{on} {delta(sample) / seconds:.0%}")
        row("  cases agent waited for (share of the window)", ", ".join(shares))

    def report_lags(self, label: str, notices: list[Notice], start: float, end: float) -> None:
        p50, p99, worst, seen_p99 = lag_summary(notices)
        row(f"{label}: steps due", f"{len(notices):,} ({len(notices) / (end - start):.0f}/s)")
        row("  fire lag (fired − due) p50 / p99 / max", f"{p50:.3f} / {p99:.3f} / {worst:.3f} s")
        row("  seen by a consumer − due, p99", f"{seen_p99:.3f} s")
        row("  worst fire lag of each 5 s, s", lag_by_slice(notices, start, 5.0))

    async def fire_lag(self) -> None:
        say(f"\n3. fire lag at {self.o.cases:,} open cases")
        stop_seconds = await asyncio.to_thread(self.worker.stop)
        row("clean stop (SIGTERM → exit)", f"{stop_seconds:.1f} s")
        offset = self.workload.first_step_offset(now_us())
        seed_estimate = self.stream_cases * 150e-6
        self.stream_plan = DuePlan(
            now_us() + int((seed_estimate + 30) * 1_000_000), self.o.rate, offset
        )
        seconds = await self.seed(DUE_CASE, self.stream_plan, self.stream_cases)
        row(
            f"due stream: {self.stream_cases:,} cases written to the changelogs", f"{seconds:.1f} s"
        )
        await self.collector.start()
        spawned = self.worker.start()
        ready = await self.worker.wait_ready(timeout=900)
        row("restart after a clean stop → /readyz 200", f"{ready - spawned:.1f} s")
        self.flow = Flow(self.kafka, CASE_EVENTS, self.o.flow, self.next_flow_event())
        await self.flow.start()
        # Steps that came due during the restart fire right after it; measure from when the
        # worker has caught up with them.
        ready_us = int(ready * 1e6)
        missing = await self.wait_fired(0, ready_us, timeout=120)
        if missing:
            raise BenchError(f"{len(missing)} steps due before ready never fired")
        start = max(time.time(), self.stream_plan.first_due_us / 1e6) + 5
        end = start + self.o.window
        stream_end = self.stream_plan.due_us(self.stream_cases) / 1e6
        if end > stream_end:
            raise BenchError(f"the due stream ends {end - stream_end:.0f} s before the window")
        await asyncio.sleep(start - time.time())
        before, text_before = await self.usage(), await self.worker.metrics()
        lag_before = await group_lag(self.kafka, self.app_id, CASE_EVENTS)
        await asyncio.sleep(end - time.time())
        after, text_after = await self.usage(), await self.worker.metrics()
        lag = await group_lag(self.kafka, self.app_id, CASE_EVENTS)
        missing = await self.wait_fired(int(start * 1e6), int(end * 1e6), timeout=60)
        notices = self.stream_notices(self.collector.due_between(int(start * 1e6), int(end * 1e6)))
        if not notices:
            raise BenchError("no step came due during the window (is --stream long enough?)")
        say(
            f"  ({self.o.flow:.0f} events/s flowing, {self.o.flow_opened:.0%} new cases, the rest "
            f"acknowledgements and notes; "
            f"load {load_text()})"
        )
        self.report_lags(f"{self.o.window:.0f} s window", notices, start, end)
        row("  steps due but not fired", f"{len(missing)}")
        row("  case events not yet committed at the start / the end", f"{lag_before:,} / {lag:,}")
        worker_cpu, broker_cpu, ticks, steps, fed, fetches, full_gcs = (
            b - a for a, b in zip(before, after, strict=True)
        )
        row(
            "  CPU (worker / broker)",
            f"{worker_cpu / (end - start):.0%} / {broker_cpu / (end - start):.0%} of one core",
        )
        row("  ticks sent / steps fired by the worker", f"{ticks:,.0f} / {steps:,.0f}")
        row(
            "  records fed to the agents / per fetch handed over",
            f"{fed:,.0f} / {fed / fetches:,.1f}" if fetches else f"{fed:,.0f} / -",
        )
        row("  full collections of the worker's heap", f"{full_gcs:,.0f}")
        self.report_waits(text_before, text_after, end - start)
        rss = self.worker.rss_between(start, end)
        row("  worker RSS during the window (median / max)", _mib(statistics.median(rss), max(rss)))
        _, p99, worst, _ = lag_summary(notices)
        self.figures.bar(
            "fire lag p99 at full size",
            f"p99 {p99:.3f} s, max {worst:.3f} s over {len(notices):,} steps",
            p99 <= 1.0 and not missing,
        )
        self.steady_rss = statistics.median(rss)

    # -- phase 4 ------------------------------------------------------------------------------

    async def kill_and_restart(self) -> None:
        say(f"\n4. kill -9 of the worker holding {self.o.cases:,} cases, then restart")
        killed = self.worker.kill_hard()
        spawned = self.worker.start()
        ready = await self.worker.wait_ready(timeout=900)
        spawned_us = int(spawned * 1e6)

        def fired_after_restart() -> list[Notice]:
            return [n for n in self.collector.notices if n.fired_us >= spawned_us]

        if not await self.collector.wait_for(lambda: bool(fired_after_restart()), timeout=300):
            raise BenchError("no step fired within 300 s of the restart")
        first = min(n.fired_us for n in fired_after_restart()) / 1e6
        killed_us, ready_us = int(killed * 1e6), int(ready * 1e6)
        missing = await self.wait_fired(killed_us, ready_us, timeout=300)
        outage = list(self.fired_cases(killed_us, ready_us).values())
        caught_up = max((n.fired_us for n in outage), default=ready_us) / 1e6
        row("kill -9 → restarted process /readyz 200", f"{ready - killed:.1f} s")
        row("kill -9 → first step fired", f"{first - killed:.1f} s")
        row(
            f"kill -9 → all {len(outage):,} steps due meanwhile fired",
            f"{caught_up - killed:.1f} s ({len(missing)} missing)",
        )
        self.figures.bar(
            "kill -9 → back to firing",
            f"{first - killed:.1f} s (all steps of the outage by {caught_up - killed:.1f} s)",
            first - killed <= 60 and not missing,
        )
        settled = await self.caught_up(ready_us, timeout=300)
        _, _, ticks, steps, _, _, _ = await self.usage()
        if settled is None:
            recent = [n for n in self.collector.notices if n.fired_us >= now_us() - 30_000_000]
            late = statistics.median([(n.fired_us - n.due_us) / 1e6 for n in recent] or [0.0])
            row(
                "kill -9 → caught up (steps fired within 1 s again)",
                f"not within 300 s: still {late:.0f} s late (median, last 30 s)",
            )
            row("  ticks sent / steps fired since the restart", f"{ticks:,.0f} / {steps:,.0f}")
            self.figures.lines.append(
                f"after kill -9: not caught up within 300 s, steps still {late:.0f} s late; "
                f"{ticks:,.0f} ticks sent for {steps:,.0f} steps"
            )
            start, end = time.time() - 30, time.time()
        else:
            settled = max(settled, caught_up)  # the outage's own steps count too
            row("kill -9 → caught up (steps fired within 1 s again)", f"{settled - killed:.1f} s")
            row("  ticks sent / steps fired since the restart", f"{ticks:,.0f} / {steps:,.0f}")
            self.figures.lines.append(
                f"after kill -9: caught up (steps within 1 s again) at {settled - killed:.1f} s"
            )
            start = settled + 5
            end = start + max(30.0, self.o.window / 4)
            await asyncio.sleep(end - time.time())
            await self.wait_fired(int(start * 1e6), int(end * 1e6), timeout=60)
            notices = self.stream_notices(
                self.collector.due_between(int(start * 1e6), int(end * 1e6))
            )
            if notices:
                self.report_lags(f"then a {end - start:.0f} s window", notices, start, end)
        rss = self.worker.rss_between(start, end)
        if rss:
            row("  worker RSS after the restart (median)", _mib(statistics.median(rss)))

    async def usage(self) -> tuple[float, ...]:
        """CPU seconds of worker and broker, ticks sent, steps fired, records fed to the agents
        and the fetches they came in, full collections of the worker's heap, so far."""
        text = await self.worker.metrics()
        return (
            cpu_seconds(self.worker.pid),
            cpu_seconds(self.broker.pid()),
            metric_sum(text, "casegold_escalation_ticks_total"),
            metric_sum(text, "casegold_escalations_total"),
            metric_sum(text, "casegold_escalation_fed_records_sum"),
            metric_sum(text, "casegold_escalation_fed_records_count"),
            metric_sum(text, 'python_gc_collections_total{generation="2"}'),
        )

    async def caught_up(self, since_us: int, timeout: float) -> float | None:
        """The first due instant after since_us from which 5 s of steps all fired within 1 s."""
        deadline = time.monotonic() + timeout
        probe_us = since_us
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            while probe_us + 7_000_000 < now_us():
                span_end = probe_us + 5_000_000
                wanted = self.expected(probe_us, span_end)
                fired = self.fired_cases(probe_us, span_end)
                if wanted <= fired.keys() and all(
                    n.fired_us - n.due_us <= 1_000_000 for n in fired.values()
                ):
                    return probe_us / 1e6
                probe_us += 1_000_000
        return None

    # -- wrap-up ------------------------------------------------------------------------------

    def duplicates(self) -> tuple[int, int]:
        """(notices, notices whose event id was already seen)."""
        seen: set[str] = set()
        twice = 0
        for notice in self.collector.notices:
            if notice.event_id in seen:
                twice += 1
            seen.add(notice.event_id)
        return len(self.collector.notices), twice

    async def finish(self) -> None:
        if self.flow is not None:
            await self.flow.stop()
            row("flow events sent (failed)", f"{self.flow.sent:,} ({self.flow.failed})")
        total, twice = self.duplicates()
        row("escalation notices read (sent twice)", f"{total:,} ({twice})")
        stop_seconds = await asyncio.to_thread(self.worker.stop)
        peaks = self.worker.peaks
        row("clean stop (SIGTERM → exit)", f"{stop_seconds:.1f} s")
        row("worker peak RSS (VmHWM) per process", ", ".join(_mib(p) for p in peaks))
        peak = max(peaks, default=0)
        self.figures.bar(
            "worker RSS",
            f"steady {_mib(self.steady_rss)}, peak {_mib(peak)}",
            peak <= GiB,
        )

    def save_notices(self) -> None:
        with (self.dir / "notices.csv").open("w", encoding="ascii") as out:
            out.write("case_id,event_id,milestone,step,due_us,fired_us,seen_us\n")
            for n in self.collector.notices:
                out.write(
                    f"{n.case_id},{n.event_id},{n.milestone},{n.step},"
                    f"{n.due_us},{n.fired_us},{n.seen_us}\n"
                )

    async def cleanup(self) -> None:
        if self.flow is not None:
            await self.flow.stop()
        await self.collector.stop()
        if self.o.keep:
            self.save_notices()
        if self.worker.process.process is not None:
            await asyncio.to_thread(self.worker.stop)
        await asyncio.to_thread(self.broker.stop)
        if not self.o.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def _mib(*values: float) -> str:
    return " / ".join(f"{v / MiB:,.0f}" for v in values) + " MiB"


def _revision() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


async def main_async(options: Options, run_dir: Path) -> int:
    bench = Bench(options, run_dir)
    say(
        f"Escalation worker benchmark — Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, revision {_revision()} (packages copied at start)"
    )
    if options.worker_env:
        say(f"  worker environment (what-if run): {options.worker_env}")
    say(
        f"  {options.cases:,} cases; due stream {options.rate:.0f}/s; flow {options.flow:.0f} "
        f"events/s; window {options.window:.0f} s; load average {load_text()}"
    )
    began = time.monotonic()
    try:
        await bench.prepare()
        await bench.load()
        await bench.events_per_second()
        await bench.fire_lag()
        await bench.kill_and_restart()
        await bench.finish()
    except BenchError as error:
        say(f"\nbenchmark failed: {error}")
        return 1
    finally:
        await bench.cleanup()
    bench.figures.summary(began, 34)
    return 0


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/bench_escalation.py", description="Benchmark of the escalation worker."
    )
    parser.add_argument("--cases", type=int, default=1_000_000, help="open cases to load")
    parser.add_argument("--rate", type=float, default=100.0, help="steps coming due per second")
    parser.add_argument("--stream", type=float, default=900.0, help="seconds of due stream")
    parser.add_argument("--backlog", type=int, default=200_000, help="commands in the backlog")
    parser.add_argument("--opened", type=int, default=10_000, help="case_opened in the backlog")
    parser.add_argument("--window", type=float, default=120.0, help="fire-lag window, seconds")
    parser.add_argument("--flow", type=float, default=200.0, help="events/s during the window")
    parser.add_argument(
        "--flow-opened",
        type=float,
        default=0.5,
        help="share of the flow that is case_opened (0..1); the rest are commands",
    )
    parser.add_argument("--policy", type=Path, default=ROOT / "deploy" / "policy" / "default.yaml")
    parser.add_argument("--keep", action="store_true", help="keep var/bench/<run> afterwards")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the worker, for what-if runs (e.g. BROKER_SESSION_TIMEOUT=10)",
    )
    args = parser.parse_args(argv)
    worker_env = dict(item.split("=", 1) for item in args.worker_env)
    if args.cases < 1000:
        parser.error("--cases must be at least 1000")
    if not 0.0 <= args.flow_opened <= 1.0:
        parser.error("--flow-opened must be between 0 and 1")
    return Options(
        args.cases,
        args.rate,
        args.stream,
        args.backlog,
        args.opened,
        args.window,
        args.flow,
        args.flow_opened,
        args.policy,
        args.keep,
        worker_env,
    )


def main(run_dir: Path) -> int:
    """Run the benchmark in run_dir (which bench_escalation.py created); returns the exit code."""
    options = parse_options()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # retries during start-up are noise
    return asyncio.run(main_async(options, run_dir))
