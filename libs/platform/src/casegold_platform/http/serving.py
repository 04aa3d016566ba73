"""Serving a service's app with uvicorn, the same way everywhere.

Several workers each listen on a socket of their own, bound to the same address with
`SO_REUSEPORT`: the kernel then spreads new connections over the workers evenly (by a hash of
each connection's addresses). uvicorn's own supervisor shares one listening socket, and
whichever worker wakes first accepts; under a burst of new connections one worker took 85 % of
them and ran out of core while the other idled (decision 0148).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import threading
from typing import Any, Final

import structlog
import uvicorn

log = structlog.get_logger("casegold_platform")

# uvicorn's exit status when the app's start-up failed; a worker exits with it whenever it
# stopped before serving. It is not restarted (it would fail again): the service stops with it.
STARTUP_FAILURE: Final = 3
_PR_SET_PDEATHSIG: Final = 1
_CHECK_SECONDS: Final = 0.5


def serve(
    app: Any, *, host: str, port: int, grace_seconds: float, workers: int = 1, factory: bool = False
) -> int:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests within `grace_seconds`.

    `app` is the app, or an "module:function" import string (with `factory=True` when it names
    a function that builds the app, as several workers need). Logs are the service's own
    (structlog): uvicorn's logging config and access log are off, access logs come from the
    HTTP plumbing. Returns the exit status: 0, or STARTUP_FAILURE.
    """
    options = _options(app, host=host, port=port, grace_seconds=grace_seconds, factory=factory)
    if workers <= 1:
        server = uvicorn.Server(uvicorn.Config(**options))
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    return Supervisor(options, workers, grace_seconds).run()


def _options(
    app: Any, *, host: str, port: int, grace_seconds: float, factory: bool
) -> dict[str, Any]:
    return {
        "app": app,
        "factory": factory,
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        # No service reads the client's address; uvicorn's X-Forwarded-* rewriting is one more
        # ASGI layer on every request for nothing.
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": int(grace_seconds) or None,
    }


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class Supervisor:
    """Runs `workers` uvicorn processes, each on its own SO_REUSEPORT listener.

    The supervisor holds a socket bound to the address but never listening: it reserves the
    port while workers come and go, fails fast when the port is taken, and resolves port 0 to
    one port for all; a socket that does not listen is given no connections. A worker that
    dies is replaced; one whose app failed to start stops the service. SIGTERM or SIGINT:
    each worker gets one SIGTERM and drains within the grace period (workers sit in their own
    process group, so a terminal's Ctrl-C reaches them once, through here).
    """

    def __init__(self, options: dict[str, Any], workers: int, grace_seconds: float) -> None:
        self.options = options
        self.workers = workers
        self.grace_seconds = grace_seconds
        self._stop = threading.Event()
        self._context = multiprocessing.get_context("spawn")

    def run(self) -> int:
        """Serve until signalled; the exit status (0, or STARTUP_FAILURE)."""
        try:
            holder = reuse_port_socket(self.options["host"], self.options["port"])
        except OSError as error:
            log.error("cannot bind", host=self.options["host"], port=self.options["port"],
                      error=str(error))  # fmt: skip
            return STARTUP_FAILURE
        options = {**self.options, "port": holder.getsockname()[1]}
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stop.set())
        processes = [self._start(options) for _ in range(self.workers)]
        log.info("serving", workers=[p.pid for p in processes], host=options["host"],
                 port=options["port"])  # fmt: skip
        status = 0
        try:
            while not self._stop.wait(_CHECK_SECONDS):
                for index, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    if process.exitcode == STARTUP_FAILURE:
                        log.error("worker failed to start; stopping", pid=process.pid)
                        status = STARTUP_FAILURE
                        self._stop.set()
                        break
                    log.warning("worker exited; replacing it", pid=process.pid,
                                exitcode=process.exitcode)  # fmt: skip
                    processes[index] = self._start(options)
        finally:
            self._shut_down(processes)
            holder.close()
        return status

    def _start(self, options: dict[str, Any]) -> Any:
        process = self._context.Process(target=_worker, args=(options, os.getpid()), daemon=False)
        process.start()
        return process

    def _shut_down(self, processes: list[Any]) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        # Each worker bounds its own drain by the grace period; a little more for its exit.
        for process in processes:
            process.join(self.grace_seconds + 5.0)
            if process.is_alive():
                log.warning("worker did not stop in time; killed", pid=process.pid)
                process.kill()
                process.join()


def _worker(options: dict[str, Any], parent: int) -> None:
    """One worker process: its own listener on the shared address, until SIGTERM."""
    os.setpgrp()  # a terminal's SIGINT goes to the supervisor only, which forwards SIGTERM
    _die_with(parent)
    server = uvicorn.Server(uvicorn.Config(**options))
    try:
        server.run(sockets=[reuse_port_socket(options["host"], options["port"])])
    finally:
        # Whatever stopped it before it served (the app failed to import or to start, the
        # address could not be bound) would stop its replacement too: no restart loop.
        if not server.started:
            os._exit(STARTUP_FAILURE)


def _die_with(parent: int) -> None:
    """Get SIGTERM when the supervisor dies (Linux), so no orphan keeps serving the port."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request above took effect
        os._exit(0)
