"""Processes and Kafka plumbing of the escalation benchmark.

- `PrivateBroker`: a broker of the benchmark's own (deploy/kafka/kafka.sh on free ports), so a
  million benchmark cases never land in the shared broker's `complaints.case-events`, which
  keeps its history forever and is read by every other test and service.
- `Worker`: one `python -m casegold_escalation` (tests/support's EscalationProcess) plus what the
  benchmark needs around it: pause/resume, metrics, RSS from /proc.
- `Collector`: reads `complaints.escalations` and keeps each notice's due, fired and seen times.
- `Flow`: a steady stream of events at a fixed rate (new cases and acknowledgements).
- `raw_consume`: what a bare aiokafka consumer does with the same messages (getmany + parse).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from casegold_contracts import ESCALATIONS, EscalationRaised, Undecodable, parse
from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_sla import to_us
from tests.support.brokers import free_port
from tests.support.escalation import EscalationProcess

ROOT = Path(__file__).resolve().parents[1]
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"


class BenchError(Exception):
    """A phase of the benchmark could not complete (the message says which and why)."""


def now_us() -> int:
    return time.time_ns() // 1000


# -- the broker -------------------------------------------------------------------------------


class PrivateBroker:
    """A Kafka broker of the benchmark's own, started and stopped through deploy/kafka/kafka.sh."""

    def __init__(self, var_dir: Path, heap: str = "1G") -> None:
        self.bootstrap = f"127.0.0.1:{free_port()}"
        self.env = dict(
            os.environ,
            CASEGOLD_KAFKA_BOOTSTRAP=self.bootstrap,
            CASEGOLD_KAFKA_CONTROLLER_PORT=str(free_port()),
            CASEGOLD_VAR_DIR=str(var_dir),
            CASEGOLD_KAFKA_HEAP=heap,
        )
        self.started = False

    def _run(self, command: str) -> str:
        done = subprocess.run(
            [str(KAFKA_SH), command], env=self.env, capture_output=True, text=True, timeout=240
        )
        if done.returncode != 0:
            raise BenchError(f"kafka.sh {command} failed:\n{done.stderr[-2000:]}")
        return done.stdout.strip()

    def start(self) -> None:
        self._run("start")
        self.started = True

    def pid(self) -> int | None:
        try:
            return int(self._run("pid"))
        except (BenchError, ValueError):
            return None

    def stop(self) -> None:
        if self.started:
            self._run("stop")
            self.started = False


async def create_topics(kafka: KafkaSettings, specs: Iterable[TopicSpec]) -> None:
    await ensure_topics(kafka.bootstrap, specs)


# -- producing --------------------------------------------------------------------------------

_PARTITIONER = DefaultPartitioner()


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the platform's producers (aiokafka's default partitioner) give a key."""
    every = list(range(partitions))
    return int(_PARTITIONER(key, every, every))


class BatchWriter:
    """Writes records with acks=all as fast as one aiokafka producer goes.

    Partitions are computed here as the platform's producers compute them (the default
    partitioner on the key), and records are packed into per-partition batches directly: several
    times cheaper per record than `send`, and a partition's records keep their order.
    """

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap,
            acks="all",
            linger_ms=20,
            max_batch_size=512 * 1024,
            request_timeout_ms=60_000,
        )
        self._builders: dict[tuple[str, int], object] = {}
        self._pending: list[asyncio.Future[object]] = []
        self.written = 0

    async def __aenter__(self) -> BatchWriter:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                await self.flush()
        finally:
            await self.producer.stop()

    async def write(self, topic: str, key: bytes, value: bytes) -> None:
        partition = partition_of(key, self.kafka.partitions)
        builder: Any = self._builders.get((topic, partition))
        if builder is None:
            builder = self._builders[(topic, partition)] = self.producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None) is None:
            await self._send(topic, partition, builder)
            builder = self._builders[(topic, partition)] = self.producer.create_batch()
            builder.append(key=key, value=value, timestamp=None)
        self.written += 1

    async def _send(self, topic: str, partition: int, builder: Any) -> None:
        self._pending.append(await self.producer.send_batch(builder, topic, partition=partition))
        if len(self._pending) >= 64:
            await asyncio.gather(*self._pending)
            self._pending.clear()

    async def flush(self) -> None:
        """Send what is buffered and wait until the broker has acknowledged everything."""
        for (topic, partition), builder in list(self._builders.items()):
            if cast(Any, builder).record_count():
                await self._send(topic, partition, builder)
        self._builders.clear()
        await asyncio.gather(*self._pending)
        self._pending.clear()


async def end_offsets(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def partition_lags(kafka: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """Messages of each partition of the topic the group has not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    ends = await end_offsets(kafka, topic)
    done = {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == topic}
    return {p: end - max(0, done.get(p, 0)) for p, end in ends.items()}


