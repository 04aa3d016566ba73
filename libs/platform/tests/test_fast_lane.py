"""The fast lane: the same answers as FastAPI's own routing, without walking it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry

from casegold_platform.http import install_fast_lane, install_plumbing, service_app


class Refused(Exception):
    """A domain refusal the app answers with its own handler."""


class RefusedHarder(Refused):
    """A subclass: found through the handler of its base class."""


def _app(*, lane: bool) -> FastAPI:
    app = service_app(title="probe", version="1", description="a probe service")
    router = APIRouter()

    @router.post("/v1/things", status_code=201)
    async def post_thing(request: Request) -> Response:
        body = await request.body()
        if body == b"refuse":
            raise RefusedHarder("no")
        if body == b"forbid":
            raise HTTPException(403, "not for you", headers={"X-Why": "role"})
        if body == b"crash":
            raise RuntimeError("a bug")
        return Response(b'{"echo": "%s"}' % body, 201, media_type="application/json")

    @router.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, int]:
        return {"thing_id": thing_id}

    app.include_router(router)
    if lane:
        install_fast_lane(app, ("POST", "/v1/things"))
    install_plumbing(app, readiness=_ready, registry=CollectorRegistry())

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": f"refused: {exc}"}, status_code=409)

    return app


async def _ready() -> dict[str, bool]:
    return {}


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://probe")


@pytest.fixture
def no_routing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Routing to an API route fails: whatever still answers came through the lane."""

    async def refuse(self: APIRoute, *args: object) -> None:
        raise AssertionError(f"{self.path} was routed")

    monkeypatch.setattr(APIRoute, "handle", refuse)
    yield


async def _answers(app: FastAPI) -> list[tuple[int, bytes, str | None]]:
    async with _client(app) as client:
        replies = [await client.post("/v1/things", content=body)
                   for body in (b"x", b"refuse", b"forbid", b"crash")]  # fmt: skip
    return [(r.status_code, r.content, r.headers.get("x-why")) for r in replies]


async def test_lane_answers_as_the_router_does() -> None:
    routed, laned = await _answers(_app(lane=False)), await _answers(_app(lane=True))
    assert laned == routed
    assert [status for status, _, _ in laned] == [201, 409, 403, 500]
    assert laned[1][1] == b'{"detail":"refused: no"}'


async def test_lane_route_skips_the_router(no_routing: None) -> None:
    async with _client(_app(lane=True)) as client:
        response = await client.post("/v1/things", content=b"x")
        routed = await client.get("/v1/things/7")
    assert (response.status_code, response.json()) == (201, {"echo": "x"})
    assert routed.status_code == 500  # the other route still went through the router


async def test_lane_requests_are_counted_under_their_template() -> None:
    async with _client(_app(lane=True)) as client:
        await client.post("/v1/things", content=b"x")
        await client.post("/v1/things", content=b"refuse")
        metrics = (await client.get("/metrics")).text
    assert 'method="POST",route="/v1/things",status="201"} 1.0' in metrics
    assert 'method="POST",route="/v1/things",status="409"} 1.0' in metrics


async def test_other_methods_and_paths_take_the_usual_way() -> None:
    async with _client(_app(lane=True)) as client:
        wrong_method = await client.get("/v1/things")
        other = await client.get("/v1/things/7")
    assert wrong_method.status_code == 405
    assert other.json() == {"thing_id": 7}


def test_only_request_only_endpoints_may_take_the_lane() -> None:
    app = service_app(title="probe", version="1", description="a probe service")

    @app.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, int]:
        return {"thing_id": thing_id}

    with pytest.raises(ValueError, match="takes only the request"):
        install_fast_lane(app, ("GET", "/v1/things/{thing_id}"))
    with pytest.raises(ValueError, match="no route POST /v1/nothing"):
        install_fast_lane(app, ("POST", "/v1/nothing"))
