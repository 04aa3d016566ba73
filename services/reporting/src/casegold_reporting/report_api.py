"""The reports over HTTP (thin routes): /v1/reports/*, the weekly page and its CSV."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from casegold_platform.clock import Clock
from casegold_platform.http import Principal, authorizer, role_dependency
from casegold_platform.http.auth import Role
from casegold_reporting import reports, weekly_table
from casegold_reporting.charts import render_all
from casegold_reporting.pages import templates
from casegold_reporting.report_models import Agents, Dealers, Summary, Weekly
from casegold_reporting.report_service import Reports

# SPEC §1: managers read reports; operations watch the service.
ROLES: Final[tuple[Role, ...]] = ("manager", "ops")
Reader = Annotated[Principal, Depends(role_dependency(*ROLES))]
From = Annotated[str | None, Query(alias="from", description="first day, YYYY-MM-DD")]
To = Annotated[str | None, Query(description="last day (inclusive), YYYY-MM-DD; default today")]
WeekParam = Annotated[str | None, Query(description="ISO week YYYY-Www; default this week")]


def report_routes(service: Reports, clock: Clock, pages_public: bool) -> list[APIRouter]:
    """The JSON reports and the weekly page."""
    api = APIRouter(prefix="/v1/reports", tags=["reports"])
    pages = APIRouter(include_in_schema=False)
    guard = authorizer(*ROLES)

    @api.get("/summary", response_model=Summary)
    async def summary(_: Reader, first: From = None, to: To = None) -> Summary:
        """Counts, SLA compliance, business-time percentiles, escalations, reopens, revisits,
        top root causes with their trend; days in the policy's `reports.timezone`."""
        try:
            span = service.period(first, to, clock())
        except reports.BadPeriod as error:
            raise HTTPException(422, str(error)) from None
        return await service.summary(span)

    @api.get("/dealers", response_model=Dealers)
    async def dealers(_: Reader, first: From = None, to: To = None) -> Dealers:
        """Per dealer: cases, rate against the mean, z-score, compliance on the dealer clocks."""
        try:
            span = service.period(first, to, clock())
        except reports.BadPeriod as error:
            raise HTTPException(422, str(error)) from None
        return await service.dealers(span)

    @api.get("/agents", response_model=Agents)
    async def agents(_: Reader) -> Agents:
        """Per owner: open load, overdue, sensitive and escalated open cases, reopen rate."""
        return await service.agents(clock())

    async def weekly_report(request: Request, week: str | None) -> Weekly:
        if not pages_public:
            guard(request)
        now = clock()
        chosen = week or reports.week_of(now.astimezone(reports.zone_of(service.settings.timezone)))
        try:
            return await service.weekly(chosen, now)
        except reports.BadPeriod as error:
            raise HTTPException(422, str(error)) from None

    @pages.get("/reports/weekly", response_class=HTMLResponse)
    async def weekly(request: Request, week: WeekParam = None, format: str = "html") -> Response:
        report = await weekly_report(request, week)
        if format == "csv":
            return csv_response(report)
        if format != "html":
            raise HTTPException(422, "format: expected html or csv")
        return HTMLResponse(render_weekly(report))

    @pages.get("/reports/weekly.csv")
    async def weekly_csv(request: Request, week: WeekParam = None) -> Response:
        return csv_response(await weekly_report(request, week))

    return [api, pages]


def render_weekly(report: Weekly, inline_css: str | None = None) -> str:
    """The weekly report page; `inline_css` makes it self-contained (what `make report` writes)."""
    return templates.get_template("weekly.html").render(
        report=report, charts=render_all(report), sections=weekly_table.sections(report),
        inline_css=inline_css,
    )  # fmt: skip


def csv_response(report: Weekly) -> Response:
    """The weekly report as a CSV download."""
    return Response(
        weekly_table.to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="weekly-{report.week}.csv"'},
    )
