"""The case views over HTTP (thin routes): GET /v1/cases, /v1/cases/{id}, its events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from casegold_contracts import CaseStatus, Priority
from casegold_platform.clock import Clock
from casegold_platform.http import Principal, authorizer, role_dependency
from casegold_reporting.adapters.queries import BadCursor, CaseFilter, CaseQueries
from casegold_reporting.models import CaseList, CaseView, EventOutcome
from casegold_reporting.views import case_view, event_outcome

READERS = authorizer("agent", "manager", "ops")
Reader = Annotated[Principal, Depends(role_dependency("agent", "manager", "ops"))]


def case_routes(queries: CaseQueries, clock: Clock, page_size: int) -> APIRouter:
    """The /v1/cases routes."""
    router = APIRouter(prefix="/v1/cases", tags=["cases"])

    @router.get("", response_model=CaseList)
    async def list_cases(
        _: Reader,
        status: CaseStatus | None = None,
        owner: str | None = None,
        priority: Priority | None = None,
        category: str | None = None,
        dealer: str | None = None,
        breached: bool | None = None,
        sensitive: bool | None = None,
        opened_from: datetime | None = None,
        opened_to: datetime | None = None,
        after: Annotated[str | None, Query(description="`next` of the previous page")] = None,
        limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    ) -> CaseList:
        for name, value in (("opened_from", opened_from), ("opened_to", opened_to)):
            if value is not None and value.tzinfo is None:
                raise HTTPException(422, f"{name}: give a time zone (e.g. Z)")
        where = CaseFilter(
            status, owner, priority, category, dealer, breached, sensitive, opened_from, opened_to
        )
        try:
            items, following = await queries.cases(where, after, limit or page_size)
        except BadCursor as error:
            raise HTTPException(422, f"after: {error}") from None
        return CaseList(items=items, next=following)

    @router.get("/{case_id}", response_model=CaseView, responses={404: {}, 303: {}})
    async def get_case(case_id: UUID, request: Request) -> CaseView | Response:
        # The notices' link opened in a browser (no key, wants HTML) goes to the case page.
        accepts_html = "text/html" in request.headers.get("accept", "")
        if accepts_html and "authorization" not in request.headers:
            return RedirectResponse(f"/cases/{case_id}", status_code=303)
        READERS(request)
        records = await queries.case(case_id)
        if records is None:
            raise HTTPException(404, "no such case (yet: reads lag writes by up to a second)")
        view = case_view(
            records.case, records.timeline, records.escalations, records.deliveries, clock()
        )
        return view

    @router.get("/{case_id}/events/{event_id}", response_model=EventOutcome)
    async def get_event(_: Reader, case_id: UUID, event_id: UUID) -> EventOutcome:
        entry = await queries.event(case_id, event_id)
        if entry is None:
            raise HTTPException(404, "event not projected (yet): retry shortly")
        return event_outcome(entry)

    return router
