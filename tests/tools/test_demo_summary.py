"""The demo summary's closing links: the weekly report of the week, Prometheus when it runs."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import httpx
from rich.console import Console

from tools.demo.run import Result, Tracked
from tools.demo.scenario import plans
from tools.demo.stack import Api, Endpoints
from tools.demo.summary import cases_table, links, print_summary, weekly_report

ENDPOINTS = Endpoints(prometheus="http://127.0.0.1:19090", grafana="http://127.0.0.1:13000")


def test_the_weekly_report_link_names_the_iso_week() -> None:
    # 1 January 2027 is a Friday of ISO week 53 of 2026.
    assert weekly_report("http://r", datetime(2027, 1, 1, tzinfo=UTC)) == (
        "http://r/reports/weekly?week=2026-W53"
    )
    assert weekly_report("http://r", datetime(2026, 12, 1, tzinfo=UTC)).endswith("week=2026-W49")


def test_only_the_report_and_the_sink_are_named_when_they_do_not_answer() -> None:
    named = {url: always for url, _, always in links(ENDPOINTS, datetime(2026, 12, 1, tzinfo=UTC))}
    assert named == {
        "http://127.0.0.1:8084/reports/weekly?week=2026-W49": True,
        "http://127.0.0.1:8180/": True,
        "http://127.0.0.1:19090/": False,
        "http://127.0.0.1:13000/d/casegold-overview": False,
    }


async def test_prometheus_is_listed_when_it_answers_and_grafana_left_out_when_it_does_not() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        # Prometheus sends its front page on to its UI, as Debian's build does.
        if request.url.port == 19090:
            if request.url.path == "/":
                return httpx.Response(302, headers={"Location": "/classic/graph"})
            return httpx.Response(200)
        return httpx.Response(503)

    console = Console(file=io.StringIO(), width=160, force_terminal=False)
    result = Result([], [], [], [], 1.0, False, frozenset({"escalation", "sink", "followup"}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await print_summary(result, Api(client, ENDPOINTS), ENDPOINTS, console)
    assert isinstance(console.file, io.StringIO)
    text = console.file.getvalue()
    assert "http://127.0.0.1:19090/  (Prometheus)" in text
    assert "/reports/weekly?week=" in text and "weekly manager report: not answering" in text
    assert "13000" not in text


def test_a_narrow_terminal_shows_case_ids_and_keeps_every_column() -> None:
    tracked = Tracked(plan=plans(1, seed=0)[0], case_id="57feaf18-0b66-507c-824a-d74d61d34c2a")
    tracked.reply = {"channel": "ivr", "priority": "P2", "sensitive_reasons": []}
    result = Result([tracked], [], [], [], 1.0, False, frozenset())
    for width, page in ((80, False), (160, True)):
        console = Console(file=io.StringIO(), width=width, force_terminal=False)
        console.print(cases_table(result, "http://127.0.0.1:8084", console.width))
        assert isinstance(console.file, io.StringIO)
        text = console.file.getvalue()
        assert tracked.plan.story.split()[0] in text and "ivr" in text and "P2" in text, text
        assert ("http://127.0.0.1:8084/cases/57feaf18" in text) is page, text
        assert ("57feaf18-0b66-507c-824a-d74d61d34c2a" in text) is page, text


async def test_a_narrow_summary_lists_every_case_page_on_a_line_of_its_own() -> None:
    tracked = Tracked(plan=plans(1, seed=0)[0], case_id="57feaf18-0b66-507c-824a-d74d61d34c2a")
    result = Result(
        [tracked], [], [], [], 1.0, False, frozenset({"escalation", "sink", "followup"})
    )
    console = Console(file=io.StringIO(), width=80, force_terminal=False)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(503))
    ) as client:
        await print_summary(result, Api(client, ENDPOINTS), ENDPOINTS, console)
    assert isinstance(console.file, io.StringIO)
    lines = console.file.getvalue().splitlines()
    assert "  57feaf18  http://127.0.0.1:8084/cases/57feaf18-0b66-507c-824a-d74d61d34c2a" in lines
