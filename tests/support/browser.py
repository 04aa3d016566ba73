"""Pages checked as a person sees them: Debian's Chromium, headless, and an app served for it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

# The closed network refuses Chromium's own background connections; these flags stop them.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1400",
    "--virtual-time-budget=10000",
)


def chromium() -> str:
    """The browser's path; `make test` installs Debian's chromium where it is missing."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed: `apt-get install -y chromium`")
    return path


async def _run(url: str, *extra: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="casegold-chromium-") as profile:
        process = await asyncio.create_subprocess_exec(
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            *extra,
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(), timeout=90)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    if process.returncode != 0:
        raise RuntimeError(f"chromium exited {process.returncode} on {url}")
    return stdout


async def rendered_dom(url: str) -> str:
    """The page's DOM after its scripts ran."""
    return (await _run(url, "--dump-dom")).decode()


async def screenshot(url: str, path: Path) -> bytes:
    """A PNG of the page, written to `path` (look at it) and returned."""
    await _run(url, f"--screenshot={path}")
    return path.read_bytes()


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on an ephemeral loopback port (lifespan run); yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()  # start-up failed: raise its error
                await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
