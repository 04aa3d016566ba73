"""A short demo run against real processes (intake, an escalation worker, a notifier, follow-up)
on ephemeral ports, the real broker and PostgreSQL, and the notice sink catching the notices."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from casegold_contracts.topics import CASE_EVENTS
from casegold_platform.settings import KafkaSettings
from tests.ops.live_stack import ServiceProcess, sink_recipients
from tests.support.brokers import free_port
from tests.support.escalation import EscalationProcess, skip_history
from tests.support.notifier import NotifierProcess
from tests.support.notifier import skip_history as skip_notifier_history
from tests.support.processes import skip_history as skip_topic_history
from tools.demo.run import Options, run
from tools.demo.stack import Api, Endpoints, StackNotReady, WrongPolicy
from tools.demo.summary import print_summary
from tools.notice_sink.server import RunningSink, start
from tools.notice_sink.settings import SinkSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEMO_POLICY = str(ROOT / "deploy/policy/demo.yaml")
DEFAULT_POLICY = str(ROOT / "deploy/policy/default.yaml")


def _intake(tmp_path: Path, dsn: str, policy: str) -> Iterator[ServiceProcess]:
    env = {"CASEGOLD_PG_DSN": dsn, "CASEGOLD_POLICY_FILE": policy}
    intake = ServiceProcess("casegold_intake", "CASEGOLD_INTAKE_", tmp_path, env)
    intake.start(intake.env)
    try:
        intake.wait_ready()
        yield intake
    finally:
        intake.shutdown(20)


@pytest.fixture
def intake(tmp_path: Path, pg_schema: str) -> Iterator[ServiceProcess]:
    yield from _intake(tmp_path, pg_schema, DEMO_POLICY)


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[RunningSink]:
    running = await start(SinkSettings(http_port=0, smtp_port=0, dir=tmp_path / "notices"))
    yield running
    await running.stop()


def _console() -> Console:
    return Console(file=io.StringIO(), width=140, force_terminal=False)


async def test_a_short_demo_opens_cases_escalates_and_the_sink_hears_of_it(
    tmp_path: Path,
    pg_schema: str,
    unique: str,
    kafka_settings: KafkaSettings,
    intake: ServiceProcess,
    sink: RunningSink,
) -> None:
    # The notifier sends the demo policy's recipients to this sink's ephemeral ports.
    recipients = sink_recipients(tmp_path / "recipients.yaml", sink.http_port)
    worker = EscalationProcess(
        app_id=f"demo-esc-{unique}",
        worker_name="w1",
        data_dir=tmp_path / "esc",
        policy_file=DEMO_POLICY,
    )
    notifier = NotifierProcess(
        name=unique,
        log_dir=tmp_path,
        env={
            "CASEGOLD_PG_DSN": pg_schema,
            "CASEGOLD_POLICY_FILE": DEMO_POLICY,
            "CASEGOLD_NOTIFIER_GROUP_ID": f"demo-notifier-{unique}",
            "CASEGOLD_NOTIFIER_RECIPIENTS_FILE": str(recipients),
            "CASEGOLD_NOTIFIER_SMTP_PORT": str(sink.smtp_port),
        },
    )
    followup = ServiceProcess(
        "casegold_followup",
        "CASEGOLD_FOLLOWUP_",
        tmp_path,
        {
            "CASEGOLD_PG_DSN": pg_schema,
            "CASEGOLD_POLICY_FILE": DEMO_POLICY,
            "CASEGOLD_FOLLOWUP_GROUP_ID": f"demo-followup-{unique}",
        },
    )
    await skip_topic_history(kafka_settings, f"demo-followup-{unique}", CASE_EVENTS)
    await skip_history(kafka_settings, worker.app_id)
    await skip_notifier_history(kafka_settings, f"demo-notifier-{unique}")
    worker.start()
    notifier.start()
    followup.start(followup.env)
    try:
        await asyncio.to_thread(worker.wait_ready)
        await notifier.wait_ready()
        await asyncio.to_thread(followup.wait_ready)
        options = Options(
            cases=4,
            rate=4.0,
            # Revisits come 10 s after the last resolution; the rest is margin for a loaded host.
            timeout=50.0,
            skip=frozenset({"reporting"}),
            endpoints=Endpoints(
                intake=intake.url,
                followup=followup.url,
                escalation=f"http://127.0.0.1:{worker.port}",
                notifier=f"http://127.0.0.1:{notifier.port}",
                sink=f"http://127.0.0.1:{sink.http_port}",
            ),
            kafka=kafka_settings,
        )
        console = _console()
        result = await run(options, console)
        async with httpx.AsyncClient() as client:
            await print_summary(result, Api(client, options.endpoints), options.endpoints, console)
    finally:
        worker.stop(grace=20)
        await notifier.stop(grace=20)
        followup.shutdown(20)
    answers = {t.plan.story: t.revisit_answers for t in result.tracked}
    logs = (
        f"revisits {answers}, {len(result.escalations)} escalations, {len(result.notices)} "
        f"notices after {result.elapsed:.1f} s\n{worker.log_tail()}\n{notifier.log_tail()}\n"
        f"{followup.log_tail()}"
    )
    assert result.failures == [], logs
    assert not result.timed_out, logs
    assert len(result.case_ids()) == 4
    assert all(t.reply["policy"] == "fast" for t in result.tracked)
    raised = {(e.payload.step, e.payload.reason) for e in result.escalations}
    # The P1 case acknowledged at 7 s breaches first response; the 2nd case of one phone repeats.
    assert {("warning", "sla_warning"), ("tier_1", "sla_breach")} <= raised, logs
    assert ("tier_1", "repeat_complainant") in raised, logs
    assert {e.case_id for e in result.escalations} <= {
        __import__("uuid").UUID(c) for c in result.case_ids()
    }
    channels = {(n["channel"], n["verified"]) for n in result.notices}
    assert ("webhook", True) in channels, logs  # the owner's warning, signed
    assert any(n["channel"] == "email" for n in result.notices), logs
    assert any(n["channel"] == "slack" for n in result.notices), logs
    assert {n["case_id"] for n in result.notices} <= result.case_ids()
    # Each case's revisit was leased from the real follow-up queue and answered.
    assert all(t.revisit_answers == ["satisfied"] for t in result.tracked), logs
    assert isinstance(console.file, io.StringIO)
    summary = console.file.getvalue()
    print(summary)
    assert "Escalations raised" in summary and "Who was told" in summary
    assert f"http://127.0.0.1:8084/cases/{result.tracked[0].case_id}" in summary


async def test_a_stack_on_an_hour_scale_policy_is_refused_with_how_to_restart(
    tmp_path: Path, pg_schema: str
) -> None:
    for intake in _intake(tmp_path, pg_schema, DEFAULT_POLICY):
        options = Options(
            cases=2,
            skip=frozenset({"escalation", "followup", "reporting", "notifier", "sink"}),
            endpoints=Endpoints(intake=intake.url),
        )
        with pytest.raises(WrongPolicy, match=r"CASEGOLD_POLICY_FILE=deploy/policy/demo\.yaml"):
            await run(options, _console())


async def test_a_part_that_does_not_answer_is_named_with_make_up() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    options = Options(
        skip=frozenset({"followup", "reporting", "notifier", "sink"}),
        endpoints=Endpoints(intake=nowhere, escalation=nowhere),
    )
    with pytest.raises(StackNotReady, match=r"intake .*escalation .*make up"):
        await run(options, _console())
