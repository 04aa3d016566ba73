"""The channels against a real local HTTP receiver and a real local SMTP server (aiosmtpd)."""

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from casegold_contracts.builders import make_escalation_raised
from casegold_notifier.adapters.channels import (
    EmailChannel,
    SlackChannel,
    SmtpOptions,
    WebhookChannel,
    body_of,
)
from casegold_notifier.content import Links, notice_document, notice_id
from casegold_notifier.ports import DeliveryError
from tests.support.brokers import free_port
from tests.support.receivers import Receiver, SmtpInbox

SECRET = "receiver-secret-0123456789"


def document() -> dict[str, Any]:
    event = make_escalation_raised(step="tier_2")
    notice = notice_id(event.payload.escalation_id, 0, "lead")
    links = Links("http://127.0.0.1:8084", "http://127.0.0.1:8081")
    return notice_document(event, notice=notice, recipient="lead", links=links)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = await Receiver(secret=SECRET).start()
    yield running
    await running.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as http:
        yield http


async def test_a_webhook_is_signed_and_carries_the_notice_id(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    doc = document()
    await WebhookChannel(client, receiver.url("/hook"), SECRET, time.time).send(doc)
    (got,) = receiver.on("/hook")
    assert got.signed is True
    assert got.notice_id == doc["notice_id"]
    assert got.body == body_of(doc) and got.json() == doc


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (429, False), (408, False), (404, True), (400, True)],
)
async def test_http_failures_are_retried_unless_the_request_itself_is_refused(
    receiver: Receiver, client: httpx.AsyncClient, status: int, permanent: bool
) -> None:
    receiver.script("/hook", status)
    with pytest.raises(DeliveryError) as raised:
        await WebhookChannel(client, receiver.url("/hook"), SECRET, time.time).send(document())
    assert str(raised.value) == f"HTTP {status}" and raised.value.permanent is permanent


async def test_a_closed_port_is_a_retryable_failure(client: httpx.AsyncClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError) as raised:
        await WebhookChannel(client, url, SECRET, time.time).send(document())
    assert raised.value.permanent is False and "ConnectError" in str(raised.value)


async def test_slack_gets_text_and_blocks(receiver: Receiver, client: httpx.AsyncClient) -> None:
    await SlackChannel(client, receiver.url("/slack")).send(document())
    (got,) = receiver.on("/slack")
    payload = got.json()
    assert payload["text"].startswith("Tier 2 escalation") and payload["blocks"]
    assert got.notice_id == document()["notice_id"]


class Inbox(SmtpInbox):
    """Refuses one address, as a real server refuses an unknown mailbox."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


async def test_an_email_has_plain_text_and_html(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    doc = document()
    options = SmtpOptions("127.0.0.1", port, "Casegold <casegold@localhost>", timeout=5)
    await EmailChannel(options, ("lead@example.test", "boss@example.test")).send(doc)
    ((_, recipients, message),) = inbox.messages
    assert recipients == ["lead@example.test", "boss@example.test"]
    assert message["Subject"].startswith("[Casegold] Tier 2 escalation")
    assert message["Message-ID"] == f"<{doc['notice_id']}@notifier.casegold>"
    assert message["X-Casegold-Notice-Id"] == doc["notice_id"]
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_payload(decode=True) for part in message.walk()}
    assert b"Acknowledge" in parts["text/plain"] and b"<table>" in parts["text/html"]


async def test_smtp_auth_and_starttls_are_configurable(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    authed = SmtpOptions(
        "127.0.0.1", port, "casegold@localhost", username="n", password="s3cret", timeout=5
    )
    await EmailChannel(authed, ("lead@example.test",)).send(document())
    assert len(inbox.messages) == 1
    wrong = SmtpOptions(
        "127.0.0.1", port, "casegold@localhost", username="n", password="nope", timeout=5
    )
    with pytest.raises(DeliveryError, match="authentication failed") as raised:
        await EmailChannel(wrong, ("lead@example.test",)).send(document())
    assert raised.value.permanent is False
    # This server offers no STARTTLS: a notifier that requires it refuses to send in clear.
    required = SmtpOptions("127.0.0.1", port, "casegold@localhost", start_tls=True, timeout=5)
    with pytest.raises(DeliveryError, match="SMTPException"):
        await EmailChannel(required, ("lead@example.test",)).send(document())
    assert len(inbox.messages) == 1


async def test_a_refused_mailbox_is_permanent(smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    options = SmtpOptions("127.0.0.1", port, "casegold@localhost", timeout=5)
    with pytest.raises(DeliveryError, match="recipients refused") as raised:
        await EmailChannel(options, ("nobody@example.test",)).send(document())
    assert raised.value.permanent is True


async def test_an_smtp_server_that_is_not_there_is_retryable() -> None:
    options = SmtpOptions("127.0.0.1", free_port(), "casegold@localhost", timeout=2)
    with pytest.raises(DeliveryError) as raised:
        await EmailChannel(options, ("lead@example.test",)).send(document())
    assert raised.value.permanent is False


async def test_a_notice_that_cannot_be_rendered_is_a_permanent_failure_at_once(
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    doc = document()
    # A line break in a header (a promise id with a newline, say) can never be sent.
    doc["title"] = "Tier 2 escalation\nBcc: everyone@example.test"
    options = SmtpOptions("127.0.0.1", port, "casegold@localhost", timeout=5)
    with pytest.raises(DeliveryError, match="cannot render") as raised:
        await EmailChannel(options, ("lead@example.test",)).send(doc)
    assert raised.value.permanent is True
    assert inbox.messages == []
