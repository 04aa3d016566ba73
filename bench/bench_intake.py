"""Intake benchmark: open-loop load at fixed arrival rates against intake as a real process.

Each request is scheduled at start + i / rate and its latency counts from that scheduled time,
so queueing anywhere (generator, server, Kafka, PostgreSQL) shows in the figures — a closed loop
would hide it. Requests are IVR posts with a unique Idempotency-Key, so every one takes the full
path: the key's claim in PostgreSQL, Kafka with acks=all, the publish mark. In the same run, a
bare FastAPI endpoint validating the same body with no I/O gives the ceiling. A rate is
sustained when at least 99 % of the offered requests got a 2xx and p99 ≤ 50 ms.

    .venv/bin/python bench/bench_intake.py [--rates 1200,1600,2000] [--duration 20] [--workers 2]
        [--generator python|vegeta|wrk]

The generator is wrk when it is installed (Debian's wrk with bench/wrk_open_loop.lua); it costs
the least CPU per request, so the server keeps the cores (issue 17's bar is measured with it);
wrk times a request from its send, so its quantiles are upper bounds of the latency counted
from the due time, computed from the sends' lateness and the answers' latency (bench/wrk.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import uvloop
from fastapi import FastAPI, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vegeta

from bench import vegeta, wrk
from casegold_intake.models import CaseRequest
from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings, PostgresSettings, load

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
P99_BAR = 0.050
WITHOUT_KEYS = "--without-keys" in sys.argv
SUCCESS_BAR = 0.99

# The ceiling: same framework, server and body validation as intake, no auth, no I/O.
ceiling_app = FastAPI()
_CEILING_REPLY = json.dumps({"case_id": str(uuid.UUID(int=0))}).encode()


@ceiling_app.post("/v1/cases", status_code=201)
async def ceiling_case(body: CaseRequest) -> Response:
    """Validate the body, answer at once."""
    return Response(_CEILING_REPLY, status_code=201, media_type="application/json")


@ceiling_app.get("/readyz")
async def ceiling_ready() -> dict[str, str]:
    """Always ready."""
    return {"status": "ok"}


@dataclass
class Step:
    """The outcome of one rate."""

    target: str
    rate: int
    offered: int
    ok: int = 0
    latencies: list[float] = field(default_factory=list)
    # Second of the step each 2xx was scheduled in, to show whether the tail is one stall.
    seconds: list[int] = field(default_factory=list)
    start: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    # wrk's steps: how late each send went out (the quantiles are then bounds, seconds unknown).
    lateness: list[float] | None = None
    late: str | None = None

    def quantile(self, q: float) -> float:
        if self.lateness is not None:
            return wrk.bounded_quantile(sorted(self.latencies), self.lateness, q)
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    @property
    def sustained(self) -> bool:
        return self.ok >= SUCCESS_BAR * self.offered and self.quantile(0.99) <= P99_BAR

    def line(self) -> str:
        ms = [f"{self.quantile(q) * 1000:7.1f}" for q in (0.5, 0.99, 0.999)]
        errors = ", ".join(f"{k}={v}" for k, v in self.errors.most_common()) or "-"
        verdict = "sustained" if self.sustained else "NOT sustained"
        cores = ", ".join(f"{name} {used:.2f}" for name, used in self.cores.items())
        return (
            f"  {self.target:8} {self.rate:6}/s offered  {self.throughput:7.0f}/s ok  "
            f"p50 {ms[0]} ms  p99 {ms[1]} ms  p99.9 {ms[2]} ms  errors {errors}  [{verdict}]\n"
            f"           CPU cores used: {cores}\n"
            f"           {self.slow_seconds()}"
        )

    def slow_seconds(self) -> str:
        """How the requests slower than the p99 bar spread over the step's seconds."""
        if self.late is not None:
            return self.late
        slow: Counter[int] = Counter(
            second
            for second, latency in zip(self.seconds, self.latencies, strict=True)
            if latency > P99_BAR
        )
        if not slow:
            return f"no request over {P99_BAR * 1000:.0f} ms"
        worst = ", ".join(f"s{second} {n}" for second, n in sorted(slow.most_common(3)))
        return (
            f"requests over {P99_BAR * 1000:.0f} ms: {sum(slow.values())} in {len(slow)} of "
            f"{max(self.seconds) + 1} seconds (most: {worst})"
        )


