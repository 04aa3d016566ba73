"""Schemathesis over intake's OpenAPI document, in-process, on the real broker and PostgreSQL.

Zero 5xx, and every reply (status, content type, headers, body) as the document declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings
from tests.support.intake import AGENT, MONITOR, real_app

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
async def topic(kafka_settings: KafkaSettings, unique: str) -> str:
    name = f"test.intake.fuzz.{unique}"
    await ensure_topics(kafka_settings.bootstrap, [TopicSpec(name, partitions=3)])
    return name


@pytest.fixture
def intake_schema(kafka_settings: KafkaSettings, pg_schema: str, topic: str) -> Iterator[Any]:
    app = real_app(bootstrap=kafka_settings.bootstrap, dsn=pg_schema, topic=topic)
    try:
        # Schemathesis runs the app (and its lifespan) on an event loop of its own.
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        # Close the app's producer and pool before its database schema is dropped.
        asgi.shutdown_lifespans()


schema = schemathesis.pytest.from_fixture("intake_schema")


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_reply_matches_the_document(case: Any) -> None:
    # Agents may post cases and commands; mentions come from the monitor.
    headers = MONITOR if case.path == "/v1/mentions" else AGENT
    case.call_and_validate(headers=headers, checks=CHECKS)
