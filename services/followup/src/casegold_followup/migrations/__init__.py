"""SQL migrations of the follow-up tables (this service's own), numbered from 0001."""

from __future__ import annotations

from casegold_platform.postgres import migrate, package_migrations

SERVICE = "followup"


async def apply(dsn: str) -> list[int]:
    """Apply this service's pending migrations; the versions applied."""
    return await migrate(dsn, service=SERVICE, migrations=package_migrations(__name__))
