"""During a demo run against every service, a real Prometheus answers every dashboard query."""

from __future__ import annotations

import asyncio
import io
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from casegold_platform.settings import KafkaSettings
from tests.ops.live_stack import LiveStack
from tests.ops.test_grafana_dashboard import query_panels
from tests.ops.tools import tool
from tests.support.brokers import free_port
from tools.demo.run import Options, run
from tools.notice_sink.server import RunningSink, start
from tools.notice_sink.settings import SinkSettings
from tools.prometheus.config import config, write

pytestmark = pytest.mark.integration

# After the demo, how long the queries may take to show data (rates need two scrapes, gauges
# a refresh, the recording rules an evaluation).
SETTLE_SECONDS = 45.0


# The consumer-lag panel shows each consumer: every one exports casegold_consumer_lag.
LAG_OF_EACH_CONSUMER = {
    f"Consumer lag of {service}": f'service_topic:casegold_consumer_lag:sum{{service="{service}"}}'
    for service in ("escalation", "notifier", "followup", "reporting")
}


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[RunningSink]:
    running = await start(SinkSettings(http_port=0, smtp_port=0, dir=tmp_path / "notices"))
    yield running
    await running.stop()


@pytest.fixture
async def stack(
    tmp_path: Path, pg_schema: str, unique: str, kafka_settings: KafkaSettings, sink: RunningSink
) -> AsyncIterator[LiveStack]:
    live = LiveStack(tmp_path, pg_schema, unique, kafka_settings, sink.http_port, sink.smtp_port)
    try:
        await live.start()
        yield live
    finally:
        await live.stop()


@pytest.fixture
async def prometheus(stack: LiveStack, tmp_path: Path) -> AsyncIterator[str]:
    """A real Prometheus scraping every service of the stack each second; its base URL."""
    address = f"127.0.0.1:{free_port()}"
    path = write(
        tmp_path / "prometheus" / "prometheus.yml",
        config({**stack.targets(), "prometheus": address}, interval_seconds=1),
    )
    log_path = tmp_path / "prometheus.log"
    with log_path.open("w") as log:
        process = await asyncio.create_subprocess_exec(
            tool("prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'prometheus' / 'data'}",
            f"--web.listen-address={address}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://{address}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            deadline = time.monotonic() + 60
            while not await _ready(client, base):
                assert process.returncode is None, log_path.read_text()
                assert time.monotonic() < deadline, "Prometheus not ready within 60 s"
                await asyncio.sleep(0.2)
        yield base
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


async def _ready(client: httpx.AsyncClient, base: str) -> bool:
    try:
        return (await client.get(f"{base}/-/ready")).status_code == 200
    except httpx.TransportError:
        return False


async def series(client: httpx.AsyncClient, base: str, expr: str) -> list[dict[str, Any]]:
    """The instant answer to a query (an error names the query)."""
    reply = await client.get(f"{base}/api/v1/query", params={"query": expr})
    assert reply.status_code == 200, f"{expr}: {reply.text}"
    result: list[dict[str, Any]] = reply.json()["data"]["result"]
    return result


def queries() -> dict[str, str]:
    """Every query of the dashboard, named by its panel's title and its refId."""
    return {
        f"{panel['title']} [{target['refId']}]": target["expr"]
        for panel in query_panels()
        for target in panel["targets"]
    }


async def test_every_dashboard_query_returns_series_during_a_demo_run(
    stack: LiveStack, prometheus: str, sink: RunningSink, kafka_settings: KafkaSettings
) -> None:
    options = Options(
        cases=8,
        rate=4.0,
        timeout=70.0,
        endpoints=stack.endpoints(f"http://127.0.0.1:{sink.http_port}"),
        kafka=kafka_settings,
    )
    started = time.monotonic()
    result = await run(options, Console(file=io.StringIO(), width=140))
    assert result.failures == [], f"{result.failures}\n{stack.log_tails()}"
    pending = {**queries(), **LAG_OF_EACH_CONSUMER}
    async with httpx.AsyncClient(timeout=10) as client:
        deadline = time.monotonic() + SETTLE_SECONDS
        while pending and time.monotonic() < deadline:
            for name, expr in list(pending.items()):
                # A panel whose every value is NaN (0/0, a quantile of nothing) draws nothing.
                found = await series(client, prometheus, expr)
                if any(not math.isnan(float(one["value"][1])) for one in found):
                    del pending[name]
            await asyncio.sleep(1)
    empty = "\n".join(f"  {name}: {expr}" for name, expr in pending.items())
    assert not pending, (
        f"panels whose query returned no series (or NaN only) "
        f"{time.monotonic() - started:.0f} s after the demo began ({len(result.escalations)} "
        f"escalations, {len(result.notices)} notices):\n{empty}\n{stack.log_tails()}"
    )
