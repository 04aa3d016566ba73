"""Test helpers: fakes at the ports, a small policy, request builders and the dev keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from casegold_intake import claims
from casegold_intake.claims import KeyRow
from casegold_intake.metrics import IntakeMetrics
from casegold_intake.ports import KeyRecord, PublishUnavailable, StoreUnavailable
from casegold_intake.runtime import AdapterFactory, Adapters
from casegold_intake.settings import IntakeSettings
from casegold_intake.sla_terms import SlaPolicy
from casegold_platform.ack_links import AckSigner
from casegold_sla.policy_loader import load_policy_text

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

IVR: Final = {"Authorization": "Bearer dev-ivr-key"}
AGENT: Final = {"Authorization": "Bearer dev-agent-key"}
MANAGER: Final = {"Authorization": "Bearer dev-manager-key"}
MONITOR: Final = {"Authorization": "Bearer dev-monitor-key"}
OPS: Final = {"Authorization": "Bearer dev-ops-key"}
FIXED_NOW: Final = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)

# SPEC §3's default targets on a 24x7 calendar, so due times are plain additions.
SMALL_POLICY: Final = """
version: 1
timezone: Asia/Shanghai
calendars: {24x7: {always_open: true}}
ladders:
  standard:
    steps:
      - {step: warning, at: 75%, audience: owner}
      - {step: tier_1, at: breach, audience: team_lead}
policies:
  - name: standard
    ladder: standard
    targets:
      first_response: {P1: 1h, P2: 4h, P3: 12h, P4: 24h}
      solution_agreed: {P1: 1d, P2: 2d, P3: 5d, P4: 5d}
      resolution: {P1: 3d, P2: 7d, P3: 15d, P4: 15d}
default_policy: standard
immediate:
  sensitive: {step: tier_2, audience: department_manager}
  repeat_complainant: {step: tier_1, audience: team_lead}
  reopened: {step: tier_1, audience: team_lead}
  broken_promise: {step: tier_1, audience: team_lead}
priority_rules:
  - {match: {sensitive: true}, priority: P2}
default_priority: P3
sensitive_keywords: [记者, 媒体, 曝光, 律师, "12315", journalist, lawyer, regulator]
repeat_complainant: {cases: 2, within: 30d}
follow_up:
  revisit_delay: 48h
  contact_window: "09:00-20:00"
  callback_lead_time: 15m
  callback_lease: 10m
  unreachable_attempts: 3
  unreachable_retry_interval: 4h
"""


def small_policy(text: str = SMALL_POLICY) -> SlaPolicy:
    """The small policy above (or another policy text)."""
    return SlaPolicy(load_policy_text(text, "<test policy>"))


def dev_settings(**overrides: Any) -> IntakeSettings:
    """Settings with the documented dev keys and no environment surprises."""
    fields: dict[str, Any] = {"dev_keys": True, "migrate_on_start": False, **overrides}
    return IntakeSettings(**fields)


def fixed_clock(at: datetime = FIXED_NOW) -> Callable[[], datetime]:
    """A clock that always says `at`."""
    return lambda: at


def case_body(**overrides: Any) -> dict[str, Any]:
    """A valid POST /v1/cases body."""
    body: dict[str, Any] = {
        "external_ref": "call-0001",
        "channel": "ivr",
        "customer": {"phone": "+86 138-0013-8000", "name": "Li Wei", "timezone": "Asia/Shanghai"},
        "category": "product",
        "summary": "Washing machine leaks after repair",
        "description": "Water on the floor after every wash.",
    }
    return {**body, **overrides}


def mention_body(**overrides: Any) -> dict[str, Any]:
    """A valid POST /v1/mentions body."""
    body: dict[str, Any] = {
        "source_url": "https://weibo.example/post/1",
        "text": "Three weeks and still no fix",
        "keywords": ["casegold-brand"],
        "reach": 1200,
        "customer": {"phone": "13800138000"},
    }
    return {**body, **overrides}


class FakePublisher:
    """Records what would be published; `down` makes every publish a 503."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self.down = False
        self.delay = 0.0

    async def publish(self, key: bytes, value: bytes) -> None:
        if self.down:
            raise PublishUnavailable("fake broker down")
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sent.append((key, value))

    async def ready(self) -> bool:
        return not self.down


