"""`python -m tools.prometheus`: write var/prometheus/prometheus.yml, then become Prometheus.

The configuration is deploy/prometheus/prometheus.yml aimed at CASEGOLD_<SERVICE>_PORT; the
server listens on 127.0.0.1:CASEGOLD_PROMETHEUS_PORT (9090) and keeps its data in
CASEGOLD_VAR_DIR/prometheus/data. Extra arguments go to the server.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tools.prometheus.config import config, local_targets, write


def binary() -> str | None:
    """Debian's prometheus (deploy/ops-tools.sh ensure installs it)."""
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
    )


def main(argv: list[str]) -> int:
    """Exec Prometheus with the local configuration; 2 when it is not installed."""
    server = binary()
    if server is None:
        print("prometheus not found: run deploy/ops-tools.sh ensure", file=sys.stderr)
        return 2
    targets = local_targets()
    home = Path(os.environ.get("CASEGOLD_VAR_DIR", "var")).resolve() / "prometheus"
    path = write(home / "prometheus.yml", config(targets))
    # Same process id as this one, so the stack's pid file names the server itself.
    os.execv(
        server,
        [
            server,
            f"--config.file={path}",
            f"--storage.tsdb.path={home / 'data'}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address={targets['prometheus']}",
            *argv,
        ],
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
