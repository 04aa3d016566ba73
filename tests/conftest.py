"""Fixtures for integration tests: the real broker and database started by `make test`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from casegold_platform.postgres import wait_for_postgres
from casegold_platform.settings import KafkaSettings, PostgresSettings, load
from tests.support.brokers import ScratchBroker, scratch_broker
from tests.support.receivers import WEBHOOK_SECRET, Receiver

__all__ = ["ScratchBroker", "scratch_broker"]


@pytest.fixture(scope="session")
def kafka_settings() -> KafkaSettings:
    return load(KafkaSettings)


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    return load(PostgresSettings).dsn


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and schema names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def pg_schema(pg_dsn: str, unique: str) -> AsyncIterator[str]:
    """A DSN whose search_path is a fresh schema, dropped after the test."""
    await wait_for_postgres(pg_dsn, timeout=30)
    schema = f"test_{unique}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in pg_dsn else "?"
        yield f"{pg_dsn}{separator}search_path={schema}"
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook recipient that verifies signatures with WEBHOOK_SECRET and records deliveries."""
    running = await Receiver(secret=WEBHOOK_SECRET).start()
    yield running
    await running.stop()
