"""The broker's and PostgreSQL's own answer times, seen from an idle process beside a bench.

Run it while `bench/bench_intake.py` loads intake: every 10 ms it runs `SELECT 1` on a
connection of its own and produces one message (acks=all, idempotent) to a topic of its own,
and measures each, plus its own event loop's lag. If these stay short while intake's
requests wait long on the same broker and database, the wait is inside intake's processes,
not in the backends.

    .venv/bin/python bench/intake_side_probe.py [--seconds 12]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import uvloop
from aiokafka import AIOKafkaProducer

from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings, PostgresSettings, load

TOPIC = "bench.side-probe"
PERIOD = 0.01


def _quantiles(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[int(q * (len(ordered) - 1))] * 1000

    return (f"  {name}: n {len(ordered)}, p50 {at(0.5):.2f} ms, p90 {at(0.9):.2f} ms, "
            f"p99 {at(0.99):.2f} ms")  # fmt: skip


async def probe(seconds: float) -> None:
    kafka, postgres = load(KafkaSettings), load(PostgresSettings)
    await ensure_topics(kafka.bootstrap, [TopicSpec(TOPIC, 1)])
    dsn = postgres.dsn + ("&" if "?" in postgres.dsn else "?") + "sslmode=disable"
    connection = await asyncpg.connect(dsn)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap, acks="all", enable_idempotence=True, linger_ms=0
    )
    await producer.start()
    database: list[float] = []
    broker: list[float] = []
    lag: list[float] = []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            await connection.fetchval("SELECT 1")
            database.append(time.perf_counter() - started)
            started = time.perf_counter()
            await producer.send_and_wait(TOPIC, b"probe")
            broker.append(time.perf_counter() - started)
            started = time.perf_counter()
            await asyncio.sleep(PERIOD)
            lag.append(time.perf_counter() - started - PERIOD)
    finally:
        await producer.stop()
        await connection.close()
    print(_quantiles("PostgreSQL SELECT 1", database))
    print(_quantiles("Kafka produce, acks=all", broker))
    print(_quantiles("this process's loop lag", lag))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="how long to probe")
    args = parser.parse_args()
    uvloop.run(probe(args.seconds))


if __name__ == "__main__":
    main()
