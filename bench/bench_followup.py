"""Follow-up benchmark: lease throughput and p99 with 20 agents over HTTP, 1,000,000 scheduled.

The service runs as a real process (`python -m casegold_followup`) on a fresh PostgreSQL
schema holding 1,000,000 scheduled callbacks: 50,000 due in the queue, 900,000 bulk-loaded for
later, and 50,000 revisits the consumer schedules from 100,000 case events published before it
starts (the scheduling cost: events/s absorbed). Then 20 agents, each on its own keep-alive
connection, lease one callback at a time in a closed loop; every leased id is checked for a
second lease. A bare FastAPI app validating the same request with no I/O, served the same way,
gives the ceiling in the same run.

    .venv/bin/python bench/bench_followup.py [--duration 20] [--agents 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import uvloop
from fastapi import FastAPI, Response

from casegold_contracts import dump, message_key
from casegold_contracts.builders import make_event
from casegold_followup.api import LeaseRequest
from casegold_followup.migrations import apply as migrate_followup
from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics
from casegold_platform.settings import KafkaSettings, PostgresSettings, load

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SCHEDULED, DUE, FROM_EVENTS = 900_000, 50_000, 50_000
BAR_RATE, BAR_P99 = 1000.0, 0.020

ceiling_app = FastAPI()
_CEILING_REPLY = json.dumps({"callbacks": [{"callback_id": str(uuid.uuid4())}]}).encode()


@ceiling_app.post("/v1/callbacks/lease")
async def ceiling_lease(body: LeaseRequest) -> Response:
    """Validate the body, answer at once."""
    return Response(_CEILING_REPLY, media_type="application/json")


@ceiling_app.get("/readyz")
async def ceiling_ready() -> dict[str, str]:
    return {"status": "ok"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load_schema(dsn: str) -> None:
    """Bulk-load the later and due callbacks (server-side, generate_series)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """INSERT INTO followup_callbacks (callback_id, case_id, kind, status, priority_rank,
                   due_at, visible_at, origin_at)
               SELECT gen_random_uuid(), gen_random_uuid(), 'revisit', 'scheduled',
                      1 + (n % 4), now() + interval '3 days' + n * interval '1 second',
                      now() + interval '3 days' + n * interval '1 second', now()
               FROM generate_series(1, $1) n""",
            SCHEDULED,
        )
        await conn.execute(
            """WITH made AS (
                   INSERT INTO followup_callbacks (callback_id, case_id, kind, status,
                       priority_rank, due_at, visible_at, origin_at)
                   SELECT gen_random_uuid(), gen_random_uuid(),
                          CASE WHEN n % 5 = 0 THEN 'promise' ELSE 'revisit' END, 'queued',
                          1 + (n % 4), now() - n * interval '1 second',
                          now() - n * interval '1 second', now()
                   FROM generate_series(1, $1) n RETURNING *)
               INSERT INTO followup_queue (callback_id, case_id, kind, attempt, priority_rank,
                   due_at)
               SELECT callback_id, case_id, kind, 1, priority_rank, due_at FROM made""",
            DUE,
        )
        await conn.execute("VACUUM ANALYZE followup_callbacks")
        await conn.execute("VACUUM ANALYZE followup_queue")
    finally:
        await conn.close()


