"""The reports on a crafted data set, against answers the test computes (support/report_data)."""

from __future__ import annotations

import asyncio
import csv
import io
import struct
from collections import Counter
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path
from typing import Any

import httpx
import pytest

from casegold_platform.settings import KafkaSettings
from casegold_reporting import report
from casegold_reporting.report_math import RELATIVE_ERROR
from casegold_reporting.wiring import build_app
from tests.support.browser import rendered_dom, screenshot, served
from tests.support.report_data import (
    NOW,
    REPORT_POLICY,
    WEEK,
    Expected,
    crafted,
    nearest_rank,
)
from tests.support.reporting import (
    AGENT,
    FixedClock,
    Topics,
    caught_up,
    config,
    end_offsets,
    eventually,
    make_topics,
    publish,
    running,
)

pytestmark = pytest.mark.integration
MANAGER = {"Authorization": "Bearer dev-manager-key"}
WEEK_QUERY = {"from": "2025-03-03", "to": "2025-03-09"}


async def projected(
    kafka: KafkaSettings, dsn: str, unique: str, directory: Path
) -> tuple[Topics, Path, Expected]:
    """The crafted data published on fresh topics; the policy file written."""
    topics = await make_topics(kafka, unique)
    events, escalations, expected = crafted()
    await publish(kafka, topics.case_events, events)
    await publish(kafka, topics.escalations, escalations)
    policy = directory / "report-policy.yaml"
    policy.write_text(REPORT_POLICY, encoding="utf-8")
    return topics, policy, expected


@pytest.fixture
async def reporting(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Expected]]:
    topics, policy, expected = await projected(kafka_settings, pg_schema, unique, tmp_path)
    ends = await end_offsets(kafka_settings, topics)
    settings = config(kafka_settings, pg_schema, topics, policy)
    async with running(settings, FixedClock(NOW)) as client:
        await eventually(lambda: caught_up(pg_schema, ends), 90, "the projection")
        yield client, expected


def close_to(value: float | None, exact: float) -> bool:
    """Within the histogram's relative error (and a tenth of a second of rounding)."""
    return value is not None and abs(value - exact) <= exact * RELATIVE_ERROR + 0.1


def percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1)


async def test_summary_counts_percentiles_compliance_escalations_and_root_causes(
    reporting: tuple[httpx.AsyncClient, Expected],
) -> None:
    client, expected = reporting
    assert (await client.get("/v1/reports/summary", headers=AGENT)).status_code == 403
    reply = await client.get("/v1/reports/summary", params=WEEK_QUERY, headers=MANAGER)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["period"]["days"] == 7 and body["previous"]["first"] == "2025-02-24"
    assert body["opened"] == expected.opened["all"] == 30
    assert body["by_category"] == dict(expected.by_category)
    assert body["by_channel"] == dict(expected.by_channel)
    assert body["by_priority"] == dict(expected.by_priority)
    for name, measured in (("first_response", expected.first_response),
                           ("resolution", expected.resolution)):  # fmt: skip
        seconds = [s for s, _ in measured]
        met = sum(1 for _, ok in measured if ok)
        durations = body[name]
        assert durations["measured"] == len(seconds)
        assert close_to(durations["median_seconds"], nearest_rank(seconds, 0.5)), name
        assert close_to(durations["p90_seconds"], nearest_rank(seconds, 0.9)), name
        assert abs(durations["mean_seconds"] - sum(seconds) / len(seconds)) < 0.1
        [clock] = [c for c in body["compliance"] if c["milestone"] == name]
        assert (clock["met"], clock["breached"]) == (met, len(seconds) - met), name
        assert clock["percent"] == percent(met, len(seconds))
    tiers = [(tier, expected.escalation_tiers[tier]) for tier in ("warning", "tier_1", "tier_2")]
    assert list(body["escalations"]["by_tier"].items()) == tiers
    assert body["escalations"]["by_reason"] == dict(expected.escalation_reasons)
    assert body["escalations"]["total"] == 4
    resolved = sum(expected.root_causes.values())
    assert body["reopens"] == {
        "resolved": resolved, "reopened": expected.reopened,
        "rate_percent": percent(expected.reopened, resolved),
    }  # fmt: skip
    revisits = body["revisits"]
    assert revisits["scored"] == len(expected.scores)
    assert revisits["mean_score"] == round(sum(expected.scores) / len(expected.scores), 2)
    assert revisits["distribution"] == {str(s): expected.scores.count(s) for s in range(1, 6)}
    previous_total = sum(expected.previous_root_causes.values())
    causes = {c["category"]: c for c in body["root_causes"]}
    assert set(causes) == set(expected.root_causes)
    for category, cases in expected.root_causes.items():
        share = 100 * cases / resolved
        before = 100 * expected.previous_root_causes[category] / previous_total
        assert causes[category]["cases"] == cases
        assert causes[category]["share_percent"] == round(share, 1)
        assert causes[category]["previous_share_percent"] == round(before, 1)
        direction = (
            "new" if before == 0 else
            "up" if share > before + 1 else "down" if share < before - 1 else "flat"
        )  # fmt: skip
        assert causes[category]["trend"] == direction, category
    assert [c["cases"] for c in body["root_causes"]] == sorted(
        (c["cases"] for c in body["root_causes"]), reverse=True
    )


