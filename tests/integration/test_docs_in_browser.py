"""/docs works without internet: Swagger UI renders every operation from local files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from casegold_intake.app import create_app
from casegold_platform.ack_links import AckSigner
from casegold_platform.clock import utc_now
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


async def test_a_one_click_acknowledgement_link_opens_a_confirm_page(tmp_path: Path) -> None:
    signer = AckSigner(b"browser-test-ack-secret", timedelta(hours=1))
    publisher = FakePublisher()
    app = create_app(
        settings=dev_settings(),
        policy=small_policy(),
        adapters=fake_adapters(publisher, MemoryKeyStore()),
        ack=signer,
    )
    escalation, case = uuid4(), uuid4()
    async with served(app) as base:
        url = f"{base}/ack/{signer.sign(escalation, case, '区域经理', utc_now())}"
        dom = await rendered_dom(url)
        picture = await screenshot(url, tmp_path / "ack-confirm.png")
    assert '<form method="post">' in dom and 'id="confirm"' in dom
    assert str(escalation) in dom and str(case) in dom and "区域经理" in dom
    assert picture.startswith(PNG_SIGNATURE) and len(picture) > 5_000
    assert publisher.sent == [], "opening the link (as a mail scanner would) writes nothing"
