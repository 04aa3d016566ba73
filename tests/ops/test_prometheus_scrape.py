"""A real Prometheus loads deploy/prometheus, scrapes a real intake and answers PromQL on it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings
from tests.ops.tools import DEPLOY, tool
from tests.support.browser import served
from tests.support.intake import IVR, case_body, real_app

pytestmark = pytest.mark.integration

PROMETHEUS = DEPLOY / "prometheus"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def local_config(intake: str, folder: Path) -> Path:
    """prometheus.yml with its rule files, only the intake job, aimed at `intake`, every 1 s."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "intake"]
    job["static_configs"][0]["targets"] = [intake]
    config["scrape_configs"] = [job]
    for rules in config["rule_files"]:
        (folder / rules).write_text((PROMETHEUS / rules).read_text())
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
async def intake(kafka_settings: KafkaSettings, pg_schema: str, unique: str) -> AsyncIterator[str]:
    topic = f"test.ops.{unique}"
    await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, partitions=1)])
    app = real_app(bootstrap=kafka_settings.bootstrap, dsn=pg_schema, topic=topic)
    async with served(app) as base:
        yield base


async def query(client: httpx.AsyncClient, base: str, expr: str) -> list[dict[str, Any]]:
    reply = await client.get(f"{base}/api/v1/query", params={"query": expr})
    reply.raise_for_status()
    result: list[dict[str, Any]] = reply.json()["data"]["result"]
    return result


async def until(
    client: httpx.AsyncClient, base: str, expr: str, timeout: float = 60
) -> list[dict[str, Any]]:
    """The first non-empty answer to expr, polled until the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        with_data = await query(client, base, expr)
        if with_data:
            return with_data
        assert time.monotonic() < deadline, f"no series for {expr} within {timeout} s"
        await asyncio.sleep(0.5)


async def open_cases(client: httpx.AsyncClient, intake: str, keys: list[str]) -> None:
    """Opens one P2 case per Idempotency-Key."""
    body = case_body(priority="P2")
    for key in keys:
        headers = {**IVR, "Idempotency-Key": key}
        reply = await client.post(f"{intake}/v1/cases", json=body, headers=headers)
        assert reply.status_code == 201, reply.text


async def test_prometheus_scrapes_intake_and_answers_on_cases_opened(
    intake: str, tmp_path: Path
) -> None:
    base, folder = f"http://127.0.0.1:{free_port()}", tmp_path
    config = local_config(intake.removeprefix("http://"), folder)
    log = (folder / "prometheus.log").open("w")
    process = await asyncio.create_subprocess_exec(
        tool("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address={base.removeprefix('http://')}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get(f"{base}/-/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, (folder / "prometheus.log").read_text()
                assert time.monotonic() < deadline, "Prometheus not ready within 60 s"
                await asyncio.sleep(0.2)

            (up,) = await until(client, base, 'up{job="intake", service="intake"} == 1')
            assert up["metric"]["instance"] == intake.removeprefix("http://")
            # One case, scraped; then two more, so that the counter's increase is seen.
            await open_cases(client, intake, ["ops-1"])
            await until(client, base, 'sum(casegold_cases_opened_total{service="intake"}) == 1')
            await open_cases(client, intake, ["ops-2", "ops-3"])
            (opened,) = await until(
                client, base, 'sum(casegold_cases_opened_total{service="intake"}) == 3'
            )
            assert float(opened["value"][1]) == 3
            # The recording rules run on the real server too: a rate needs two scrapes.
            rates = await until(client, base, "priority:casegold_cases_opened:rate5m > 0")
            assert {series["metric"]["priority"] for series in rates} == {"P2"}
            rules = (await client.get(f"{base}/api/v1/rules")).json()["data"]["groups"]
            loaded = [rule for group in rules for rule in group["rules"]]
            assert {rule["health"] for rule in loaded} == {"ok"}
            alerts = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
            expected = sum(len(group["rules"]) for group in alerts)
            assert sum(rule["type"] == "alerting" for rule in loaded) == expected
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
        log.close()
