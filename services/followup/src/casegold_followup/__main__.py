"""`python -m casegold_followup`: check the configuration, then serve on 127.0.0.1:8083."""

from __future__ import annotations

import argparse
import os
import sys

from casegold_followup.settings import ENV_PREFIX, FollowupSettings
from casegold_platform.http.serving import serve
from casegold_platform.logging import configure
from casegold_platform.settings import (
    ConfigError,
    KafkaSettings,
    PolicySettings,
    PostgresSettings,
    load,
)
from casegold_sla.policy_loader import PolicyError


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT: stop accepting, finish requests, stop the consumer, close."""
    parser = argparse.ArgumentParser(prog="python -m casegold_followup")
    parser.add_argument("--dev-keys", action="store_true", help="accept the documented dev keys")
    parser.add_argument("--port", type=int, help=f"overrides {ENV_PREFIX}PORT")
    args = parser.parse_args(argv)
    if args.dev_keys:
        os.environ[ENV_PREFIX + "DEV_KEYS"] = "true"
    if args.port is not None:
        os.environ[ENV_PREFIX + "PORT"] = str(args.port)
    try:
        settings = load(FollowupSettings)
        load(KafkaSettings)
        load(PostgresSettings)
        load(PolicySettings).load()
    except (ConfigError, PolicyError) as error:
        print(f"followup: {error}", file=sys.stderr)
        return 1
    configure("followup", settings.log_level)
    return serve(
        "casegold_followup.wiring:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        grace_seconds=settings.shutdown_grace_seconds,
    )


if __name__ == "__main__":
    sys.exit(main())
