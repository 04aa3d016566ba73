"""A service's hottest routes served straight from their endpoint, skipping the routing walk.

FastAPI reaches an endpoint through its exception middleware, an exit-stack middleware, the
router's match of every route in turn, the included router, the route's request wrapper and
dependency solving: about a tenth of a millisecond of CPU per request, more than some of the
endpoints themselves. An endpoint that takes only the `Request` and returns a `Response` needs
none of it, so the lane calls it directly and answers its exceptions with the app's own
handlers, as the exception middleware would. Every other request takes the usual way.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


class FastLane:
    """Pure ASGI middleware: a request whose method and path name a lane route goes straight in."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, routes: dict[tuple[str, str], APIRoute]):
        self.app = app
        self.fastapi = fastapi
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        # Under a root path the router strips it first; the lane leaves that case to it.
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.routes.get((scope["method"], scope["path"]))
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # what the router would set: metrics label by its template
        request = Request(scope, receive, send)
        endpoint: Endpoint = route.endpoint
        try:
            response = await endpoint(request)
        except Exception as error:
            handler = self._handler(error)
            if handler is None:
                raise  # to the server-error middleware, as from the router
            response = await handler(request, error)
            error.__traceback__ = None
        await response(scope, receive, send)

    def _handler(self, error: Exception) -> Handler | None:
        # The exception middleware's lookup: a status handler for an HTTPException, then the
        # exception's classes in MRO order; 500 and Exception belong to the outermost layer.
        handlers: dict[Any, Handler] = self.fastapi.exception_handlers  # type: ignore[assignment]
        if isinstance(error, HTTPException) and error.status_code != 500:
            by_status = handlers.get(error.status_code)
            if by_status is not None:
                return by_status
        for kind in type(error).__mro__:
            if kind is not Exception and kind in handlers:
                return handlers[kind]
        return None


def install_fast_lane(app: FastAPI, *lanes: tuple[str, str]) -> None:
    """Serve the given (method, path) routes through a `FastLane` placed where this is called.

    Call it after the routes are included, and before the middleware that must still see
    these requests (body checks, metrics) is added: middleware added later wraps the lane.
    A route whose endpoint takes anything but the request, or has dependencies, is refused:
    the lane would skip what FastAPI does for them.
    """
    found = {(method, route.path): route for route in _api_routes(app.router.routes)
             for method in route.methods or ()}  # fmt: skip
    chosen: dict[tuple[str, str], APIRoute] = {}
    for lane in lanes:
        route = found.get(lane)
        if route is None:
            raise ValueError(f"no route {lane[0]} {lane[1]} for the fast lane")
        parameters = list(inspect.signature(route.endpoint).parameters.values())
        takes_request = len(parameters) == 1 and parameters[0].annotation in (Request, "Request")
        if (
            not takes_request
            or route.dependencies
            or not inspect.iscoroutinefunction(route.endpoint)
        ):
            raise ValueError(f"{lane[0]} {lane[1]}: a fast-lane endpoint takes only the request")
        chosen[lane] = route
    app.add_middleware(FastLane, fastapi=app, routes=chosen)


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """The API routes, those of included routers too."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route
