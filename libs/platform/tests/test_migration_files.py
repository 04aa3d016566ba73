"""Migration files are read in order and refused when misnamed or missing a version."""

from __future__ import annotations

from pathlib import Path

import pytest

from casegold_platform.postgres import (
    MigrationError,
    installed_migration_packages,
    load_migrations,
    package_migrations,
    redact,
)


def test_migration_files_must_be_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0003_c.sql").write_text("SELECT 3")
    with pytest.raises(MigrationError, match="expected migration 0002"):
        load_migrations(tmp_path)
    (tmp_path / "0003_c.sql").rename(tmp_path / "2_c.sql")
    with pytest.raises(MigrationError, match="NNNN_lowercase_name"):
        load_migrations(tmp_path)


def test_every_installed_service_numbers_its_migrations_from_one() -> None:
    packages = installed_migration_packages()
    assert {"intake", "notifier"} <= set(packages)
    for package in packages.values():
        migrations = package_migrations(package)
        assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
        assert all(m.sql.strip() for m in migrations)


def test_redact_hides_the_password_only() -> None:
    assert redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://h:5432/db") == "postgresql://h:5432/db"
