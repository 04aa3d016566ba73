"""The channels behind the `Channel` port: signed JSON webhook, Slack webhook, SMTP e-mail."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import httpx

from casegold_notifier import render, slack
from casegold_notifier.content import Document
from casegold_notifier.ports import DeliveryError
from casegold_notifier.signing import NOTICE_ID_HEADER, signed_headers

# Statuses worth another attempt; any other non-2xx says the request itself is unwelcome.
_RETRYABLE_STATUS = frozenset({408, 425, 429})


def body_of(document: Document) -> bytes:
    """The exact bytes a webhook posts (and signs)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookChannel:
    """POST the document as JSON, signed with HMAC-SHA256 over timestamp and body."""

    kind = "webhook"

    def __init__(
        self, client: httpx.AsyncClient, url: str, secret: str, clock: Callable[[], float]
    ) -> None:
        self.client, self.url, self.secret, self.clock = client, url, secret, clock

    async def send(self, document: Document) -> None:
        body = body_of(document)
        headers = signed_headers(self.secret, document["notice_id"], int(self.clock()), body)
        await _post(self.client, self.url, body, headers)


class SlackChannel:
    """POST a Slack incoming-webhook payload (`text` and `blocks`)."""

    kind = "slack"

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client, self.url = client, url

    async def send(self, document: Document) -> None:
        body = json.dumps(slack.payload(document), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", NOTICE_ID_HEADER: document["notice_id"]}
        await _post(self.client, self.url, body, headers)


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as error:
        raise DeliveryError(f"timed out: {type(error).__name__}") from None
    except httpx.HTTPError as error:
        # The message names the failure, never the URL (a Slack URL is a secret).
        raise DeliveryError(f"{type(error).__name__}: {error}") from None
    status = response.status_code
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in _RETRYABLE_STATUS
    raise DeliveryError(
        f"HTTP {status}", permanent=not retryable, retry_after=_retry_after(response)
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


@dataclass(frozen=True, slots=True)
class SmtpOptions:
    """How to reach the SMTP server; `start_tls` None means "if the server offers it"."""

    host: str
    port: int
    sender: str
    use_tls: bool = False
    start_tls: bool | None = None
    username: str | None = None
    password: str | None = None
    validate_certs: bool = True
    timeout: float = 10.0


class EmailChannel:
    """A multipart (plain text + HTML) e-mail over SMTP."""

    kind = "email"

    def __init__(self, options: SmtpOptions, to: tuple[str, ...]) -> None:
        self.options, self.to = options, to

    def message(self, document: Document) -> EmailMessage:
        """The e-mail of one document; its Message-ID follows the notice id."""
        message = EmailMessage()
        message["Subject"] = render.subject(document)
        message["From"] = self.options.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{document['notice_id']}@notifier.casegold>"
        message[NOTICE_ID_HEADER] = document["notice_id"]
        message.set_content(render.text(document))
        message.add_alternative(render.html(document), subtype="html")
        return message

    async def send(self, document: Document) -> None:
        options = self.options
        try:
            message = self.message(document)
        except (ValueError, TypeError, KeyError) as error:
            # The same notice renders the same way on every attempt: retrying only delays it.
            raise DeliveryError(f"cannot render the notice: {error}", permanent=True) from None
        try:
            await aiosmtplib.send(
                message,
                hostname=options.host,
                port=options.port,
                username=options.username,
                password=options.password,
                use_tls=options.use_tls,
                start_tls=False if options.use_tls else options.start_tls,
                validate_certs=options.validate_certs,
                timeout=options.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise DeliveryError(
                f"recipients refused: {codes}", permanent=min(codes) >= 500
            ) from None
        except aiosmtplib.SMTPAuthenticationError as error:
            # A configuration problem an operator can fix: worth the retries.
            raise DeliveryError(f"SMTP authentication failed: {error.code}") from None
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"SMTP {error.code}: {error.message}", permanent=error.code >= 500
            ) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from None
