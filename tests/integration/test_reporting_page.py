"""The case page in a real headless Chromium: DOM and screenshot of a crafted case."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from casegold_contracts.builders import make_escalation_raised, make_event
from casegold_platform.settings import KafkaSettings
from casegold_reporting.wiring import Config, build_app
from tests.support.brokers import free_port
from tests.support.reporting import (
    AGENT,
    FixedClock,
    config,
    eventually,
    make_topics,
    office_policy,
    publish,
)

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--window-size=1200,1600",
]  # fmt: skip


@asynccontextmanager
async def serving(settings: Config, clock: FixedClock) -> AsyncIterator[str]:
    """The app served by uvicorn on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(settings, clock), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:

        async def up() -> bool:
            try:
                return (await client.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(up, what="the server")
    try:
        yield base
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium headless on `url` with its own throwaway profile."""
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


async def test_case_page_renders_header_clocks_timeline_and_escalations(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("the page check needs Debian's chromium: apt-get install -y chromium")
    topics = await make_topics(kafka_settings, unique)
    case_id = uuid.uuid4()
    start = datetime(2025, 3, 3, 10, tzinfo=UTC)
    reopened = make_event("case_reopened", case_id=case_id, at=start.replace(hour=12))
    await publish(
        kafka_settings,
        topics.case_events,
        [
            make_event(
                "case_opened", case_id=case_id, at=start, summary="Washing machine leaks again",
                sensitive=True, sensitive_reasons=["journalist"], priority="P2",
            ),
            make_event("case_assigned", case_id=case_id, at=start.replace(minute=5), owner="li.na"),
            make_event("case_acknowledged", case_id=case_id, at=start.replace(hour=11)),
            reopened,  # refused: the case is not resolved
        ],
    )  # fmt: skip
    await publish(
        kafka_settings,
        topics.escalations,
        [
            make_escalation_raised(
                case_id=case_id, milestone="sensitive", step="tier_2", reason="sensitive",
                due_at=start, fired_at=start, audience="pr_legal",
            )
        ],
    )  # fmt: skip
    clock = FixedClock(datetime(2025, 3, 4, 12, tzinfo=UTC))
    settings = config(kafka_settings, pg_schema, topics, office_policy(tmp_path))
    async with serving(settings, clock) as base:
        async with httpx.AsyncClient(base_url=base, headers=AGENT) as client:

            async def projected() -> bool:
                reply = await client.get(f"/v1/cases/{case_id}")
                return reply.status_code == 200 and bool(reply.json()["escalations"])

            await eventually(projected, what="the crafted case")
        url = f"{base}/cases/{case_id}"
        # In a thread: the server answering Chromium runs on this event loop.
        dom = (
            await asyncio.to_thread(chromium, url, tmp_path / "profile-dom", "--dump-dom")
        ).stdout
        shot = tmp_path / "case.png"
        await asyncio.to_thread(chromium, url, tmp_path / "profile-shot", f"--screenshot={shot}")
    keep = Path("var/test-artifacts")
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / "reporting-case-page.png")

    assert f'data-case-id="{case_id}"' in dom
    assert "Washing machine leaks again" in dom
    assert (
        '<span class="badge status status-acknowledged" id="case-status">acknowledged</span>' in dom
    )
    assert "sensitive: journalist" in dom and "li.na" in dom
    assert 'data-milestone="first_response" data-status="met"' in dom
    assert 'data-milestone="solution_agreed" data-status="running"' in dom
    assert 'data-type="case_reopened" data-outcome="refused"' in dom
    assert "refused: invalid_transition" in dom
    assert 'class="escalation" data-step="tier_2"' in dom
    assert "reporting.css" in dom and "https://" not in dom  # every asset is served here
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
