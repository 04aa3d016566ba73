"""CPU time of the intake server per keyed case post: a figure that a busy machine distorts little.

Intake runs as a real process (`python -m casegold_intake`, one uvicorn worker) on the real
PostgreSQL and Kafka, with a topic and schema of its own; the posts are offered over HTTP at a
fixed rate below saturation, and the server's CPU time (/proc/<pid>/stat, user + system) is
read before and after: CPU per post = CPU used / posts served. `--fakes` serves the same app
with in-memory fakes at its ports (no PostgreSQL, no Kafka: the HTTP and route cost alone);
`--ceiling` serves the bare FastAPI app of bench_intake.py (the framework floor).

    .venv/bin/python bench/intake_cpu.py [--posts 10000] [--rate 500] [--runs 3]
        [--fakes | --ceiling]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.*, tests.support.*

from bench.bench_intake import (  # noqa: E402
    PYTHON,
    _children,
    _cpu_seconds,
    case_request,
    finish,
    free_port,
    prepare,
    run_step,
    server,
)

WARM_UP = 3000


def fakes_app() -> Any:
    """The intake app on in-memory fakes (a uvicorn factory), with the deployed policy."""
    from casegold_intake.app import create_app
    from casegold_intake.masking import configure_logging
    from casegold_intake.sla_terms import SlaPolicy
    from tests.support.intake import FakePublisher, MemoryKeyStore, dev_settings, fake_adapters

    configure_logging("WARNING")
    return create_app(
        settings=dev_settings(),
        policy=SlaPolicy.from_env(),
        adapters=fake_adapters(FakePublisher(), MemoryKeyStore()),
        tune_gc=True,
    )


def server_cpu(pid: int) -> float:
    """CPU seconds of the server process and its children (uvicorn's worker)."""
    return sum(_cpu_seconds(p) for p in (pid, *_children(pid)))


def measure(port: int, pid: int, posts: int, rate: int, name: str) -> tuple[float, int, str]:
    """Offer `posts` posts at `rate`; the server's CPU µs per 2xx post and the outcome line."""
    requests = [case_request(i, name, port) for i in range(posts)]
    before = server_cpu(pid)
    step = asyncio.run(run_step("intake", port, rate, requests))
    used = server_cpu(pid) - before
    p99 = step.quantile(0.99) * 1000
    errors = ", ".join(f"{k}={v}" for k, v in step.errors.items()) or "none"
    return used / max(step.ok, 1) * 1e6, step.ok, f"p99 {p99:.1f} ms, errors {errors}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=500, help="offered posts per second")
    parser.add_argument("--runs", type=int, default=3)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--fakes", action="store_true", help="in-memory fakes at the ports")
    target.add_argument("--ceiling", action="store_true", help="bare FastAPI, same body")
    args = parser.parse_args()
    uvloop.install()
    run = uuid.uuid4().hex[:8]
    topic, schema = f"bench.intake.cpu.{run}", f"bench_intake_cpu_{run}"
    port = free_port()
    logs = Path(os.environ.get("CASEGOLD_VAR_DIR", ROOT / "var")) / "log"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CASEGOLD_INTAKE_DEV_KEYS="true", CASEGOLD_INTAKE_PORT=str(port),
               CASEGOLD_INTAKE_WORKERS="1", CASEGOLD_INTAKE_LOG_LEVEL="WARNING")  # fmt: skip
    uvicorn = [PYTHON, "-m", "uvicorn", "--port", str(port), "--loop", "uvloop",
               "--http", "httptools", "--no-access-log", "--log-level", "warning"]  # fmt: skip
    if args.ceiling:
        command, label = [*uvicorn, "--app-dir", "bench", "bench_intake:ceiling_app"], "ceiling"
    elif args.fakes:
        command, label = [*uvicorn, "--factory", "bench.intake_cpu:fakes_app"], "fakes"
    else:
        command, label = [PYTHON, "-m", "casegold_intake"], "intake"
        bootstrap, dsn = asyncio.run(prepare(topic, schema))
        env.update(CASEGOLD_INTAKE_TOPIC=topic, CASEGOLD_PG_DSN=dsn,
                   CASEGOLD_PG_POOL_MIN="10", CASEGOLD_PG_POOL_MAX="10")  # fmt: skip
    print(f"{label}: one worker, {args.posts} keyed posts at {args.rate}/s per run, "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    try:
        with server(command, env, port, logs / f"bench-intake-cpu-{label}.log") as pid:
            measure(port, pid, WARM_UP, args.rate, f"{run}-w")
            for index in range(args.runs):
                micros, ok, line = measure(port, pid, args.posts, args.rate, f"{run}-{index}")
                print(f"  run {index + 1}: {micros:.0f} µs CPU per post ({ok} served; {line}; "
                      f"load {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
    finally:
        if label == "intake":
            asyncio.run(finish(topic, schema, bootstrap))
    return 0


if __name__ == "__main__":
    sys.exit(main())