class CpuMeter:
    """CPU time of the parts on this machine, so contention from elsewhere shows in the figures."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.broker = _listening_pid(load(KafkaSettings).bootstrap.split(",")[0].rsplit(":")[1])

    def sample(self) -> tuple[float, tuple[float, float], dict[str, float]]:
        """Now, the machine's busy and stolen CPU seconds, and each part's CPU seconds."""
        groups = {
            "server": [self.server_pid, *_children(self.server_pid)],
            "broker": [self.broker] if self.broker else [],
            "postgres": _pids("postgres"),
            "generator": [os.getpid()],
        }
        used = {name: sum(_cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}
        # vegeta runs as a child that has exited (and been waited for) by the next sample.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        used["generator"] += children.ru_utime + children.ru_stime
        return time.monotonic(), machine_seconds(Path("/proc/stat").read_text()), used

    def cores_since(
        self, before: tuple[float, tuple[float, float], dict[str, float]]
    ) -> dict[str, float]:
        """Cores each part used since `before`; `other` is everything else on the machine.

        `steal` is the time the hypervisor ran something else while this VM's CPUs had work:
        a step with steal above a few hundredths of a core measured a busy host, not the code.
        """
        (start, machine_before, before_used), (end, machine_after, after_used) = (
            before,
            self.sample(),
        )
        elapsed = end - start
        (busy_before, steal_before), (busy_after, steal_after) = machine_before, machine_after
        cores = {name: (after_used[name] - before_used[name]) / elapsed for name in after_used}
        cores["other"] = max(0.0, (busy_after - busy_before) / elapsed - sum(cores.values()))
        cores["steal"] = (steal_after - steal_before) / elapsed
        return cores


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_seconds(proc_stat: str, ticks_per_second: int | None = None) -> tuple[float, float]:
    """From /proc/stat's text: the machine's busy CPU seconds (steal left out), and its stolen.

    The first line counts user nice system idle iowait irq softirq steal guest guest_nice;
    guest time is already inside user, so it is not added again.
    """
    ticks = ticks_per_second or os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in proc_stat.split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def _pids(name: str) -> list[int]:
    found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(child) for child in found.split()]


def _listening_pid(port: str) -> int | None:
    listing = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True)
    for part in listing.stdout.split("pid=")[1:]:
        return int(part.split(",", 1)[0])
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def case_body(index: int, run: str) -> bytes:
    """One IVR post's body: realistic, a reference of its own."""
    return json.dumps(
        {
            "external_ref": f"call-{run}-{index}",
            "channel": "ivr",
            "customer": {
                "phone": f"+86 138 {index % 10000:04d} {index // 10000 % 10000:04d}",
                "name": "Li Wei",
                "timezone": "Asia/Shanghai",
                "locale": "zh-CN",
            },
            "category": ("product", "billing", "delivery", "service_attitude")[index % 4],
            "dealer_id": f"dealer-{index % 50}",
            "product": "washing machine WM-200",
            "summary": "Washing machine leaks after repair",
            "description": "The customer reports water on the floor after every wash. " * 3,
            "occurred_at": "2025-06-01T10:00:00+08:00",
        },
        separators=(",", ":"),
    ).encode()


def case_headers(index: int, run: str) -> dict[str, str]:
    """An IVR's headers with a unique Idempotency-Key (an agent's, without one, if asked)."""
    if WITHOUT_KEYS:
        # An agent's post: no Idempotency-Key, so no PostgreSQL on the path (for comparison).
        return {"Authorization": "Bearer dev-agent-key", "Content-Type": "application/json"}
    return {
        "Authorization": "Bearer dev-ivr-key",
        "Idempotency-Key": f"{run}-{index}",
        "Content-Type": "application/json",
    }


