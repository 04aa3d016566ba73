"""Pages for people: `/cases/{id}` rendered on the server (Jinja2), assets served from here."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from casegold_platform.clock import Clock
from casegold_platform.http import authorizer
from casegold_reporting.adapters.queries import CaseQueries
from casegold_reporting.models import ClockOut
from casegold_reporting.views import case_view

HERE: Final = Path(__file__).resolve().parent
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)


def duration(seconds: float) -> str:
    """A business duration for people: 2d 3h, 4h 05m, 12m, 40s (negative: overdue)."""
    sign = "-" if seconds < 0 else ""
    left = int(abs(seconds))
    days, left = divmod(left, 86_400)
    hours, left = divmod(left, 3_600)
    minutes, secs = divmod(left, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m"
    return f"{sign}{secs}s"


def moment(value: datetime | None) -> str:
    """An instant for people (UTC, to the second)."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def progress(clock: ClockOut) -> int:
    """How full a clock's bar is, in percent of its target (capped at 100)."""
    if clock.target_seconds <= 0:
        return 100
    return max(0, min(100, round(100 * clock.elapsed_seconds / clock.target_seconds)))


templates.filters.update(duration=duration, moment=moment)
templates.globals.update(progress=progress)


def page_routes(app: FastAPI, queries: CaseQueries, clock: Clock, public: bool) -> APIRouter:
    """The HTML routes, and the local assets they use under /static."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    router = APIRouter(include_in_schema=False)
    guard = authorizer("agent", "manager", "ops")

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    async def case_page(case_id: UUID, request: Request) -> HTMLResponse:
        if not public:
            guard(request)
        records = await queries.case(case_id)
        if records is None:
            body = templates.get_template("missing.html").render(case_id=case_id)
            return HTMLResponse(body, status_code=404)
        view = case_view(
            records.case, records.timeline, records.escalations, records.deliveries, clock()
        )
        return HTMLResponse(templates.get_template("case.html").render(case=view))

    return router