async def publish_cases(kafka: KafkaSettings, topic: str, cases: int) -> float:
    """case_opened + case_resolved per case; returns seconds taken."""
    producer = durable_producer(kafka, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    now = datetime.now(UTC)
    try:
        futures = []
        for _ in range(cases):
            case = uuid.uuid4()
            for event in (
                make_event("case_opened", case_id=case, at=now),
                make_event("case_resolved", case_id=case, at=now + timedelta(seconds=1)),
            ):
                futures.append(await producer.send(topic, dump(event), key=message_key(event)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


class Agent:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, port: int, name: str) -> None:
        self.port = port
        body = json.dumps({"agent_id": name, "limit": 1}).encode()
        self.request = (
            f"POST /v1/callbacks/lease HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer dev-revisit-key\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def run(
        self, until: float, latencies: list[float], ids: Counter[str], errors: Counter[str]
    ) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while time.perf_counter() < until:
                started = time.perf_counter()
                writer.write(self.request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = int(head[9:12])
                if status != 200:
                    errors[str(status)] += 1
                    continue
                for callback in json.loads(body)["callbacks"]:
                    ids[callback["callback_id"]] += 1
        finally:
            writer.close()


async def drive(port: int, agents: int, duration: float) -> dict[str, float]:
    """20 closed-loop agents for `duration` seconds; throughput, p50/p99, double leases."""
    latencies: list[float] = []
    ids: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    until = time.perf_counter() + duration
    started = time.perf_counter()
    await asyncio.gather(
        *(Agent(port, f"agent-{n}").run(until, latencies, ids, errors) for n in range(agents))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_s": len(latencies) / elapsed,
        "leases_per_s": sum(ids.values()) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "double_leases": float(sum(1 for n in ids.values() if n > 1)),
        "errors": float(sum(errors.values())),
    }


async def wait_http(port: int, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            writer.close()
            if head[9:12] == b"200":
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"nothing ready on {port}{path}")


async def applied_events(port: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    text = (await reader.read()).decode()
    writer.close()
    for line in text.splitlines():
        if line.startswith('casegold_followup_events_total{result="applied"}'):
            return float(line.split()[-1])
    return 0.0


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, *args], env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--profile", help="write a cProfile of the service to this file")
    args = parser.parse_args()
    kafka, pg = load(KafkaSettings), load(PostgresSettings)
    run = uuid.uuid4().hex[:8]
    schema, topic = f"bench_followup_{run}", f"bench-followup-{run}"
    admin = await asyncpg.connect(pg.dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    dsn = f"{pg.dsn}{'&' if '?' in pg.dsn else '?'}search_path={schema}"
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await migrate_followup(dsn)
        t = time.perf_counter()
        await load_schema(dsn)
        print(f"loaded {SCHEDULED + DUE:,} callbacks in {time.perf_counter() - t:.1f} s")
        await ensure_topics(kafka.bootstrap, [TopicSpec(topic, kafka.partitions)])
        took = await publish_cases(kafka, topic, FROM_EVENTS)
        print(f"published {2 * FROM_EVENTS:,} case events in {took:.1f} s")
        port, ceiling_port = free_port(), free_port()
        env = dict(
            os.environ,
            CASEGOLD_PG_DSN=dsn,
            CASEGOLD_FOLLOWUP_PORT=str(port),
            CASEGOLD_FOLLOWUP_DEV_KEYS="true",
            CASEGOLD_FOLLOWUP_TOPIC=topic,
            CASEGOLD_FOLLOWUP_GROUP_ID=f"bench-{run}",
            CASEGOLD_FOLLOWUP_LOG_LEVEL="WARNING",
        )
        started = time.perf_counter()
        profiled = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        processes.append(serve([*profiled, "-m", "casegold_followup"], env, logs / "followup.log"))
        await wait_http(port, "/readyz", 60)
        print(f"follow-up ready in {time.perf_counter() - started:.1f} s")
        first: tuple[float, float] | None = None
        while (applied := await applied_events(port)) < 2 * FROM_EVENTS:
            assert processes[0].poll() is None, (logs / "followup.log").read_text()[-3000:]
            if first is None and applied > 0:
                first = (time.perf_counter(), applied)
            await asyncio.sleep(0.1)
        assert first is not None
        absorbed = (2 * FROM_EVENTS - first[1]) / (time.perf_counter() - first[0])
        print(f"scheduling: {absorbed:,.0f} case events/s absorbed by the consumer")
        count = await admin.fetchval(f'SELECT count(*) FROM "{schema}".followup_callbacks')
        print(f"callbacks in the ledger: {count:,}")
        cpu = server_cpu(processes[0].pid)
        figures = await drive(port, args.agents, args.duration)
        cpu = server_cpu(processes[0].pid) - cpu
        requests = figures["requests_per_s"] * args.duration
        processes.append(
            serve(
                [
                    "-m",
                    "uvicorn",
                    "bench.bench_followup:ceiling_app",
                    "--port",
                    str(ceiling_port),
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                env,
                logs / "followup-ceiling.log",
            )
        )
        await wait_http(ceiling_port, "/readyz", 30)
        ceiling_cpu = server_cpu(processes[1].pid)
        ceiling = await drive(ceiling_port, args.agents, args.duration)
        ceiling_cpu = server_cpu(processes[1].pid) - ceiling_cpu
        ceiling_requests = max(ceiling["requests_per_s"] * args.duration, 1)
        print(
            f"follow-up: {figures['leases_per_s']:,.0f} leases/s, p50 {figures['p50_ms']:.1f} ms,"
            f" p99 {figures['p99_ms']:.1f} ms, {figures['double_leases']:.0f} double leases,"
            f" {figures['errors']:.0f} errors ({args.agents} agents, {args.duration:.0f} s);"
            f" server CPU {cpu / max(requests, 1) * 1e6:.0f} µs per lease request"
        )
        print(
            f"ceiling (bare FastAPI, same body, no I/O): {ceiling['requests_per_s']:,.0f} req/s,"
            f" p50 {ceiling['p50_ms']:.1f} ms, p99 {ceiling['p99_ms']:.1f} ms;"
            f" server CPU {ceiling_cpu / ceiling_requests * 1e6:.0f} µs per request"
        )
        print(f"load average {os.getloadavg()[0]:.2f} after the run")
        met = (
            figures["leases_per_s"] >= BAR_RATE
            and figures["p99_ms"] <= BAR_P99 * 1000
            and figures["double_leases"] == 0
        )
        print(
            "bar (>= 1,000 leases/s, p99 <= 20 ms, 0 double leases):", "met" if met else "NOT met"
        )
        return 0
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