async def group_lag(kafka: KafkaSettings, group: str, topic: str) -> int:
    """Messages of the topic the group has not committed yet."""
    return sum((await partition_lags(kafka, group, topic)).values())


@dataclass
class RawRead:
    messages: int
    seconds: float
    parsed: int


async def raw_consume(
    kafka: KafkaSettings, topic: str, start: dict[int, int], stop: dict[int, int], decode: bool
) -> RawRead:
    """Read the messages between two offset maps with getmany (and parse them if decode)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        wanted = {p: stop[p] for p in stop if stop[p] > start.get(p, 0)}
        tps = [TopicPartition(topic, p) for p in wanted]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start.get(tp.partition, 0))
        total = sum(wanted[p] - start.get(p, 0) for p in wanted)
        seen = parsed = 0
        began = time.perf_counter()
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, messages in batch.items():
                limit = wanted[tp.partition]
                for message in messages:
                    if message.offset >= limit:
                        continue
                    seen += 1
                    if decode and not isinstance(parse(message.value or b""), Undecodable):
                        parsed += 1
                if messages and messages[-1].offset + 1 >= limit:
                    consumer.pause(tp)
        return RawRead(seen, time.perf_counter() - began, parsed)
    finally:
        await consumer.stop()


# -- the worker -------------------------------------------------------------------------------


def read_status(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in bytes; (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used so far (0 if it is gone)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_sum(text: str, name: str) -> float:
    """Sum of every sample of a metric family (all label sets)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class RssSample:
    at: float
    rss: int


class Worker:
    """One escalation worker process, watched: RSS every 0.5 s, metrics on demand."""

    def __init__(
        self,
        app_id: str,
        data_dir: Path,
        policy_file: Path,
        env: dict[str, str] | None = None,
        name: str = "w1",
    ) -> None:
        self.process = EscalationProcess(app_id, name, data_dir, str(policy_file))
        self.env = env or {}
        self.samples: list[RssSample] = []
        self.peaks: list[int] = []  # VmHWM of every process that has ended
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def alive(self) -> bool:
        return self.process.process is not None and self.process.process.poll() is None

    def start(self) -> float:
        """Spawn the process; returns the wall-clock time it was spawned."""
        spawned = time.time()
        saved = {name: os.environ.get(name) for name in self.env}
        # EscalationProcess passes os.environ on to the worker; PYTHONPATH is prepended to.
        for name, value in self.env.items():
            previous = saved[name] if name == "PYTHONPATH" else None
            os.environ[name] = os.pathsep.join([value, previous]) if previous else value
        try:
            self.process.start()
        finally:
            for name, old in saved.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old
        self._stop_sampling.clear()
        self._sampler = threading.Thread(target=self._sample, args=(self.pid,), daemon=True)
        self._sampler.start()
        return spawned

    def _sample(self, pid: int) -> None:
        while not self._stop_sampling.wait(0.5):
            rss, _ = read_status(pid)
            if rss:
                self.samples.append(RssSample(time.time(), rss))

    def _end_sampling(self) -> None:
        self.peaks.append(read_status(self.pid)[1])
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join(timeout=5)

    def ready(self) -> bool:
        return self.process.ready()

    async def wait_ready(self, timeout: float) -> float:
        """Poll /readyz every 0.1 s; returns the wall-clock time it first answered 200."""
        deadline = time.monotonic() + timeout
        while True:
            if await asyncio.to_thread(self.process.ready):
                return time.time()
            if not self.alive():
                raise BenchError(f"worker exited:\n{self.process.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(
                    f"worker not ready after {timeout:.0f} s:\n{self.process.log_tail()}"
                )
            await asyncio.sleep(0.1)

    async def readyz(self) -> dict[str, Any]:
        def get() -> dict[str, Any]:
            url = f"http://127.0.0.1:{self.process.port}/readyz"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return cast(dict[str, Any], json.loads(response.read()))
            except urllib.error.HTTPError as error:
                return cast(dict[str, Any], json.loads(error.read()))

        return await asyncio.to_thread(get)

    async def metrics(self) -> str:
        try:
            return await asyncio.to_thread(self.process.metrics)
        except (urllib.error.URLError, OSError) as error:
            raise BenchError(f"worker /metrics did not answer: {error}") from error

    async def events_total(self) -> float:
        return metric_sum(await self.metrics(), "casegold_escalation_events_total")

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill_hard(self) -> float:
        """kill -9; returns the wall-clock time of the kill."""
        self.peaks.append(read_status(self.pid)[1])
        killed = time.time()
        self.process.kill_hard()
        self._stop_sampling.set()
        return killed

    def stop(self) -> float:
        """SIGTERM and wait (SIGKILL after 60 s); returns the seconds it took."""
        if not self.alive():
            return 0.0
        self._end_sampling()
        began = time.monotonic()
        self.process.stop()
        return time.monotonic() - began

    def rss_between(self, start: float, end: float) -> list[int]:
        return [s.rss for s in self.samples if start <= s.at <= end]


