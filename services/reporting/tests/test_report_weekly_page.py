"""The weekly page and CSV of a week without data: every chart says so, nothing breaks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casegold_reporting import reports, weekly_table
from casegold_reporting.report_api import render_weekly
from casegold_reporting.report_models import Weekly


def empty_week() -> Weekly:
    span = reports.iso_week("2026-W01", "UTC")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    return Weekly(
        week="2026-W01", summary=reports.summary({}, {}, span), volume=reports.volume([], span),
        dealers=reports.dealers({}, span, 2.0), agents=reports.agents([], now, 1.5),
    )  # fmt: skip


def test_an_empty_week_renders_six_charts_without_script_and_a_short_csv() -> None:
    page = render_weekly(empty_week(), inline_css="body{}")
    assert page.count("<svg") == 6 and "<script" not in page and "<!--" not in page
    assert "<style>body{}</style>" in page
    rows = weekly_table.rows(empty_week())
    assert ("period", "from", "value", "2025-12-29") in rows
    assert ("opened", "all", "cases", "0") in rows
    assert ("compliance", "first_response", "percent", "") in rows


def test_weeks_and_days_are_checked() -> None:
    assert reports.iso_week("2026-W53", "UTC").first.isoformat() == "2026-12-28"
    for text in ("2025-W53", "2026-W00", "2026-48"):
        with pytest.raises(reports.BadPeriod, match=text):
            reports.iso_week(text, "UTC")
    with pytest.raises(reports.BadPeriod, match="before"):
        reports.period(
            reports.parse_day("from", "2026-02-02"), reports.parse_day("to", "2026-02-01"), "UTC"
        )
    assert reports.week_of(reports.parse_day("to", "2026-12-01")) == "2026-W49"