async def test_dealers_rate_z_score_flag_and_dealer_clock_compliance(
    reporting: tuple[httpx.AsyncClient, Expected],
) -> None:
    client, expected = reporting
    body = (await client.get("/v1/reports/dealers", params=WEEK_QUERY, headers=MANAGER)).json()
    z = expected.dealer_z()
    mean = sum(expected.dealer_cases.values()) / len(expected.dealer_cases)
    lines = {line["dealer_id"]: line for line in body["dealers"]}
    assert body["dealers_counted"] == len(expected.dealer_cases) == 7
    assert body["flag_z"] == 2.0
    for dealer, cases in expected.dealer_cases.items():
        line = lines[dealer]
        assert line["cases"] == cases
        assert line["z_score"] == round(z[dealer], 2)
        assert line["rate_vs_mean"] == round(cases / mean, 2)
        assert line["flagged"] is (z[dealer] >= 2.0)
    assert [d for d, line in lines.items() if line["flagged"]] == ["dealer-G"]
    replies = expected.dealer_replies["dealer-G"]
    [reply] = [
        c for c in lines["dealer-G"]["compliance"] if c["milestone"] == "dealer_first_response"
    ]
    assert (reply["met"], reply["breached"]) == (sum(replies), len(replies) - sum(replies))
    assert body["dealers"][0]["dealer_id"] == "dealer-G"


