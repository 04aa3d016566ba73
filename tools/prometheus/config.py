"""deploy/prometheus/prometheus.yml aimed at the ports the local stack's services listen on."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parents[2]
RULES_DIR: Final = ROOT / "deploy" / "prometheus"
# The port each scraped part listens on unless its own CASEGOLD_<SERVICE>_PORT says otherwise.
DEFAULT_PORTS: Final = {
    "intake": 8081,
    "escalation": 8082,
    "followup": 8083,
    "reporting": 8084,
    "notifier": 8085,
    "prometheus": 9090,
}


def local_targets(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """host:port of every scraped part, from the same variables the services read."""
    return {
        name: f"127.0.0.1:{env.get(f'CASEGOLD_{name.upper()}_PORT', str(default))}"
        for name, default in DEFAULT_PORTS.items()
    }


def config(
    targets: Mapping[str, str],
    *,
    interval_seconds: int | None = None,
    rules_dir: Path = RULES_DIR,
) -> dict[str, Any]:
    """The repository's configuration with one job per named target (the others dropped)."""
    loaded: dict[str, Any] = yaml.safe_load((rules_dir / "prometheus.yml").read_text())
    if interval_seconds is not None:
        every, timeout = f"{interval_seconds}s", f"{max(interval_seconds - 1, 1)}s"
        loaded["global"].update(
            scrape_interval=every, scrape_timeout=timeout, evaluation_interval=every
        )
    jobs = []
    for job in loaded["scrape_configs"]:
        service = job["static_configs"][0]["labels"]["service"]
        if service in targets:
            job["static_configs"][0]["targets"] = [targets[service]]
            jobs.append(job)
    unknown = set(targets) - {job["job_name"] for job in jobs}
    if unknown:
        raise ValueError(f"no scrape job for {sorted(unknown)} in {rules_dir / 'prometheus.yml'}")
    loaded["scrape_configs"] = jobs
    # The configuration lives under var/; its rules stay the repository's files.
    loaded["rule_files"] = [str(rules_dir / name) for name in loaded["rule_files"]]
    return loaded


def write(path: Path, content: Mapping[str, Any]) -> Path:
    """Write a configuration file (its folder created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(content), sort_keys=False))
    return path
