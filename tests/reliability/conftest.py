"""A scratch broker and database, a receiver and the five services, shared by this folder.

Both servers are the folder's own: the notifier's topic is the contract's and cannot be moved,
and reporting's projector lock is per database (docs/decisions/0050), so on the shared servers
the stack would read other tests' escalations and wait behind other tests' projectors.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bench.fault_servers import scratch_broker, scratch_postgres
from bench.fault_stack import Stack
from casegold_platform.kafka import ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_platform.topics import platform_topics
from tests.support.brokers import ScratchBroker
from tests.support.escalation import FAST_POLICY
from tests.support.receivers import WEBHOOK_SECRET, Receiver
from tests.support.scratch_postgres import ScratchPostgres

PARTITIONS = 3


@pytest.fixture(scope="package")
def rel_broker() -> Iterator[ScratchBroker]:
    with scratch_broker(Path(tempfile.mkdtemp(prefix="casegold-rel-broker-"))) as broker:
        yield broker


@pytest.fixture(scope="package")
def rel_postgres() -> Iterator[ScratchPostgres]:
    with scratch_postgres() as server:
        yield server


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def rel_receiver() -> AsyncIterator[Receiver]:
    running = await Receiver(secret=WEBHOOK_SECRET).start()
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def stack(
    rel_broker: ScratchBroker, rel_postgres: ScratchPostgres, rel_receiver: Receiver
) -> AsyncIterator[Stack]:
    """intake, escalation, notifier, follow-up and reporting on the fast policy, started."""
    kafka = KafkaSettings(bootstrap=rel_broker.bootstrap, partitions=PARTITIONS)
    await ensure_topics(kafka.bootstrap, platform_topics(kafka))
    running = Stack(
        bootstrap=rel_broker.bootstrap,
        dsn=rel_postgres.dsn,
        policy_file=FAST_POLICY,
        folder=Path(tempfile.mkdtemp(prefix="casegold-rel-stack-")),
        receiver_url=rel_receiver.url("/hooks"),
        secret=WEBHOOK_SECRET,
        partitions=PARTITIONS,
        run_id=uuid.uuid4().hex[:8],
    )
    try:
        await running.start()
        yield running
    finally:
        await running.stop()
