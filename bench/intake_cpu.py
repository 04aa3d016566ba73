"""CPU time of intake per keyed case post: a figure that a busy machine does not distort.

The app runs in this process (ASGI client, no HTTP server) on the real PostgreSQL and Kafka,
with a topic and schema of its own; `time.process_time()` around the measured posts.

    .venv/bin/python bench/intake_cpu.py [--posts 2000] [--in-flight 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg

from casegold_intake.testing import IVR, RealApi, case_body, running_real_api
from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings, PostgresSettings, load

WARM_UP = 300


async def posts(api: RealApi, count: int, in_flight: int, tag: str) -> None:
    gate = asyncio.Semaphore(in_flight)

    async def post(index: int) -> None:
        async with gate:
            headers = {**IVR, "Idempotency-Key": f"{tag}-{index}"}
            response = await api.client.post("/v1/cases", json=case_body(), headers=headers)
            assert response.status_code == 201, response.text

    await asyncio.gather(*(post(index) for index in range(count)))


async def main(count: int, in_flight: int) -> None:
    kafka, postgres = load(KafkaSettings), load(PostgresSettings)
    run = uuid.uuid4().hex[:8]
    topic, schema = f"bench.intake.cpu.{run}", f"bench_intake_cpu_{run}"
    await ensure_topics(kafka.bootstrap, [TopicSpec(topic, 3)])
    admin = await asyncpg.connect(postgres.dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres.dsn else "?"
    dsn = f"{postgres.dsn}{separator}search_path={schema}&sslmode=disable"
    try:
        async with running_real_api(bootstrap=kafka.bootstrap, dsn=dsn, topic=topic) as api:
            await posts(api, WARM_UP, in_flight, "warm")
            cpu, wall = time.process_time(), time.monotonic()
            await posts(api, count, in_flight, "run")
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        print(f"{count} keyed posts, {in_flight} in flight: CPU {cpu / count * 1e3:.3f} ms/post, "
              f"wall {wall:.1f} s ({count / wall:.0f}/s)")  # fmt: skip
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.posts, args.in_flight))
