"""The reporting service's own tables, applied by the platform's migration runner."""

from __future__ import annotations

from typing import Final

from casegold_platform.postgres import migrate as run_migrations
from casegold_platform.postgres import package_migrations

SERVICE: Final = "reporting"
PACKAGE: Final = "casegold_reporting.migrations"


async def migrate(dsn: str) -> list[int]:
    """Apply the reporting migrations; returns the versions applied."""
    return await run_migrations(dsn, service=SERVICE, migrations=package_migrations(PACKAGE))
