"""/docs works without internet: Swagger UI renders every operation from local files."""

from __future__ import annotations

from pathlib import Path

import pytest

from casegold_intake.app import create_app
from tests.support.browser import rendered_dom, screenshot, served
from tests.support.intake import (
    FakePublisher,
    MemoryKeyStore,
    dev_settings,
    fake_adapters,
    small_policy,
)

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_intake_docs_render_the_operations_from_local_assets(tmp_path: Path) -> None:
    app = create_app(
        settings=dev_settings(),
        policy=small_policy(),
        adapters=fake_adapters(FakePublisher(), MemoryKeyStore()),
    )
    async with served(app) as base:
        dom = await rendered_dom(f"{base}/docs")
        picture = await screenshot(f"{base}/docs", tmp_path / "intake-docs.png")
    # Swagger UI builds one `opblock` per operation only once its bundle ran and the document
    # loaded: a blank page (a bundle that could not be fetched) has none.
    for path in ("/v1/cases", "/v1/mentions", "/v1/cases/{case_id}/commands", "/readyz"):
        assert f'data-path="{path}"' in dom, path
    assert "opblock-summary" in dom
    assert picture.startswith(PNG_SIGNATURE) and len(picture) > 20_000