async def test_agents_load_overdue_sensitive_escalated_and_the_flag(
    reporting: tuple[httpx.AsyncClient, Expected],
) -> None:
    client, expected = reporting
    body = (await client.get("/v1/reports/agents", headers=MANAGER)).json()
    lines = {line["owner"]: line for line in body["agents"]}
    owners = Counter(expected.owners.values())
    open_load = Counter(expected.owners[c] for c in expected.open_cases)
    assert set(lines) == set(owners)
    mean = sum(open_load[o] for o in owners) / len(owners)
    assert body["team_mean_open"] == round(mean, 2)
    for owner in owners:
        mine = {c for c, who in expected.owners.items() if who == owner}
        line = lines[owner]
        assert line["open"] == open_load[owner], owner
        assert line["sensitive_open"] == len(mine & expected.sensitive & expected.open_cases)
        assert line["escalated_open"] == len(mine & expected.escalated & expected.open_cases)
        resolved, reopened = (
            len(mine & expected.resolved_cases),
            len(mine & expected.reopened_cases),
        )
        assert (line["resolved"], line["reopened"]) == (resolved, reopened), owner
        assert line["flagged"] is (open_load[owner] >= 1.5 * mean), owner
        overdue = 0
        for case_id in mine & expected.open_cases:  # the case views' clocks, as of NOW
            view = (await client.get(f"/v1/cases/{case_id}", headers=AGENT)).json()
            late = [
                c for c in view["clocks"] if c["status"] == "breached" and c["ended_at"] is None
            ]
            overdue += bool(late)
        assert line["overdue"] == overdue, owner
    assert body["agents"][0]["owner"] == "agent-heavy" and lines["agent-heavy"]["flagged"]
    assert sum(line["overdue"] for line in body["agents"]) > 0


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_weekly_csv_matches_the_json_reports_and_bad_input_is_refused(
    reporting: tuple[httpx.AsyncClient, Expected],
) -> None:
    client, expected = reporting
    reply = await client.get("/reports/weekly.csv", params={"week": WEEK})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    same = await client.get("/reports/weekly", params={"week": WEEK, "format": "csv"})
    assert same.text == reply.text
    rows = csv_rows(reply.text)
    figures = {(r["section"], r["item"], r["measure"]): r["value"] for r in rows}
    for (day, category), cases in expected.volume.items():
        assert figures[("volume", day, category)] == str(cases)
    summary = (await client.get("/v1/reports/summary", params=WEEK_QUERY, headers=MANAGER)).json()
    assert figures[("opened", "all", "cases")] == str(summary["opened"])
    for clock in summary["compliance"]:
        value = (
            "" if clock["percent"] is None else f"{clock['percent']:.2f}".rstrip("0").rstrip(".")
        )
        assert figures[("compliance", clock["milestone"], "percent")] == value
    for tier, steps in summary["escalations"]["by_tier"].items():
        assert figures[("escalations", tier, "steps")] == str(steps)
    assert figures[("dealers", "dealer-G", "flagged")] == "yes"
    assert figures[("agents", "agent-heavy", "flagged")] == "yes"
    for query, fragment in (({"week": "2025-W60"}, "does not exist"),
                            ({"week": "week ten"}, "YYYY-Www")):  # fmt: skip
        refused = await client.get("/reports/weekly", params=query)
        assert refused.status_code == 422 and fragment in refused.text
    for query in ({"from": "March"}, {"from": "2025-03-09", "to": "2025-03-01"}):
        refused = await client.get("/v1/reports/summary", params=query, headers=MANAGER)
        assert refused.status_code == 422, query


def bars(segment: str) -> list[dict[str, Any]]:
    """The bars of one pygal chart: label, printed value, drawn size."""
    found = []
    for part in segment.split('<g class="bar">')[1:]:
        rect = part[: part.find(">")]
        sizes = [float(v) for k, v in (kv.split("=") for kv in rect.replace('"', "").split()
                 if "=" in kv) if k in ("width", "height")]  # fmt: skip
        value = part.split('<desc class="value">')[1].split("<")[0]
        label = part.split('<desc class="x_label">')[1].split("<")[0] if "x_label" in part else ""
        found.append({"label": label, "value": value, "area": sizes[0] * sizes[1]})
    return found


def figures_of(dom: str) -> dict[str, str]:
    """Each chart's figure element by its data-chart name."""
    charts = {}
    for part in dom.split('<figure class="chart card"')[1:]:
        name = part.split('data-chart="')[1].split('"')[0]
        charts[name] = part[: part.find("</figure>")]
    return charts


def series_of(segment: str) -> list[list[dict[str, Any]]]:
    """The bars of each series of a chart, in the order the series were added."""
    # Printed values repeat each series' group in the text overlay, without bars.
    found = [bars(part) for part in segment.split('<g class="series serie-')[1:]]
    return [series for series in found if series]


def number(text: str) -> float:
    return float(text.replace(",", ""))


