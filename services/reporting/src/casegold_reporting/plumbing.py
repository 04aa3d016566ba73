"""The operational HTTP endpoints, API keys, clock and policy path every service shares.

A stand-in with the names and signatures of `casegold_platform.http`, `.clock` and
`.settings.PolicySettings`; it goes once those are in the platform package.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

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
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from casegold_sla import PolicySet, load_policy

Role = Literal["ivr", "agent", "revisit_agent", "manager", "ops", "monitor"]
Clock = Callable[[], datetime]
DEFAULT_POLICY_FILE: Final = Path(__file__).resolve().parents[4] / "deploy/policy/default.yaml"
# The documented local development keys: accepted only when dev_keys is set.
DEV_KEYS: Final[dict[str, tuple[str, Role]]] = {
    "dev-ivr-key": ("dev-ivr", "ivr"),
    "dev-agent-key": ("dev-agent", "agent"),
    "dev-manager-key": ("dev-manager", "manager"),
    "dev-revisit-key": ("dev-revisit", "revisit_agent"),
    "dev-ops-key": ("dev-ops", "ops"),
    "dev-monitor-key": ("dev-monitor", "monitor"),
}
_log = structlog.get_logger("casegold.http")


def utc_now() -> datetime:
    """The one wall clock."""
    return datetime.now(UTC)


class PolicySettings(BaseSettings):
    """Where the SLA policy file is (CASEGOLD_POLICY_FILE)."""

    model_config = SettingsConfigDict(env_prefix="CASEGOLD_POLICY_", extra="ignore")

    file: Path = DEFAULT_POLICY_FILE

    def load(self) -> PolicySet:
        """The compiled policy set."""
        return load_policy(self.file)


class ApiKeyEntry(BaseModel):
    """One configured key: the client it names, its role and the key's SHA-256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str = Field(min_length=1, max_length=200)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who called."""

    client: str
    role: Role


class KeyRing:
    """Configured keys by digest; a presented key is hashed and compared in constant time."""

    def __init__(self, entries: tuple[ApiKeyEntry, ...]) -> None:
        self._entries = entries

    def find(self, key: str) -> Principal | None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        found = None
        for entry in self._entries:
            if hmac.compare_digest(entry.sha256, digest):
                found = Principal(entry.client, entry.role)
        return found


class ApiKeySettings(BaseSettings):
    """Mixin: the API keys a service accepts."""

    api_keys: SecretStr | None = Field(None, description="YAML/JSON list of {client, role, sha256}")
    api_keys_file: Path | None = None
    dev_keys: bool = Field(False, description="also accept the documented local development keys")

    def key_entries(self) -> tuple[ApiKeyEntry, ...]:
        """Every configured key, the dev keys included when enabled."""
        texts = []
        if self.api_keys is not None:
            texts.append(self.api_keys.get_secret_value())
        if self.api_keys_file is not None:
            texts.append(self.api_keys_file.read_text(encoding="utf-8"))
        entries = [
            ApiKeyEntry.model_validate(item)
            for text in texts
            for item in yaml.safe_load(text) or []
        ]
        if self.dev_keys:
            entries += [
                ApiKeyEntry(
                    client=client, role=role, sha256=hashlib.sha256(key.encode()).hexdigest()
                )
                for key, (client, role) in DEV_KEYS.items()
            ]
        return tuple(entries)


def authorizer(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency that admits a bearer key of one of `roles` (401 unknown, 403 wrong role)."""

    def authorize(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        keyring: KeyRing | None = getattr(request.app.state, "keyring", None)
        principal = keyring.find(key.strip()) if keyring and scheme.lower() == "bearer" else None
        if principal is None:
            raise HTTPException(401, "missing or unknown API key", {"WWW-Authenticate": "Bearer"})
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role} may not do this")
        return principal

    return authorize


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    """The HTTP request metrics of a service."""

    requests: Counter
    duration: Histogram


def install_plumbing(
    app: FastAPI,
    *,
    service: str,
    readiness: Callable[[], Awaitable[Mapping[str, bool]]],
    registry: CollectorRegistry,
    keyring: KeyRing | None = None,
    metrics_public: bool = True,
) -> HttpMetrics:
    """Add /healthz, /readyz, /metrics, request metrics and access logs to `app`."""
    app.state.keyring = keyring
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
        ),
    )
    scrape_guard = authorizer("ops", "monitor")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = dict(await readiness())
        ready = all(checks.values())
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        if not metrics_public:
            scrape_guard(request)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.duration.labels(request.method, template).observe(elapsed)
        _log.info(
            "http_request",
            service=service,
            method=request.method,
            route=template,
            status=response.status_code,
            duration_ms=round(elapsed * 1000, 2),
        )
        return response

    return metrics
