"""Faust's own floor: events/s of an agent that does (almost) nothing, on this machine.

    .venv/bin/python bench/faust_floor.py [--events 100000] [--modes pass,table,batch]

Not part of `make bench` (its name does not start with bench_): it answers one question for
the escalation worker's events/s target — how fast can a Faust worker configured like ours go
before any domain code runs? Each mode runs with a fresh app id and data folder, on the broker at
CASEGOLD_KAFKA_BOOTSTRAP, over the same `--events` messages (250-byte values, random keys, 12
partitions):

- `pass`: the agent iterates `stream.events()` and does nothing;
- `table`: the agent writes each value to a RocksDB table (local put + changelog record);
- `batch`: the records reach the agent a fetch at a time through the worker's batch consumer
  (casegold_escalation/fetch.py), and it only acks them.

The figure is events over the seconds between the group's first and last committed offsets
(Faust commits every second, so about ±1 s on a run of tens of seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.escalation_harness import create_topics, group_lag  # noqa: E402
from casegold_platform.kafka import TopicSpec  # noqa: E402
from casegold_platform.settings import KafkaSettings  # noqa: E402


def worker(mode: str, app_id: str, topic: str, data_dir: str) -> None:
    """The probe worker (run in its own process)."""
    import faust

    from casegold_escalation.app import FAUST_TUNING

    kafka = KafkaSettings()
    app = faust.App(
        app_id,
        broker=f"kafka://{kafka.bootstrap}",
        store="rocksdb://",
        datadir=data_dir,
        topic_partitions=kafka.partitions,
        **FAUST_TUNING,
        web_enabled=False,
    )
    source = app.topic(topic, partitions=kafka.partitions)
    table = app.Table("probe", partitions=kafka.partitions, key_type=bytes, value_type=bytes)

    feed = None
    if mode == "batch":
        from casegold_escalation import fetch

        fetch.install(app)
        feed = fetch.add_feed(app, "probe", [topic])

    async def ack(message: object) -> None:
        app.consumer.ack(message)  # type: ignore[arg-type]

    async def agent(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        if feed is not None:
            feed.start(ack)
        async for event in stream.events():
            if mode == "table":
                table[event.message.key] = event.message.value
            yield None

    app.agent(source, name="probe", concurrency=1)(agent)
    faust.Worker(app, loglevel="WARNING").execute_from_commandline()


async def produce(kafka: KafkaSettings, topic: str, events: int) -> None:
    await create_topics(kafka, [TopicSpec(topic, kafka.partitions, kafka.replication_factor)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        value = b"x" * 250
        pending = []
        for _ in range(events):
            pending.append(await producer.send(topic, value, key=uuid.uuid4().bytes))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def drain_seconds(kafka: KafkaSettings, group: str, topic: str, events: int) -> float:
    """Seconds between the group's first committed progress and its last."""
    first = last = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        lag = await group_lag(kafka, group, topic)
        now = time.monotonic()
        if lag < events and first is None:
            first = now
        if lag == 0:
            last = now
            break
        await asyncio.sleep(0.2)
    if first is None or last is None:
        raise SystemExit(f"{group} did not drain {topic} within 900 s")
    return last - first


async def measure(kafka: KafkaSettings, mode: str, events: int) -> tuple[float, float]:
    """Events/s (and seconds) of a probe worker in `mode` over `events` fresh messages."""
    run = uuid.uuid4().hex[:8]
    topic, app_id = f"bench.floor.{run}.{mode}", f"bench-floor-{run}-{mode}"
    await produce(kafka, topic, events)
    data_dir = tempfile.mkdtemp(prefix="faust-floor-")
    env = {**os.environ, "CASEGOLD_KAFKA_BOOTSTRAP": kafka.bootstrap}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, __file__, "--worker", mode, app_id, topic, data_dir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        seconds = await drain_seconds(kafka, app_id, topic, events)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)
        shutil.rmtree(data_dir, ignore_errors=True)
    # The drain is timed between polls 0.2 s apart: never report more than that resolution.
    seconds = max(seconds, 0.2)
    return events / seconds, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--modes", default="pass,table")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "APP", "TOPIC", "DIR"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    kafka = KafkaSettings()
    cores = os.cpu_count()
    print(f"Faust floor: {args.events:,} events, {kafka.partitions} partitions, {cores} cores")
    for mode in args.modes.split(","):
        rate, seconds = asyncio.run(measure(kafka, mode, args.events))
        print(f"  {mode:<6} {rate:9,.0f} events/s ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
