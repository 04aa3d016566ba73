"""The shape of the optional `recipients` section: who the notifier tells, per audience."""

import hashlib
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from casegold_sla.calendar import CalendarError, parse_hours, zone
from casegold_sla.policy_schema import AudienceName, Spec, StepName
from casegold_sla.recipients import (
    EmailTarget,
    QuietHours,
    Recipient,
    RecipientBook,
    SlackTarget,
    Target,
    WebhookTarget,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_URL = re.compile(r"^https?://[^/\s?#]+(?:[/?#]\S*)?$")


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"bad url {value!r}: expected http://host[:port]/path or https://…")
    return value


def _env(value: str) -> str:
    if not _ENV.match(value):
        raise ValueError(f"bad variable name {value!r}: upper-case letters, digits and _")
    return value


HeldStep = Literal["warning", "tier_1"]
Url = Annotated[str, BeforeValidator(str), AfterValidator(_url)]
EnvName = Annotated[str, AfterValidator(_env)]


def _exactly_one(spec: Spec, *names: str) -> None:
    given = [name for name in names if getattr(spec, name) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(names)}")


class WebhookSpec(Spec):
    """A JSON webhook signed with HMAC-SHA256; the secret inline or from a variable."""

    url: Url
    secret: str | None = Field(default=None, min_length=16)
    secret_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> "WebhookSpec":
        _exactly_one(self, "secret", "secret_env")
        return self


class SlackSpec(Spec):
    """A Slack-compatible incoming webhook; its url is a secret, so it may come from a variable."""

    url: Url | None = None
    url_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_url(self) -> "SlackSpec":
        _exactly_one(self, "url", "url_env")
        return self


class EmailSpec(Spec):
    """E-mail addresses, sent through the notifier's SMTP server."""

    to: Annotated[list[str], BeforeValidator(_listed), Field(min_length=1, max_length=50)]

    @field_validator("to")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _EMAIL.match(value):
                raise ValueError(f"bad e-mail address {value!r}")
        return values


class QuietHoursSpec(Spec):
    """A daily quiet period in the recipient's zone; `hold` says which steps wait for it."""

    timezone: str
    start: Annotated[str, BeforeValidator(str)] = Field(alias="from")
    end: Annotated[str, BeforeValidator(str)] = Field(alias="to")
    hold: Annotated[list[HeldStep], BeforeValidator(_listed)] = Field(
        default_factory=lambda: list[HeldStep](["warning"])
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except CalendarError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("hold", mode="before")
    @classmethod
    def _never_tier_2(cls, value: Any) -> Any:
        # SPEC §3: tier 2 and 3 always go at once; say so rather than "unexpected value".
        for step in _listed(value) or []:
            if step in ("tier_2", "tier_3"):
                raise ValueError(f"{step} cannot be held: tiers 2 and 3 always go at once")
        return value

    @model_validator(mode="after")
    def _interval(self) -> "QuietHoursSpec":
        try:
            self.interval()
        except CalendarError as error:
            raise ValueError(str(error).replace("opening hours", "quiet hours")) from None
        return self

    def interval(self) -> tuple[int, int]:
        """Local seconds from midnight; the end passes a day when the period runs overnight."""
        return parse_hours(f"{self.start}-{self.end}")


class RecipientSpec(Spec):
    """One recipient on exactly one channel."""

    name: str | None = None
    webhook: WebhookSpec | None = None
    slack: SlackSpec | None = None
    email: EmailSpec | None = None
    steps: Annotated[list[StepName], BeforeValidator(_listed), Field(min_length=1)] | None = None
    quiet_hours: QuietHoursSpec | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(
                f"bad recipient name {value!r}: 1-100 letters, digits and . _ @ + - "
                "(no spaces), starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _one_channel(self) -> "RecipientSpec":
        _exactly_one(self, "webhook", "slack", "email")
        return self


class RecipientsFileSpec(Spec):
    """The section on its own: a policy file's `recipients`, or a recipients override file."""

    recipients: dict[AudienceName, list[RecipientSpec]] = Field(default_factory=dict)

    @field_validator("recipients", mode="before")
    @classmethod
    def _known_audiences(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                if key not in get_args(AudienceName):
                    known = ", ".join(get_args(AudienceName))
                    raise ValueError(f"unknown audience {key!r}: expected {known}")
        return value


def compile_recipients(spec: RecipientsFileSpec) -> tuple[RecipientBook, list[tuple[str, str]]]:
    """Build the book; problems are (path, message) pairs, e.g. a name defined two ways."""
    problems: list[tuple[str, str]] = []
    defined: dict[str, tuple[str, Recipient]] = {}
    book: dict[str, tuple[Recipient, ...]] = {}
    for audience, entries in spec.recipients.items():
        listed: list[Recipient] = []
        for index, entry in enumerate(entries):
            path = f"recipients.{audience}[{index}]"
            recipient = _recipient(entry)
            if any(other.name == recipient.name for other in listed):
                problems.append((path, f"recipient {recipient.name!r} is listed twice"))
                continue
            first = defined.setdefault(recipient.name, (path, recipient))
            if first[1] != recipient:
                # One name is one row key in the delivery log: it must mean one destination.
                message = f"recipient {recipient.name!r} is defined differently at {first[0]}"
                problems.append((path, message))
                continue
            listed.append(recipient)
        book[audience] = tuple(listed)
    return RecipientBook(book), problems


def _recipient(spec: RecipientSpec) -> Recipient:
    target = _target(spec)
    quiet = None
    if spec.quiet_hours is not None:
        start, end = spec.quiet_hours.interval()
        quiet = QuietHours(spec.quiet_hours.timezone, start, end, frozenset(spec.quiet_hours.hold))
    return Recipient(
        name=spec.name or _derived_name(target),
        target=target,
        steps=None if spec.steps is None else frozenset(spec.steps),
        quiet_hours=quiet,
    )


def _target(spec: RecipientSpec) -> Target:
    if spec.webhook is not None:
        return WebhookTarget(spec.webhook.url, spec.webhook.secret, spec.webhook.secret_env)
    if spec.slack is not None:
        return SlackTarget(spec.slack.url, spec.slack.url_env)
    assert spec.email is not None  # the schema requires exactly one channel
    return EmailTarget(tuple(spec.email.to))


def _derived_name(target: Target) -> str:
    # Stable across reordering and edits elsewhere in the file; a new address is a new recipient.
    if isinstance(target, WebhookTarget):
        kind, where = "webhook", target.url
    elif isinstance(target, SlackTarget):
        kind, where = "slack", target.url or f"${target.url_env}"
    else:
        kind, where = "email", ",".join(target.to)
    return f"{kind}-{hashlib.sha256(where.encode('utf-8')).hexdigest()[:12]}"
