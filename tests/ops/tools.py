"""Where the checking tools that deploy/ops-tools.sh installs are; a clear failure when absent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import repo_root

ROOT = Path(repo_root())
DEPLOY = ROOT / "deploy"
CACHE_BIN = DEPLOY / ".cache" / "bin"
INSTALL_HINT = "run deploy/ops-tools.sh ensure (make test does)"
# The Kubernetes version whose schemas the manifests are checked against (as in ops-tools.sh).
KUBERNETES_VERSION = "1.33.0"


def tool(name: str) -> str:
    """The path of a checking tool, or a failed test that says how to install it."""
    cached = CACHE_BIN / name
    if cached.is_file():
        return str(cached)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: {INSTALL_HINT}", pytrace=False)
    return found


def kubernetes_schemas() -> Path:
    """Strict Kubernetes JSON schemas (kubernetes-validate's, laid out for kubeconform)."""
    folder = DEPLOY / ".cache" / "kubeconform-schemas" / f"v{KUBERNETES_VERSION}"
    if not (folder / "deployment-apps-v1.json").is_file():
        pytest.fail(f"Kubernetes schemas not found in {folder}: {INSTALL_HINT}", pytrace=False)
    return folder


def run(*command: str, cwd: Path = ROOT) -> str:
    """Run a tool; a failed test with its output when it exits non-zero."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{output}", pytrace=False)
    return output
