"""Run one notifier: `python -m casegold_notifier`."""

from __future__ import annotations

import asyncio
import sys

from casegold_notifier.settings import load_book, load_settings
from casegold_notifier.wiring import ComponentFailed, Config, run
from casegold_platform.ack_links import AckLinkSettings
from casegold_platform.kafka import BrokerUnavailable
from casegold_platform.logging import configure
from casegold_platform.postgres import DatabaseUnavailable, MigrationError
from casegold_platform.settings import (
    ConfigError,
    KafkaSettings,
    PolicySettings,
    PostgresSettings,
    load,
)
from casegold_sla import PolicyError


def main() -> int:
    """Check the configuration, then run until SIGTERM; exit 2 on a bad setting."""
    try:
        settings, links = load_settings()
        config = Config(
            settings=settings,
            links=links,
            kafka=load(KafkaSettings),
            postgres=load(PostgresSettings),
            book=load_book(settings, load(PolicySettings)),
            ack=load(AckLinkSettings).signer(),
        )
    except (ConfigError, PolicyError) as error:
        print(f"casegold-notifier: {error}", file=sys.stderr)
        return 2
    configure("notifier", settings.log_level)
    try:
        asyncio.run(run(config))
    except ConfigError as error:  # a secret variable named by the recipients is missing
        print(f"casegold-notifier: {error}", file=sys.stderr)
        return 2
    except (BrokerUnavailable, DatabaseUnavailable, MigrationError, ComponentFailed) as error:
        print(f"casegold-notifier: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
