"""Operator commands: `python -m casegold_platform <command>` to wait, create topics, migrate."""

from __future__ import annotations

import argparse
import asyncio
import sys

from casegold_platform import kafka, postgres
from casegold_platform.settings import ConfigError, KafkaSettings, PostgresSettings, load


async def _run(args: argparse.Namespace) -> str:
    if args.command == "wait-kafka":
        settings = load(KafkaSettings)
        cluster = await kafka.wait_for_broker(settings.bootstrap, args.timeout)
        return f"kafka: {len(cluster['brokers'])} broker(s) answer on {settings.bootstrap}"
    if args.command == "create-topics":
        from casegold_platform.topics import platform_topics  # needs the contracts package

        settings = load(KafkaSettings)
        await kafka.wait_for_broker(settings.bootstrap, args.timeout)
        specs = platform_topics(settings)
        created = await kafka.ensure_topics(settings.bootstrap, specs)
        names = ", ".join(f"{s.name} ({s.partitions} partitions)" for s in specs)
        return f"topics: {names}; created now: {', '.join(created) or 'none'}"
    pg = load(PostgresSettings)
    version = await postgres.wait_for_postgres(pg.dsn, args.timeout)
    if args.command == "wait-postgres":
        return f"postgres: server {version} answers at {postgres.redact(pg.dsn)}"
    applied = await postgres.migrate_installed(pg.dsn)
    if not applied:
        return "migrations: no service declares any (casegold.migrations entry points)"
    return "migrations: " + "; ".join(
        f"{service} applied {versions or 'nothing (up to date)'}"
        for service, versions in applied.items()
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 with a one-line reason on failure."""
    parser = argparse.ArgumentParser(prog="python -m casegold_platform")
    parser.add_argument(
        "command", choices=["wait-kafka", "create-topics", "wait-postgres", "migrate"]
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the server"
    )
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(_run(args)))
    except (
        ConfigError,
        kafka.BrokerUnavailable,
        kafka.TopicLayoutError,
        postgres.DatabaseUnavailable,
        postgres.MigrationError,
    ) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
