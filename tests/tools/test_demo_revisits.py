"""The demo's revisit agent against an in-process stand-in of the follow-up and intake APIs."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tools.demo.run import Options, Run, progress_display
from tools.demo.stack import Api, Endpoints

FOREIGN_CASE = str(uuid.uuid4())


class Queue:
    """Due callbacks, and what the agent did with them."""

    def __init__(self, cases: list[str]) -> None:
        self.due: list[dict[str, Any]] = []
        self.answers: list[tuple[str, str]] = []
        self.released: list[str] = []
        self.commands: list[tuple[str, str]] = []
        self.reopened: set[str] = set()
        for case in [FOREIGN_CASE, *cases]:  # the foreign call is overdue: it heads the queue
            self.add(case)

    def add(self, case: str) -> None:
        self.due.append(
            {"callback_id": str(uuid.uuid4()), "case_id": case, "lease_token": str(uuid.uuid4())}
        )

    def app(self) -> Starlette:
        by_id: dict[str, dict[str, Any]] = {}

        async def lease(request: Request) -> JSONResponse:
            limit = (await request.json())["limit"]
            taken, self.due = self.due[:limit], self.due[limit:]
            by_id.update({c["callback_id"]: c for c in taken})
            return JSONResponse({"callbacks": taken})

        async def outcome(request: Request) -> JSONResponse:
            callback = by_id[request.path_params["id"]]
            body = await request.json()
            assert body["lease_token"] == callback["lease_token"]
            self.answers.append((callback["case_id"], body["outcome"]))
            if body["outcome"] == "unsatisfied":
                self.reopened.add(callback["case_id"])
            return JSONResponse({"status": "recorded"})

        async def release(request: Request) -> JSONResponse:
            self.released.append(by_id[request.path_params["id"]]["case_id"])
            return JSONResponse({"status": "released"})

        async def command(request: Request) -> JSONResponse:
            case, name = request.path_params["case"], (await request.json())["command"]
            self.commands.append((case, name))
            if name == "resolve" and case in self.reopened:
                self.add(case)  # resolved again: the follow-up schedules a new revisit
            return JSONResponse({"status": "accepted"}, status_code=202)

        return Starlette(
            routes=[
                Route("/v1/callbacks/lease", lease, methods=["POST"]),
                Route("/v1/callbacks/{id}/outcome", outcome, methods=["POST"]),
                Route("/v1/callbacks/{id}/release", release, methods=["POST"]),
                Route("/v1/cases/{case}/commands", command, methods=["POST"]),
            ]
        )


async def test_revisits_answer_as_planned_reopen_is_resolved_and_others_calls_given_back() -> None:
    options = Options(cases=6, pace=0.01, timeout=20.0, endpoints=Endpoints("http://demo"))
    with progress_display(Console(file=io.StringIO())) as progress:
        transport_app: list[Starlette] = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_lazy(transport_app)), base_url="http://demo"
        ) as client:
            endpoints = Endpoints(intake="http://demo", followup="http://demo")
            run = Run(options, Api(client, endpoints), progress)
            for tracked in run.tracked:
                tracked.case_id = str(uuid.uuid4())
            queue = Queue([t.case_id for t in run.tracked if t.case_id])
            transport_app.append(queue.app())
            assert await run.revisits() is True
    for tracked in run.tracked:
        planned = [answer["outcome"] for answer in tracked.plan.revisit]
        assert tracked.revisit_answers == planned
        assert [o for c, o in queue.answers if c == tracked.case_id] == planned
    reopened = [t for t in run.tracked if t.plan.after_reopen]
    assert reopened, "the stories include an unsatisfied revisit"
    assert all((t.case_id, "resolve") in queue.commands for t in reopened)
    assert queue.released == [FOREIGN_CASE]
    assert FOREIGN_CASE not in {c for c, _ in queue.answers}


def _lazy(holder: list[Starlette]) -> Any:
    """An ASGI app that forwards to the one put in `holder` (built once the case ids exist)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await holder[0](scope, receive, send)

    return app
