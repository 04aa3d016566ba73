"""CPU time of intake's own code per keyed case post: no HTTP server, no broker, no database.

The app is built as served (deployed policy, GC tuned) on in-memory fakes at its ports, and
driven by raw ASGI calls from this process, one post after another: what is left is the
middleware, the route, validation, the SLA terms, the ids, the encodings and the key path's
bookkeeping. CPU per post = `time.process_time()` over the measured posts / their number,
after a warm-up. Pin it to one core (`taskset -c 1`) and repeat it: on this VM the figure
moves by ±15 % from run to run. To see where the time goes, run it under a sampling
profiler (`py-spy record -r 400 -f raw -o out.raw -- .venv/bin/python bench/intake_inproc.py`).

    .venv/bin/python bench/intake_inproc.py [--posts 15000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.*, tests.support.*

from bench.bench_intake import case_body, case_headers  # noqa: E402
from bench.intake_cpu import fakes_app  # noqa: E402

WARM_UP = 1000
Message = dict[str, Any]


def _scope(headers: list[tuple[bytes, bytes]]) -> Message:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/cases", "raw_path": b"/v1/cases", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip


class Driver:
    """Runs the app's lifespan and sends it one request at a time, counting the statuses."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()
        self._lifespan_in: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan: asyncio.Task[None] | None = None

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        self._lifespan = asyncio.create_task(
            self.app(scope, self._lifespan_in.get, self._lifespan_out.put)
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        started = await self._lifespan_out.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {started}")

    async def stop(self) -> None:
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        assert self._lifespan is not None
        await self._lifespan

    async def post(self, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        sent = False
        disconnect = asyncio.Event()

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            elif not message.get("more_body", False):
                disconnect.set()

        await self.app(_scope(headers), receive, send)


def posts(count: int, run: str) -> list[tuple[list[tuple[bytes, bytes]], bytes]]:
    """The benchmark's IVR posts (bench_intake.py), each with a unique Idempotency-Key."""
    built = []
    for index in range(count):
        body = case_body(index, run)
        headers = [(k.lower().encode(), v.encode()) for k, v in case_headers(index, run).items()]
        headers.append((b"content-length", str(len(body)).encode()))
        built.append((headers, body))
    return built


async def measure(count: int, runs: int) -> int:
    driver = Driver(fakes_app())
    await driver.start()
    try:
        for request in posts(WARM_UP, "warm"):
            await driver.post(*request)
        for index in range(runs):
            requests = posts(count, f"run{index}")
            driver.statuses.clear()
            before = time.process_time()
            for request in requests:
                await driver.post(*request)
            used = time.process_time() - before
            if driver.statuses != Counter({201: count}):
                print(f"  run {index + 1}: unexpected statuses {dict(driver.statuses)}")
                return 1
            print(f"  run {index + 1}: {used / count * 1e6:.0f} µs CPU per post "
                  f"({count} answered 201)", flush=True)  # fmt: skip
    finally:
        await driver.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=15_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"intake in-process on fakes: {args.posts} keyed posts per run")
    return uvloop.run(measure(args.posts, args.runs))


if __name__ == "__main__":
    sys.exit(main())
