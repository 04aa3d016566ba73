"""`python -m casegold_intake`: check the configuration, then serve (uvicorn, uvloop, httptools)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from casegold_intake.masking import configure_logging
from casegold_intake.settings import INTAKE_PREFIX, IntakeSettings
from casegold_intake.sla_terms import SlaPolicy
from casegold_platform.ack_links import AckLinkSettings
from casegold_platform.http.serving import serve
from casegold_platform.settings import ConfigError, KafkaSettings, PostgresSettings, load
from casegold_sla.policy_loader import PolicyError


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT: stop accepting, finish requests, flush Kafka, close the pool."""
    parser = argparse.ArgumentParser(prog="python -m casegold_intake")
    parser.add_argument("--dev-keys", action="store_true", help="accept the documented dev keys")
    parser.add_argument("--workers", type=int, help=f"overrides {INTAKE_PREFIX}WORKERS")
    parser.add_argument("--port", type=int, help=f"overrides {INTAKE_PREFIX}PORT")
    args = parser.parse_args(argv)
    # Through the environment, so every worker process sees the same configuration.
    if args.dev_keys:
        os.environ[INTAKE_PREFIX + "DEV_KEYS"] = "true"
    if args.workers is not None:
        os.environ[INTAKE_PREFIX + "WORKERS"] = str(args.workers)
    if args.port is not None:
        os.environ[INTAKE_PREFIX + "PORT"] = str(args.port)
    try:
        settings = load(IntakeSettings)
        load(KafkaSettings)
        load(PostgresSettings)
        load(AckLinkSettings)
        SlaPolicy.from_env()
    except (ConfigError, PolicyError) as error:
        print(f"intake: {error}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level)
    metrics_dir = None
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers are separate processes: their metrics meet in files (prometheus-client).
        metrics_dir = tempfile.mkdtemp(prefix="casegold-intake-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        return serve(
            "casegold_intake.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