# -- what the worker sends --------------------------------------------------------------------


@dataclass(slots=True)
class Notice:
    """One escalation_raised as read off complaints.escalations."""

    case_id: str
    event_id: str
    milestone: str
    step: str
    due_us: int
    fired_us: int
    seen_us: int


@dataclass
class Collector:
    """Keeps every escalation notice the worker sends, from the moment it is started."""

    kafka: KafkaSettings
    notices: list[Notice] = field(default_factory=list)
    undecodable: int = 0
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        tps = [TopicPartition(ESCALATIONS, p) for p in range(self.kafka.partitions)]
        consumer.assign(tps)
        for tp, offset in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, offset)
        self._task = asyncio.create_task(self._read(consumer))

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                seen = now_us()
                for messages in batch.values():
                    for message in messages:
                        event = parse(message.value or b"")
                        if not isinstance(event, EscalationRaised):
                            self.undecodable += 1
                            continue
                        payload = event.payload
                        self.notices.append(
                            Notice(
                                str(event.case_id),
                                str(event.event_id),
                                payload.milestone,
                                payload.step,
                                to_us(payload.due_at),
                                to_us(payload.fired_at),
                                seen,
                            )
                        )
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    def due_between(self, start_us: int, end_us: int) -> list[Notice]:
        return [n for n in self.notices if start_us <= n.due_us < end_us]

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has finished."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- a steady flow of events ------------------------------------------------------------------


@dataclass
class Flow:
    """Sends `rate` events per second, taking each from `next_event`, until stopped."""

    kafka: KafkaSettings
    topic: str
    rate: float
    next_event: Callable[[], tuple[bytes, bytes]]
    sent: int = 0
    failed: int = 0
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.kafka.bootstrap, acks="all", enable_idempotence=True, linger_ms=2
        )
        await producer.start()
        self._task = asyncio.create_task(self._send(producer))

    async def _send(self, producer: AIOKafkaProducer) -> None:
        began = time.monotonic()
        pending: list[asyncio.Future[object]] = []
        try:
            while True:
                owed = int((time.monotonic() - began) * self.rate) - self.sent
                for _ in range(max(0, owed)):
                    key, value = self.next_event()
                    pending.append(await producer.send(self.topic, value, key=key))
                    self.sent += 1
                done = [f for f in pending if f.done()]
                self.failed += sum(1 for f in done if f.exception() is not None)
                pending = [f for f in pending if not f.done()]
                await asyncio.sleep(0.02)
        finally:
            await producer.stop()

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None


# -- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
