"""API tests run the real app over httpx's ASGI transport, with fakes at the two ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.intake import Api, running_api


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with running_api() as running:
        yield running
