"""The notice sink over real HTTP and real SMTP on ephemeral ports, and its `list` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from casegold_notifier.signing import signed_headers
from tests.support.brokers import free_port
from tools.notice_sink.server import RunningSink, start
from tools.notice_sink.settings import DEV_WEBHOOK_SECRET, SinkSettings

CASE = "0b7c9a52-2f7e-4c1e-9d0a-5b1f3f2a7c11"
DOCUMENT = {
    "type": "casegold.escalation_notice",
    "notice_id": "5e0f4b7e-8f7a-4f57-9a59-3f9b8e2f1a01",
    "title": "Tier 1 escalation: first response 2 s late (P3 product)",
    "escalation": {"step": "tier_1", "reason": "sla_breach"},
    "case": {"case_id": CASE, "url": f"http://127.0.0.1:8084/v1/cases/{CASE}"},
}


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[RunningSink]:
    running = await start(SinkSettings(http_port=0, smtp_port=0, dir=tmp_path))
    yield running
    await running.stop()


def _signed(
    body: bytes, secret: str = DEV_WEBHOOK_SECRET, at: float | None = None
) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    return signed_headers(secret, DOCUMENT["notice_id"], stamp, body)  # type: ignore[arg-type]


def _list(directory: Path, *args: str) -> str:
    env = {**os.environ, "CASEGOLD_SINK_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-m", "tools.notice_sink", "list", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


async def test_a_signed_webhook_a_slack_post_and_an_email_are_kept_and_listed(
    sink: RunningSink, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{sink.http_port}"
    body = json.dumps(DOCUMENT).encode()
    async with httpx.AsyncClient() as client:
        hook = await client.post(f"{base}/hooks/agent-desk", content=body, headers=_signed(body))
        slack_body = json.dumps({"text": f"Warning: x — http://127.0.0.1:8084/v1/cases/{CASE}"})
        slack = await client.post(f"{base}/slack/team-leads", content=slack_body)
        page = await client.get(f"{base}/")
    assert hook.status_code == 200
    assert slack.status_code == 200
    message = EmailMessage()
    message["Subject"] = "Tier 2 escalation: sensitive case"
    message["From"] = "Casegold <casegold@localhost>"
    message["To"] = "service-manager@casegold.test"
    message["X-Casegold-Notice-Id"] = "n-mail-1"
    message.set_content(f"Open the case: http://127.0.0.1:8084/v1/cases/{CASE}\n曝光")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.smtp_port, timeout=10)

    lines = [json.loads(line) for line in _list(tmp_path, "--json").splitlines()]
    assert [(n["channel"], n["recipient"]) for n in lines] == [
        ("webhook", "agent-desk"),
        ("slack", "team-leads"),
        ("email", "service-manager@casegold.test"),
    ]
    assert all(n["case_id"] == CASE for n in lines)
    assert lines[0]["verified"] is True
    assert lines[0]["step"] == "tier_1" and lines[0]["reason"] == "sla_breach"
    assert lines[2]["notice_id"] == "n-mail-1"
    assert lines[2]["title"] == "Tier 2 escalation: sensitive case"
    table = _list(tmp_path)
    assert "Notices received (3)" in table and "team-leads" in table
    assert "Tier 1 escalation" in page.text  # the page was read before the e-mail came


async def test_a_bad_or_stale_signature_is_refused_and_shown_as_bad(
    sink: RunningSink, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{sink.http_port}/hooks/pr-desk"
    body = json.dumps(DOCUMENT).encode()
    async with httpx.AsyncClient() as client:
        forged = await client.post(base, content=body, headers=_signed(body, secret="guess"))
        stale = await client.post(base, content=body, headers=_signed(body, at=time.time() - 900))
        notices = (await client.get(f"http://127.0.0.1:{sink.http_port}/notices")).json()
    assert forged.status_code == 401
    assert stale.status_code == 401
    assert [n["verified"] for n in notices] == [False, False]
    assert "BAD" in _list(tmp_path)


def test_the_command_serves_until_sigterm_then_exits_cleanly(tmp_path: Path) -> None:
    http_port, smtp_port = free_port(), free_port()
    env = {
        **os.environ,
        "CASEGOLD_SINK_DIR": str(tmp_path),
        "CASEGOLD_SINK_HTTP_PORT": str(http_port),
        "CASEGOLD_SINK_SMTP_PORT": str(smtp_port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.notice_sink"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the sink exited during start-up"
            assert time.monotonic() < deadline, "the sink did not answer within 30 s"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert process.stdout is not None
        assert f"SMTP on 127.0.0.1:{smtp_port}" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_a_bad_port_setting_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "CASEGOLD_SINK_HTTP_PORT": "http", "CASEGOLD_SINK_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tools.notice_sink"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "CASEGOLD_SINK_HTTP_PORT" in done.stderr