class MemoryKeyStore:
    """The key store's semantics in memory, on the pure state machine of claims.py."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], KeyRow] = {}
        self.down = False
        self.mark_gate: asyncio.Event | None = None  # set: marks wait until it is set

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("fake database down")

    async def insert(self, record: KeyRecord) -> bool:
        self._check()
        ident = (record.client_id, record.key)
        if ident in self.rows:
            return False
        self.rows[ident] = claims.claimed(record.body_sha256, record.event, record.reply)
        return True

    async def find(self, client_id: str, key: str) -> KeyRow | None:
        self._check()
        return self.rows.get((client_id, key))

    async def take_over(self, client_id: str, key: str, digest: bytes) -> int | None:
        self._check()
        row = claims.taken_over(self.rows[(client_id, key)], digest)
        if row is None:
            return None
        self.rows[(client_id, key)] = row
        return row.attempt

    async def mark_published(self, client_id: str, key: str) -> bool:
        if self.mark_gate is not None:
            await self.mark_gate.wait()
        self._check()
        self.rows[(client_id, key)], first = claims.marked_published(self.rows[(client_id, key)])
        return first

    async def release(self, client_id: str, key: str, attempt: int) -> None:
        self._check()
        self.rows[(client_id, key)] = claims.released(self.rows[(client_id, key)], attempt)

    def expire(self) -> None:
        """Every lease runs out (its claimant vanished)."""
        self.rows = {ident: claims.expired(row) for ident, row in self.rows.items()}

    async def ready(self) -> bool:
        return not self.down


def fake_adapters(publisher: FakePublisher, store: MemoryKeyStore | None) -> AdapterFactory:
    """Adapters for API tests: the given fakes."""

    @asynccontextmanager
    async def open_adapters(metrics: IntakeMetrics) -> AsyncIterator[Adapters]:
        yield Adapters(publisher=publisher, store=store)

    return open_adapters


@dataclass
class Api:
    """A running app, its client and the fakes behind it."""

    app: FastAPI
    client: httpx.AsyncClient
    publisher: FakePublisher
    store: MemoryKeyStore


@asynccontextmanager
async def running_api(
    policy: SlaPolicy | None = None,
    *,
    ack: AckSigner | None = None,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> AsyncIterator[Api]:
    """The real app with fakes at the ports, over httpx's ASGI transport (lifespan run)."""
    import httpx
    from asgi_lifespan import LifespanManager

    from casegold_intake.app import create_app

    publisher, store = FakePublisher(), MemoryKeyStore()
    app = create_app(
        settings=dev_settings(**settings),
        policy=policy or small_policy(),
        adapters=fake_adapters(publisher, store),
        clock=clock or fixed_clock(),
        ack=ack,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield Api(app, client, publisher, store)


@dataclass
class RealApi:
    """A running app on the real broker and database, and its client."""

    app: FastAPI
    client: httpx.AsyncClient


def real_app(
    *, bootstrap: str, dsn: str, topic: str, ack: AckSigner | None = None, **settings: Any
) -> FastAPI:
    """The app on a real broker, database and topic, with the dev keys and the small policy."""
    from casegold_intake.app import create_app
    from casegold_intake.runtime import real_adapters
    from casegold_platform.settings import KafkaSettings, PostgresSettings

    intake_settings = dev_settings(**{"migrate_on_start": True, **settings})
    adapters = real_adapters(
        intake_settings, KafkaSettings(bootstrap=bootstrap), PostgresSettings(dsn=dsn), topic
    )
    return create_app(settings=intake_settings, policy=small_policy(), adapters=adapters, ack=ack)


@asynccontextmanager
async def running_real_api(
    *, bootstrap: str, dsn: str, topic: str, ack: AckSigner | None = None, **settings: Any
) -> AsyncIterator[RealApi]:
    """`real_app` with its lifespan run, over httpx's ASGI transport."""
    import httpx
    from asgi_lifespan import LifespanManager

    app = real_app(bootstrap=bootstrap, dsn=dsn, topic=topic, ack=ack, **settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield RealApi(app, client)
