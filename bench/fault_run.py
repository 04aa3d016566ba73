"""One fault-harness run: background load, the fault driver, revisit agents, then the checker.

After the load and the faults, the run waits (up to `settle_timeout`) for what may still be on
its way — a step due late in the run, a delivery in back-off, a projector catching up — and then
judges what the outside shows.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.fault_check import Verdict, check, evidence, gather
from bench.fault_driver import Driver
from bench.fault_load import Load
from bench.fault_stack import Stack
from casegold_contracts import CASE_EVENTS, ESCALATIONS
from casegold_platform.settings import KafkaSettings
from tests.support.brokers import ScratchBroker
from tests.support.receivers import Receiver
from tests.support.scratch_postgres import ScratchPostgres


@dataclass
class Options:
    """How hard and how long a run pushes."""

    rate: float  # cases opened per second (each brings about three commands)
    duration: float  # seconds of opening cases; 0: until the last fault recovered
    schedule: list[tuple[str, str]]
    interval: float = 10.0  # seconds between faults
    first_fault_after: float = 5.0
    hold: float = 3.0
    revisit_agents: int = 3
    settle_timeout: float = 120.0


@dataclass
class Outcome:
    """What a run reports."""

    load: dict[str, Any]
    faults: dict[str, Any]
    verdict: Verdict
    elapsed: float
    rates: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        figures = self.verdict.figures
        return [
            f"requests {self.load['requests']} ({self.rates['requests_per_s']:.0f}/s over "
            f"{self.rates['load_s']:.0f} s), cases {self.load['cases']} {self.load['scripts']}",
            f"first answers {self.load['first']}, final {self.load['final']}, "
            f"retried {self.load['retried']}, refusals {self.load.get('refusals', {})}",
            f"faults {self.faults['faults']}: {self.faults['by_kind']}; slowest recovery "
            f"{self.faults['slowest_recovery_s']} s",
            f"lost {figures['lost']}, duplicated {figures['duplicated']}, false escalations "
            f"{figures['false_escalations']} (met up to {figures.get('false_margin_max_s', 0)} s "
            f"before due), late (> 5 s) {figures.get('late', 0)} of "
            f"{figures.get('steps_fired', 0)} steps (max lag {figures.get('fire_lag_max_s', 0)} s)",
            f"leases {figures.get('leases', 0)}, double leases {figures.get('double_lease', 0)}, "
            f"revisits answered {figures.get('revisits_answered', 0)}, notices resent under the "
            f"same id {figures.get('notices_resent_same_id', 0)}, events republished under "
            f"their id {figures.get('republished', 0)}, written without a 2xx "
            f"{figures.get('written_without_2xx', 0)}",
            f"run {self.elapsed:.0f} s; still pending at the end: {len(self.verdict.pending)}",
        ]


async def run(
    stack: Stack,
    broker: ScratchBroker,
    postgres: ScratchPostgres,
    receiver: Receiver,
    options: Options,
) -> Outcome:
    """Drive the load and the faults against the running stack, then check."""
    began = time.monotonic()
    kafka = KafkaSettings(bootstrap=broker.bootstrap, partitions=stack.partitions)
    connector = aiohttp.TCPConnector(limit=250)
    async with aiohttp.ClientSession(connector=connector) as client:
        load = Load(
            client,
            stack.url("intake"),
            stack.url("followup"),
            rate=options.rate,
            duration=options.duration or float("inf"),
        )
        driver = Driver(
            stack, broker, postgres, kafka, options.schedule, options.interval, options.hold
        )
        stop = asyncio.Event()
        agents = [
            asyncio.create_task(load.revisit_agent(f"revisit-{n}", stop))
            for n in range(options.revisit_agents)
        ]

        async def faults() -> None:
            try:
                await asyncio.sleep(options.first_fault_after)
                await driver.run()
            finally:  # a driver that failed must not leave the load opening cases for ever
                load.stop_opening.set()

        async def progress() -> None:
            while True:
                await asyncio.sleep(30)
                done = sum(
                    r.final != "pending" for c in load.cases for r in (c.opened, *c.commands)
                )
                print(
                    f"{time.monotonic() - began:.0f} s: {len(load.cases)} cases, {done} requests "
                    f"answered, {len(load.tasks)} scripts running",
                    flush=True,
                )

        faulting = asyncio.create_task(faults())
        reporter = asyncio.create_task(progress())
        await load.run()
        load_seconds = time.monotonic() - load.started
        print(f"load done after {time.monotonic() - began:.0f} s", flush=True)
        await faulting
        print(f"faults done after {time.monotonic() - began:.0f} s", flush=True)
        stop.set()
        await asyncio.gather(*agents)
        reporter.cancel()
        print(f"agents done after {time.monotonic() - began:.0f} s", flush=True)
    groups = {
        f"rel-{stack.run_id}": CASE_EVENTS,
        f"rel-followup-{stack.run_id}": CASE_EVENTS,
        f"rel-notifier-{stack.run_id}": ESCALATIONS,
    }
    settling = time.monotonic()
    deadline = settling + options.settle_timeout
    while True:
        outside = await gather(broker.bootstrap, stack.dsn, groups, receiver.received)
        verdict = check(load, outside)
        if not verdict.pending or time.monotonic() > deadline:
            break
        # Each look reads both topics from the start: look less often once it takes a while.
        await asyncio.sleep(2.0 if time.monotonic() - settling < 30 else 10.0)
    print(
        f"settled after {time.monotonic() - settling:.0f} s, {len(verdict.pending)} pending",
        flush=True,
    )
    if verdict.suspects:
        suspects = set(sorted(verdict.suspects)[:5])
        path = stack.folder / "suspects.json"
        path.write_text(json.dumps(evidence(outside, suspects), indent=1, default=str))
        verdict.problems.append(f"the records of {len(suspects)} suspect cases: {path}")
    figures = load.figures()
    return Outcome(
        figures,
        driver.figures(),
        verdict,
        time.monotonic() - began,
        {"requests_per_s": figures["requests"] / max(load_seconds, 1.0), "load_s": load_seconds},
    )