async def test_weekly_page_in_chromium_every_chart_drawn_with_the_data_and_tables_match_csv(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path
) -> None:
    topics, policy, expected = await projected(kafka_settings, pg_schema, unique, tmp_path)
    ends = await end_offsets(kafka_settings, topics)
    app = build_app(config(kafka_settings, pg_schema, topics, policy), FixedClock(NOW))
    async with served(app) as base:
        await eventually(lambda: caught_up(pg_schema, ends), 90, "the projection")
        url = f"{base}/reports/weekly?week={WEEK}"
        dom = await rendered_dom(url)
        shot = await screenshot(url, tmp_path / "weekly.png")
        async with httpx.AsyncClient(base_url=base) as client:
            table = csv_rows((await client.get("/reports/weekly.csv", params={"week": WEEK})).text)
            summary = (await client.get("/v1/reports/summary", params=WEEK_QUERY,
                                        headers=MANAGER)).json()  # fmt: skip
            case_page = (await client.get(f"/cases/{next(iter(expected.owners))}")).text
            css = (await client.get("/static/reporting.css")).text
    keep = Path("var/test-artifacts")
    keep.mkdir(parents=True, exist_ok=True)
    (keep / "reporting-weekly.png").write_bytes(shot)

    charts = figures_of(dom)
    assert sorted(charts) == sorted(
        ["volume", "compliance", "escalations", "root-causes", "dealers", "agents"]
    )
    for name, segment in charts.items():
        assert "<svg" in segment, name
        drawn = [bar for bar in bars(segment) if bar["area"] > 0]
        assert drawn, f"chart {name} has no marks"
        assert all(bar["label"] for bar in drawn), name
    escalations = [(b["label"], b["value"]) for b in bars(charts["escalations"])]
    assert escalations == [("warning", "1"), ("tier_1", "2"), ("tier_2", "1")]
    compliance = {b["label"]: number(b["value"]) for b in bars(charts["compliance"])}
    assert compliance == {c["milestone"]: c["percent"] for c in summary["compliance"]
                          if c["percent"] is not None}  # fmt: skip
    causes = {b["label"]: int(b["value"]) for b in bars(charts["root-causes"])}
    assert causes == dict(expected.root_causes)
    [_, flagged] = series_of(charts["dealers"])
    assert [(b["label"], b["value"]) for b in flagged if b["area"] > 0] == [("dealer-G", "6")]
    [opened, _overdue] = series_of(charts["agents"])
    assert opened[0]["label"] == "agent-heavy" and opened[0]["value"] == "12"
    categories = sorted({category for _, category in expected.volume})
    days = sorted({day for day, _ in expected.volume} | {f"2025-03-0{d}" for d in range(3, 10)})
    for category, series in zip(categories, series_of(charts["volume"]), strict=True):
        counts = [int(number(b["value"])) if b["value"] else 0 for b in series]
        assert counts == [expected.volume[(day, category)] for day in days], category

    for row in table:  # the page's tables show exactly the CSV's figures
        if row["section"] == "period":
            continue
        value = escape(row["value"], quote=False)
        cell = (f'data-section="{row["section"]}" data-item="{escape(row["item"])}" '
                f'data-measure="{escape(row["measure"])}">{value}</td>')  # fmt: skip
        assert cell in dom, row
    assert "<script" not in dom and 'src="http' not in dom and 'href="http' not in dom
    assert "@media print" in css and "reporting.css" in dom
    assert 'id="weekly-report-link" href="/reports/weekly"' in case_page
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", shot[16:24])
    assert (width, height) == (1280, 1400) and len(shot) > 60_000


async def test_make_report_writes_the_weeks_page_and_csv_to_files(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    topics, policy, _ = await projected(kafka_settings, pg_schema, unique, tmp_path)
    ends = await end_offsets(kafka_settings, topics)
    async with running(
        config(kafka_settings, pg_schema, topics, policy), FixedClock(NOW)
    ) as client:
        await eventually(lambda: caught_up(pg_schema, ends), 90, "the projection")
        served_csv = (await client.get("/reports/weekly.csv", params={"week": WEEK})).text
    monkeypatch.setenv("CASEGOLD_PG_DSN", pg_schema)
    monkeypatch.setenv("CASEGOLD_POLICY_FILE", str(policy))
    out = tmp_path / "reports"
    assert await asyncio.to_thread(report.main, ["--week", WEEK, "--out", str(out)]) == 0
    page = (out / f"weekly-{WEEK}.html").read_text(encoding="utf-8")
    written = (out / f"weekly-{WEEK}.csv").read_text(encoding="utf-8")
    assert "<style>" in page and "@media print" in page and page.count("<svg") == 6

    # Agents' overdue counts are as of the moment of writing; every other figure is the same.
    def stable(text: str) -> list[dict[str, str]]:
        return [row for row in csv_rows(text) if row["section"] != "agents"]

    assert stable(written) == stable(served_csv) and len(stable(written)) > 50
    assert await asyncio.to_thread(report.main, ["--week", "2025-W99", "--out", str(out)]) == 2
