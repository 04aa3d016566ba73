"""Reporting benchmark: event → visible in GET /v1/cases at a fixed rate, and replay speed.

Reporting runs as a real process (`python -m casegold_reporting`) on a fresh schema and
fresh topics. Phase 1 publishes case events open-loop at `--rate` events/s (acks=all, as
intake does) for `--duration` s; for a sample of them (`--sample` per second) the latency
runs from the broker's acknowledgement (the instant intake would reply 2xx) to the moment
the event's timeline row, which `GET /v1/cases/{id}` answers from, is committed (one query
every 20 ms for all waiting samples: ±10 ms); some are then fetched through the API.
Phase 2 fills a topic with `--replay` events (10 per case) and times `--shards` processes
projecting it from the start into an empty schema.

    .venv/bin/python bench/bench_reporting.py [--rate 1000] [--duration 60] [--replay 1000000]
        [--shards 1] [--sample 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import uvloop

from casegold_contracts import dump
from casegold_contracts.builders import make_event
from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics
from casegold_platform.settings import KafkaSettings, PostgresSettings, load

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "deploy/policy/default.yaml"
LIFECYCLE: tuple[tuple[str, dict[str, Any]], ...] = (
    ("case_opened", {}), ("case_assigned", {}), ("case_acknowledged", {}), ("note_added", {}),
    ("customer_contacted", {}), ("customer_awaited", {}), ("case_resumed", {}),
    ("solution_agreed", {}), ("case_resolved", {}), ("case_closed", {}),
)  # fmt: skip
AGENT = {"Authorization": "Bearer dev-agent-key"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Templates:
    """One JSON document per lifecycle step; events are stamped from them cheaply."""

    def __init__(self) -> None:
        self.documents = [
            orjson.loads(dump(make_event(kind, **fields))) for kind, fields in LIFECYCLE
        ]

    def event(self, step: int, case_id: uuid.UUID, at: datetime) -> tuple[bytes, bytes]:
        """The key and value of lifecycle step `step` of a case at `at`."""
        document: dict[str, Any] = dict(self.documents[step])
        stamp = at.isoformat().replace("+00:00", "Z")
        document.update(
            event_id=str(uuid.uuid4()), case_id=str(case_id), occurred_at=stamp, recorded_at=stamp
        )
        return str(case_id).encode(), orjson.dumps(document)


@contextmanager
def reporting(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The reporting service as a process."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "casegold_reporting"],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def service_env(dsn: str, topics: tuple[str, str], port: int) -> dict[str, str]:
    return {
        "CASEGOLD_REPORTING_PORT": str(port),
        "CASEGOLD_REPORTING_DEV_KEYS": "true",
        "CASEGOLD_REPORTING_CASE_EVENTS_TOPIC": topics[0],
        "CASEGOLD_REPORTING_ESCALATIONS_TOPIC": topics[1],
        "CASEGOLD_REPORTING_LOG_LEVEL": "WARNING",
        "CASEGOLD_PG_DSN": dsn,
        "CASEGOLD_POLICY_FILE": str(POLICY),
    }


async def wait_ready(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"reporting at {base} not ready after {timeout} s")


async def fresh(kafka: KafkaSettings, dsn: str, run: str, name: str) -> tuple[str, tuple[str, str]]:
    """A fresh schema and two fresh topics."""
    schema = f"bench_reporting_{name}_{run}"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()
    topics = (f"bench-reporting-{name}-cases-{run}", f"bench-reporting-{name}-esc-{run}")
    await ensure_topics(kafka.bootstrap, [TopicSpec(t, kafka.partitions) for t in topics])
    # The application name finds the service's PostgreSQL backends, to measure their CPU.
    return f"{dsn}?search_path={schema}&application_name={schema}", topics


async def drop(dsn: str, run: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for name in ("latency", "replay"):
            await connection.execute(
                f'DROP SCHEMA IF EXISTS "bench_reporting_{name}_{run}" CASCADE'
            )
    finally:
        await connection.close()


async def latency_phase(
    kafka: KafkaSettings, dsn: str, run: str, rate: int, duration: float, sample: int
) -> list[float]:
    """Latencies (s) from broker ack to visible, for the sampled events."""
    schema_dsn, topics = await fresh(kafka, dsn, run, "latency")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    templates = Templates()
    log = ROOT / "var/bench-reporting-latency.log"
    with reporting(service_env(schema_dsn, topics, port), log) as process:
        await wait_ready(base)
        cpu_before = cpu_seconds(process.pid)
        producer = durable_producer(kafka)
        await producer.start()
        watch = Watch(schema_dsn)
        poller = asyncio.create_task(watch.run())
        cases: deque[tuple[uuid.UUID, int]] = deque()  # (case, next lifecycle step)
        start = time.monotonic()
        every = max(1, rate // sample)
        for index in range(int(rate * duration)):
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            # Half the events open cases, half move an open one a step on.
            if index % 2 == 0 or not cases:
                case_id, step = uuid.uuid4(), 0
            else:
                case_id, step = cases.popleft()
            key, value = templates.event(step, case_id, datetime.now(UTC))
            if step + 1 < len(LIFECYCLE):
                cases.append((case_id, step + 1))
            future = await producer.send(kafka_topic(topics), key=key, value=value)
            if index % every == 0:
                event_id = uuid.UUID(orjson.loads(value)["event_id"])
                future.add_done_callback(partial(watch.acked, case_id, event_id))
        await producer.flush()
        await watch.drained(timeout=15)
        poller.cancel()
        cpu = cpu_seconds(process.pid) - cpu_before
        print(
            f"  service CPU while loaded: {cpu:.1f} s = "
            f"{cpu / (rate * duration) * 1e6:.0f} µs/event; load average {load_average()}"
        )
        async with httpx.AsyncClient(base_url=base, headers=AGENT, timeout=10) as client:
            confirmed = await watch.confirm(client)
            print(f"  {confirmed} of the sampled events checked through the API: 200")
            print("  " + projector_figures((await client.get("/metrics")).text))
        await producer.stop()
    if watch.waiting:
        print(f"  {len(watch.waiting)} sampled events not visible 15 s after the last send")
    return watch.latencies


class Watch:
    """Sampled events: when the broker acked each, and when its row became readable.

    The rows the API answers from are polled in one query every 20 ms, so measuring adds
    almost no load to the measured process; the API is then asked for a sample of them.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.waiting: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
        self.latencies: list[float] = []
        self.seen: list[tuple[uuid.UUID, uuid.UUID]] = []
        self.empty = asyncio.Event()

    def acked(self, case_id: uuid.UUID, event_id: uuid.UUID, future: asyncio.Future[Any]) -> None:
        self.waiting[(case_id, event_id)] = time.monotonic()
        self.empty.clear()

    async def run(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            while True:
                await asyncio.sleep(0.02)
                if not self.waiting:
                    continue
                keys = list(self.waiting)
                rows = await connection.fetch(
                    "SELECT case_id, event_id FROM reporting_timeline WHERE (case_id, event_id) "
                    "IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))",
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                )
                now = time.monotonic()
                for row in rows:
                    key = (row["case_id"], row["event_id"])
                    self.latencies.append(now - self.waiting.pop(key))
                    self.seen.append(key)
                if not self.waiting:
                    self.empty.set()
        finally:
            await connection.close()

    async def drained(self, timeout: float) -> None:
        await asyncio.sleep(0)  # the last acks' callbacks run first
        with suppress(TimeoutError):
            await asyncio.wait_for(self.empty.wait(), timeout)

    async def confirm(self, client: httpx.AsyncClient) -> int:
        ok = 0
        for case_id, event_id in self.seen[:: max(1, len(self.seen) // 50)]:
            reply = await client.get(f"/v1/cases/{case_id}/events/{event_id}")
            ok += reply.status_code == 200
        return ok


def projector_figures(metrics: str) -> str:
    """Batches written, their mean duration, and the lag left, from the service's /metrics."""
    values: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith(
            ("casegold_reporting_batch_seconds_", "casegold_reporting_consumer_lag")
        ):
            name, _, value = line.rpartition(" ")
            values[name.split("{")[0]] = values.get(name.split("{")[0], 0.0) + float(value)
    count = values.get("casegold_reporting_batch_seconds_count", 0.0)
    total = values.get("casegold_reporting_batch_seconds_sum", 0.0)
    mean = total / count if count else 0.0
    lag = values.get("casegold_reporting_consumer_lag", 0.0)
    return f"projector: {count:.0f} batches, mean {mean * 1000:.1f} ms, lag at the end {lag:.0f}"


def kafka_topic(topics: tuple[str, str]) -> str:
    return topics[0]


async def replay_phase(
    kafka: KafkaSettings, dsn: str, run: str, events: int, shards: int
) -> tuple[float, float]:
    """(seconds to fill the topic, seconds to project it from the start)."""
    schema_dsn, topics = await fresh(kafka, dsn, run, "replay")
    templates = Templates()
    began = time.monotonic()
    producer = durable_producer(kafka, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    cases = events // len(LIFECYCLE)
    block = 1_000  # cases interleaved: every step of a block of cases, step by step
    opened = datetime(2025, 3, 3, 9, tzinfo=UTC)
    pending: list[asyncio.Future[Any]] = []
    for first in range(0, cases, block):
        ids = [uuid.UUID(int=first + n + 1) for n in range(min(block, cases - first))]
        for step in range(len(LIFECYCLE)):
            for number, case_id in enumerate(ids):
                at = opened + timedelta(minutes=first + number, hours=step)
                key, value = templates.event(step, case_id, at)
                pending.append(await producer.send(topics[0], key=key, value=value))
        await asyncio.gather(*pending)
        pending.clear()
    await producer.stop()
    filled = time.monotonic() - began
    print(f"  topic filled: {cases * len(LIFECYCLE):,} events in {filled:.1f} s")
    started = time.monotonic()
    cpu_busy_fraction()
    print(f"  load average before projecting: {load_average()}")
    pids: list[int] = []
    with ExitStack() as processes:
        for shard in range(shards):
            env = service_env(schema_dsn, topics, free_port())
            env["CASEGOLD_REPORTING_PROJECTOR_SHARDS"] = str(shards)
            env["CASEGOLD_REPORTING_PROJECTOR_SHARD"] = str(shard)
            pids.append(
                processes.enter_context(
                    reporting(env, ROOT / f"var/bench-reporting-replay-{shard}.log")
                ).pid
            )
        connection = await asyncpg.connect(schema_dsn)
        first_batch: float | None = None
        try:
            while True:
                await asyncio.sleep(0.5)
                try:
                    done = await connection.fetchval(
                        "SELECT coalesce(sum(next_offset), 0) FROM reporting_offsets "
                        "WHERE topic = $1",
                        topics[0],
                    )
                except asyncpg.UndefinedTableError:
                    continue
                if done and first_batch is None:
                    first_batch = time.monotonic()
                if done >= cases * len(LIFECYCLE):
                    break
            finished = time.monotonic()
            projected = finished - started
            backends = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = current_schema() "
                "AND pid <> pg_backend_pid()"
            )
            database_cpu = sum(cpu_seconds(row["pid"]) for row in backends)
        finally:
            await connection.close()
        cpu = sum(cpu_seconds(pid) for pid in pids)
        busy = cpu_busy_fraction()
    total = cases * len(LIFECYCLE)
    print(
        f"  projector CPU: {cpu:.1f} s for {total:,} events = {cpu / total * 1e6:.0f} µs/event "
        f"({total / cpu:,.0f} events per CPU-second of the projector processes); "
        f"machine CPU busy over the run: {busy:.0%}, load average {load_average()}"
    )
    print(
        f"  PostgreSQL CPU of the service's connections: {database_cpu:.1f} s = "
        f"{database_cpu / total * 1e6:.0f} µs/event"
    )
    steady = cases * len(LIFECYCLE) / (finished - (first_batch or started))
    print(f"  from the first batch written: {steady:,.0f} events/s")
    return filled, projected


def load_average() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_BUSY: list[tuple[int, int]] = []


def cpu_busy_fraction() -> float:
    """Share of all cores busy since the previous call (first call: since boot)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, total = values[3] + values[4], sum(values)
    previous = _BUSY[-1] if _BUSY else (0, 0)
    _BUSY.append((idle, total))
    return 1 - (idle - previous[0]) / max(1, total - previous[1])


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--sample", type=int, default=100, help="events watched per second")
    parser.add_argument("--replay", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=1, help="projector processes for replay")
    arguments = parser.parse_args()
    kafka, dsn = load(KafkaSettings), load(PostgresSettings).dsn
    (ROOT / "var").mkdir(exist_ok=True)
    run = uuid.uuid4().hex[:8]
    try:
        if arguments.duration > 0:
            print(
                f"reporting: event → visible at {arguments.rate} events/s "
                f"for {arguments.duration:.0f} s"
            )
            latencies = await latency_phase(
                kafka, dsn, run, arguments.rate, arguments.duration, arguments.sample
            )
            print(
                f"  {len(latencies)} sampled: p50 {quantile(latencies, 0.5):.3f} s, "
                f"p99 {quantile(latencies, 0.99):.3f} s, max {max(latencies, default=0):.3f} s "
                f"(bar p99 ≤ 1 s: {'met' if quantile(latencies, 0.99) <= 1 else 'NOT met'})"
            )
        if arguments.replay > 0:
            print(
                f"reporting: replay of {arguments.replay:,} events from the start of the topic, "
                f"{arguments.shards} projector process(es)"
            )
            _, projected = await replay_phase(kafka, dsn, run, arguments.replay, arguments.shards)
            speed = arguments.replay / projected
            print(
                f"  projected in {projected:.1f} s (process start included): {speed:,.0f} events/s "
                f"(bar ≥ 10,000: {'met' if speed >= 10_000 else 'NOT met'})"
            )
    finally:
        await drop(dsn, run)


if __name__ == "__main__":
    uvloop.run(main())
