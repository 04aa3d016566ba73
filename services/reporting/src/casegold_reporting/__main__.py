"""`python -m casegold_reporting`: serve the reporting API and run the projector."""

from __future__ import annotations

import sys

from casegold_platform.http.serving import serve
from casegold_platform.logging import configure
from casegold_platform.settings import (
    ConfigError,
    KafkaSettings,
    PolicySettings,
    PostgresSettings,
    load,
)
from casegold_reporting.settings import ReportingSettings
from casegold_reporting.wiring import Config, build_app
from casegold_sla import PolicyError


def main() -> int:
    """Load and check the settings, then serve until SIGTERM or SIGINT."""
    try:
        config = Config(
            reporting=load(ReportingSettings),
            kafka=load(KafkaSettings),
            postgres=load(PostgresSettings),
            policy=load(PolicySettings),
        )
        config.reporting.key_entries()
    except (ConfigError, ValueError, OSError) as error:
        print(f"casegold-reporting: {error}", file=sys.stderr)
        return 2
    log = configure("reporting", config.reporting.log_level)
    try:
        app = build_app(config, tune_gc=True)
    except PolicyError as error:
        print(f"casegold-reporting: {error}", file=sys.stderr)
        return 2
    log.info("starting", host=config.reporting.host, port=config.reporting.port)
    return serve(
        app,
        host=config.reporting.host,
        port=config.reporting.port,
        grace_seconds=config.reporting.shutdown_grace_seconds,
    )


if __name__ == "__main__":
    sys.exit(main())
