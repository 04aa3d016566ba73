"""Operational HTTP endpoints, API-key auth, clock and policy settings for the follow-up app.

A local stand-in with the names and behaviour of `casegold_platform.http` (and its `clock`
and `PolicySettings`); it is replaced by those imports once they are on the main branch.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import structlog
import yaml
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casegold_sla import PolicySet, load_policy

log = structlog.get_logger("casegold_followup")

Clock = Callable[[], datetime]
Role = Literal["ivr", "agent", "revisit_agent", "manager", "ops", "monitor"]
DEV_KEYS: Final[dict[str, tuple[str, Role]]] = {
    "dev-ivr-key": ("dev-ivr", "ivr"),
    "dev-agent-key": ("dev-agent", "agent"),
    "dev-manager-key": ("dev-manager", "manager"),
    "dev-revisit-key": ("dev-revisit", "revisit_agent"),
    "dev-ops-key": ("dev-ops", "ops"),
    "dev-monitor-key": ("dev-monitor", "monitor"),
}
DEFAULT_POLICY: Final = Path(__file__).resolve().parents[4] / "deploy" / "policy" / "default.yaml"


def utc_now() -> datetime:
    """The one wall clock of the service."""
    return datetime.now(UTC)


class ApiKeyEntry(BaseModel):
    """One configured key: its client, its role and the key's SHA-256 (never the key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str = Field(min_length=1, max_length=200)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    client: str
    role: Role


class KeyRing:
    """The configured keys, compared in constant time."""

    def __init__(self, entries: Iterable[ApiKeyEntry]) -> None:
        self._keys = tuple((bytes.fromhex(e.sha256), Principal(e.client, e.role)) for e in entries)

    def identify(self, presented: str) -> Principal | None:
        """The principal of a presented key, or None."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = None
        for stored, principal in self._keys:  # no early exit: timing says nothing
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


class AuthError(HTTPException):
    """401 or 403."""

    def __init__(self, status_code: int, detail: str) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
        super().__init__(status_code=status_code, detail=detail, headers=headers)


def authorizer(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting only `roles`: 401 without a known key, 403 for another role."""

    # A coroutine: FastAPI runs a plain function dependency in its thread pool, a hand-off
    # that costs more than the check itself on every request.
    async def authorize(request: Request) -> Principal:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise AuthError(401, "missing bearer API key")
        keyring: KeyRing = request.app.state.keyring
        principal = keyring.identify(presented.strip())
        if principal is None:
            raise AuthError(401, "unknown API key")
        if principal.role not in roles:
            raise AuthError(403, f"role {principal.role} may not call this endpoint")
        return principal

    return authorize


class ApiKeySettings(BaseSettings):
    """API keys of a service: a YAML list in a variable or a file, or the local dev keys."""

    api_keys: SecretStr | None = Field(None, description="YAML/JSON list of {client, role, sha256}")
    api_keys_file: Path | None = None
    dev_keys: bool = False

    def key_entries(self) -> tuple[ApiKeyEntry, ...]:
        """Every configured key."""
        texts = []
        if self.api_keys is not None:
            texts.append(self.api_keys.get_secret_value())
        if self.api_keys_file is not None:
            texts.append(self.api_keys_file.read_text(encoding="utf-8"))
        entries = [ApiKeyEntry.model_validate(item) for t in texts for item in yaml.safe_load(t)]
        if self.dev_keys:
            entries += [
                ApiKeyEntry(client=c, role=r, sha256=hashlib.sha256(k.encode()).hexdigest())
                for k, (c, r) in DEV_KEYS.items()
            ]
        return tuple(entries)


class PolicySettings(BaseSettings):
    """Where the SLA and follow-up policy file is."""

    model_config = SettingsConfigDict(env_prefix="CASEGOLD_", extra="ignore")

    policy_file: Path = DEFAULT_POLICY

    @field_validator("policy_file")
    @classmethod
    def _exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"no policy file at {value}")
        return value

    def load(self) -> PolicySet:
        """The parsed policy set."""
        return load_policy(self.policy_file)


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    """Request counts and durations by route template."""

    requests: Counter
    duration: Histogram


class _Instrument:
    """Pure ASGI middleware: metrics and one structured access log line per request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(elapsed)
            log.debug(
                "http_request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )


def install_plumbing(
    app: FastAPI,
    *,
    service: str,
    readiness: Callable[[], Awaitable[Mapping[str, bool]]],
    registry: CollectorRegistry,
    keyring: KeyRing | None = None,
    metrics_public: bool = True,
) -> HttpMetrics:
    """/healthz, /readyz, /metrics, HTTP metrics, access logs and JSON error bodies."""
    metrics = HttpMetrics(
        Counter(
            "casegold_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        ),
        Histogram(
            "casegold_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        ),
    )
    app.state.keyring = keyring or KeyRing(())
    watch = authorizer("ops", "monitor")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = dict(await readiness())
        ok = all(checks.values())
        body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_text(request: Request) -> Response:
        if not metrics_public:
            await watch(request)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_middleware(_Instrument, metrics=metrics)
    log.debug("plumbing installed", service=service)
    return metrics