def case_request(index: int, run: str, port: int) -> bytes:
    """One IVR post as raw HTTP/1.1 bytes."""
    body = case_body(index, run)
    headers = "".join(f"{name}: {value}\r\n" for name, value in case_headers(index, run).items())
    head = (
        f"POST /v1/cases HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of the generator, driven by callbacks (no tasks)."""

    def __init__(self, load: Load) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.current: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they have write() all the same.
        self.transport = transport  # type: ignore[assignment]

    def send(self, index: int, scheduled: float) -> None:
        assert self.transport is not None
        self.current = scheduled
        self.transport.write(self.load.requests[index])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = 0
        if at >= 0:
            stop = head.find(b"\r\n", at)
            length = int(head[at + 15 : stop if stop >= 0 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        scheduled, self.current = self.current, None
        assert scheduled is not None
        self.load.finished(self, int(head[9:12]), scheduled)

    def connection_lost(self, error: Exception | None) -> None:
        if self in self.load.free:
            self.load.free.remove(self)
        if self.current is not None:
            self.load.step.errors["connection lost"] += 1
            self.load.pending -= 1
            self.load.settle()


class Load:
    """Dispatches due requests to free connections; a request waits if none is free."""

    def __init__(self, step: Step, requests: list[bytes]) -> None:
        self.step = step
        self.requests = requests
        # First in, first out: every connection stays busy, none idles into the server's
        # keep-alive timeout.
        self.free: deque[Connection] = deque()
        self.backlog: deque[tuple[int, float]] = deque()
        self.pending = 0
        self.last = 0.0
        self.all_due = False
        self.done = asyncio.Event()

    def settle(self) -> None:
        if self.all_due and self.pending == 0:
            self.done.set()

    def due(self, index: int, scheduled: float) -> None:
        self.pending += 1
        if self.free:
            self.free.popleft().send(index, scheduled)
        else:
            self.backlog.append((index, scheduled))

    def finished(self, connection: Connection, status: int, scheduled: float) -> None:
        now = time.perf_counter()
        self.pending -= 1
        self.last = now
        if 200 <= status < 300:
            self.step.ok += 1
            self.step.latencies.append(now - scheduled)
            self.step.seconds.append(int(scheduled - self.step.start))
        else:
            self.step.errors[str(status)] += 1
        if self.backlog:
            connection.send(*self.backlog.popleft())
        else:
            self.free.append(connection)
        self.settle()


async def run_step(target: str, port: int, rate: int, requests: list[bytes]) -> Step:
    """Offer the requests at `rate` per second over keep-alive connections; open loop."""
    count = len(requests)
    step = Step(target, rate, count)
    load = Load(step, requests)
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(min(512, max(64, rate // 4))):
        _, connection = await loop.create_connection(lambda: Connection(load), "127.0.0.1", port)
        connections.append(connection)
    load.free.extend(connections)
    # perf_counter, not loop.time(): uvloop's clock has millisecond resolution.
    start = time.perf_counter() + 0.1
    step.start = start
    index = 0
    while index < count:
        now = time.perf_counter()
        while index < count and start + index / rate <= now:
            load.due(index, start + index / rate)
            index += 1
        if index < count:
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
    load.all_due = True
    load.settle()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(load.done.wait(), 15)
    if load.pending:
        step.errors["no reply in 15 s"] += load.pending
    step.elapsed = max(load.last, start + (count - 1) / rate) - start
    for connection in connections:
        if connection.transport is not None:
            connection.transport.close()
    return step


@contextmanager
def server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """A server process, ready on /readyz, stopped with SIGTERM at the end."""
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[2]} exited:\n{log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready within 60 s; see {log}")
            time.sleep(0.3)
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


async def prepare(topic: str, schema: str) -> tuple[str, str]:
    kafka, postgres = load(KafkaSettings), load(PostgresSettings)
    await ensure_topics(kafka.bootstrap, [TopicSpec(topic, kafka.partitions)])
    connection = await asyncpg.connect(postgres.dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()
    separator = "&" if "?" in postgres.dsn else "?"
    dsn = f"{postgres.dsn}{separator}search_path={schema}"
    # TLS to a database on the same machine only costs CPU (asyncpg's default is to prefer it).
    if "sslmode=" not in dsn:
        dsn += "&sslmode=disable"
    return kafka.bootstrap, dsn


async def finish(topic: str, schema: str, bootstrap: str) -> int:
    """Drop the bench schema and topic; return how many events the topic held."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    connection = await asyncpg.connect(load(PostgresSettings).dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        ends = await consumer.end_offsets(list(consumer.assignment()))
    finally:
        await consumer.stop()
    # The next run should meet the same broker, not one with a dozen more partitions per run.
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()
    return sum(ends.values())


def vegeta_step(target: str, port: int, rate: int, count: int, run: str) -> Step:
    """The same step offered by vegeta (bench/vegeta.py) instead of this process."""
    url = f"http://127.0.0.1:{port}/v1/cases"
    targets = (
        vegeta.Target(url, case_headers(index, run), case_body(index, run))
        for index in range(count)
    )
    step = Step(target, rate, count)
    results = vegeta.attack(targets, rate, count)
    for result in results:
        if 200 <= result.status < 300:
            step.ok += 1
            step.latencies.append(result.latency)
            step.seconds.append(int(result.sent))
        else:
            step.errors[str(result.status or result.error[:40])] += 1
    if len(results) < count:  # every vegeta worker was waiting on the server: never sent
        step.errors["not sent"] += count - len(results)
    step.elapsed = max((r.sent + r.latency for r in results), default=0.0)
    return step


def wrk_step(target: str, port: int, rate: int, count: int, run: str) -> Step:
    """The same step offered by wrk (bench/wrk.py) instead of this process."""
    requests = [case_request(index, run, port) for index in range(count)]
    outcome = wrk.attack("127.0.0.1", port, requests, rate)
    step = Step(target, rate, count)
    step.ok = outcome.answered - outcome.status_errors
    # One histogram for all answers: with any error answer, the bound is over all of them.
    step.latencies, step.lateness = outcome.latencies, outcome.lateness
    for name, times in (
        ("status > 399", outcome.status_errors),
        ("timeout", outcome.timeouts),
        ("socket", outcome.socket_errors),
        ("no answer", count - outcome.answered - outcome.timeouts),
    ):
        if times > 0:
            step.errors[name] += times
    step.elapsed = max(outcome.elapsed, (count - 1) / rate)
    step.late = (
        f"sends late against their due time: worst {outcome.late_max * 1000:.1f} ms, "
        f"{outcome.late_over_1ms} over 1 ms, {outcome.late_over_10ms} over 10 ms (quantiles "
        f"are bounds of latency + lateness; no per-second split with wrk)"
    )
    return step


def ladder(
    target: str,
    port: int,
    rates: list[int],
    duration: float,
    run: str,
    server_pid: int,
    generator: str = "python",
) -> tuple[Step, list[Step]]:
    """A warm-up, then each rate in turn, printed as it completes."""

    # Warm-up, not reported: pools fill (each new PostgreSQL connection pays its SCRAM
    # handshake), producers find their partitions' leaders, code paths get their caches.
    def offer(rate: int, count: int, name: str) -> Step:
        if generator == "vegeta":
            return vegeta_step(target, port, rate, count, name)
        if generator == "wrk":
            return wrk_step(target, port, rate, count, name)
        requests = [case_request(i, name, port) for i in range(count)]
        return asyncio.run(run_step(target, port, rate, requests))

    warm_up = offer(min(rates), 4 * min(rates), f"{run}-{target}-w")
    meter = CpuMeter(server_pid)
    steps = []
    for index, rate in enumerate(rates):
        name = f"{run}-{target}-{index}"  # keys of its own: every request is a new case
        before = meter.sample()
        step = offer(rate, int(rate * duration), name)
        step.cores = meter.cores_since(before)
        print(step.line(), flush=True)
        steps.append(step)
    return warm_up, steps


def best(steps: list[Step]) -> Step | None:
    """The sustained step with the highest offered rate, if any."""
    return max((step for step in steps if step.sustained), key=lambda s: s.rate, default=None)


def _offered(step: Step | None) -> str:
    if step is None:
        return "none"
    return f"{step.rate}/s offered ({step.throughput:.1f}/s served)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="1200,1600,2000", help="offered rates, comma-separated")
    parser.add_argument(
        "--ceiling-rates", default=None, help="rates for the ceiling (default: same)"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per rate")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of both servers")
    parser.add_argument(
        "--without-keys", action="store_true", help="agent posts without Idempotency-Key"
    )
    parser.add_argument(
        "--generator",
        choices=("python", "vegeta", "wrk"),
        default=None,
        help="the load generator: this process, vegeta (built with go install) or wrk (Debian's;"
        " the default when installed)",
    )
    args = parser.parse_args()
    if args.generator is None:
        args.generator = "wrk" if shutil.which("wrk") else "python"
        if args.generator == "python":
            print("wrk is not installed (apt-get install wrk): the generator is this process, "
                  "up to 0.8 of a core at 2,000/s; not the bar's figures")  # fmt: skip
    uvloop.install()  # the generator shares the CPUs: keep its own overhead low
    rates = [int(rate) for rate in args.rates.split(",")]
    ceiling_rates = [int(r) for r in (args.ceiling_rates or args.rates).split(",")]
    run = uuid.uuid4().hex[:8]
    topic, schema = f"bench.intake.{run}", f"bench_intake_{run}"
    bootstrap, dsn = asyncio.run(prepare(topic, schema))
    logs = Path(os.environ.get("CASEGOLD_VAR_DIR", ROOT / "var")) / "log"
    logs.mkdir(parents=True, exist_ok=True)
    if args.generator == "vegeta":
        vegeta.ensure()  # built before the clock starts
    if args.generator == "wrk":
        wrk.ensure()
    print(f"intake benchmark: open loop ({args.generator}), {args.duration:.0f} s per rate, "
          f"{args.workers} workers, "
          f"{os.cpu_count()} CPUs, acks=all, broker and PostgreSQL on this machine")  # fmt: skip
    port = free_port()
    env = dict(
        os.environ,
        CASEGOLD_INTAKE_DEV_KEYS="true",
        CASEGOLD_INTAKE_PORT=str(port),
        CASEGOLD_INTAKE_WORKERS=str(args.workers),
        CASEGOLD_INTAKE_TOPIC=topic,
        CASEGOLD_INTAKE_LOG_LEVEL="WARNING",
        CASEGOLD_PG_DSN=dsn,
        # The pool opened in full at start: growing it under load puts PostgreSQL connection
        # set-up (a backend fork on the same two cores) in the requests' path.
        CASEGOLD_PG_POOL_MIN="20",
        CASEGOLD_PG_POOL_MAX="20",
    )
    try:
        with server([PYTHON, "-m", "casegold_intake"], env, port, logs / "bench-intake.log") as pid:
            warm_up, intake = ladder("intake", port, rates, args.duration, run, pid, args.generator)
        ceiling_port = free_port()
        command = [
            PYTHON, "-m", "uvicorn", "bench_intake:ceiling_app", "--app-dir", "bench",
            "--port", str(ceiling_port), "--workers", str(args.workers), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        with server(command, dict(os.environ), ceiling_port, logs / "bench-ceiling.log") as pid:
            _, ceiling = ladder(
                "ceiling", ceiling_port, ceiling_rates, args.duration, run, pid, args.generator
            )
    finally:
        events = asyncio.run(finish(topic, schema, bootstrap))
    accepted = warm_up.ok + sum(step.ok for step in intake)
    print(f"  events on the bench topic: {events} for {accepted} cases acknowledged 2xx "
          "(warm-up included)")  # fmt: skip
    intake_best, ceiling_best = best(intake), best(ceiling)
    print(f"  best sustained (≥ {SUCCESS_BAR:.0%} 2xx, p99 ≤ {P99_BAR * 1000:.0f} ms): "
          f"intake {_offered(intake_best)}, ceiling {_offered(ceiling_best)}")  # fmt: skip
    if intake_best is not None and ceiling_best is not None:
        # Served rates count each step's last answers too, so both fall a little short of
        # what was offered; the ratio of offered rates is the bar's, the other is shown beside.
        print(f"  ratio to the ceiling: {intake_best.rate / ceiling_best.rate:.3f} offered, "
              f"{intake_best.throughput / ceiling_best.throughput:.3f} served")  # fmt: skip
    else:
        which = "intake" if ceiling_best else "the ceiling"
        print(f"  ratio to the ceiling: none ({which} sustained no rate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
