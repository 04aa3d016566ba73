"""Serving with several workers: each on its own SO_REUSEPORT listener, supervised (0148).

Real processes: the supervisor as a subprocess, uvicorn workers under it, plain TCP clients.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from casegold_platform.http.serving import STARTUP_FAILURE

APPS = Path(__file__).parent / "apps"
DEADLINE = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(condition: Callable[[], object], what: str, seconds: float = DEADLINE) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


def _ask(port: int) -> int | None:
    """The pid that answered one request on a new connection, or None when none did."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return None
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(body) if head.startswith(b"HTTP/1.1 200") else None


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


@contextmanager
def _supervisor(
    app: str, port: int, workers: int = 2, factory: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    code = (
        "import sys; from casegold_platform.http.serving import serve; "
        f"sys.exit(serve({app!r}, host='127.0.0.1', port={port}, grace_seconds=2, "
        f"workers={workers}, factory={factory}))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(APPS), *sys.path]))
    process = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _serving_pids(port: int, workers: int) -> set[int]:
    """Ask on new connections until `workers` distinct workers have answered."""
    seen: set[int] = set()

    def all_answered() -> bool:
        pid = _ask(port)
        if pid is not None:
            seen.add(pid)
        return len(seen) >= workers

    _until(all_answered, f"{workers} workers answering")
    return seen


def test_new_connections_are_spread_over_the_workers() -> None:
    port = _free_port()
    with _supervisor("serving_probe:pid_app", port) as process:
        pids = _serving_pids(port, 2)
        answers = collections.Counter(_ask(port) for _ in range(64))
        assert set(answers) == pids, answers
        # Each connection lands on either listener with even odds: below 13 of 64 is ~1e-6.
        assert min(answers.values()) >= 13, answers
        assert process.poll() is None


def test_a_killed_worker_is_replaced_and_the_service_keeps_answering() -> None:
    port = _free_port()
    with _supervisor("serving_probe:pid_app", port) as process:
        victim, survivor = sorted(_serving_pids(port, 2))
        os.kill(victim, signal.SIGKILL)
        replaced: set[int] = set()

        def replacement_answers() -> bool:
            pid = _ask(port)
            if pid is not None:
                replaced.add(pid)
            return bool(replaced - {victim, survivor})

        _until(replacement_answers, "a replacement worker answering")
        assert victim not in replaced
        _until(lambda: _gone(victim), "the killed worker reaped")
        assert process.poll() is None


def test_sigterm_stops_every_worker_and_frees_the_port() -> None:
    port = _free_port()
    with _supervisor("serving_probe:pid_app", port) as process:
        pids = _serving_pids(port, 2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0  # the supervisor's own exit, not a signal
        _until(lambda: all(_gone(pid) for pid in pids), "workers gone")
        with socket.socket() as sock:  # no worker still listens: a plain socket may listen
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
            sock.bind(("127.0.0.1", port))
            sock.listen()


def test_workers_stop_when_the_supervisor_is_killed() -> None:
    port = _free_port()
    with _supervisor("serving_probe:pid_app", port) as process:
        pids = _serving_pids(port, 2)
        process.kill()
        process.wait()
        _until(lambda: all(_gone(pid) for pid in pids), "orphaned workers gone")


def test_an_app_that_cannot_start_stops_the_service_with_the_startup_status() -> None:
    port = _free_port()
    with _supervisor("serving_probe:failing_app", port) as process:
        assert process.wait(timeout=DEADLINE) == STARTUP_FAILURE


def test_an_app_that_cannot_be_imported_stops_the_service_instead_of_restarting() -> None:
    port = _free_port()
    with _supervisor("serving_probe:no_such_app", port) as process:
        assert process.wait(timeout=DEADLINE) == STARTUP_FAILURE


def test_a_factory_that_raises_stops_the_service_instead_of_restarting() -> None:
    # uvicorn lets the factory's own exception out (exit status 1); restarting would loop.
    port = _free_port()
    with _supervisor("serving_probe:broken_factory", port, factory=True) as process:
        assert process.wait(timeout=DEADLINE) == STARTUP_FAILURE


def test_a_port_taken_by_another_service_is_a_startup_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with _supervisor("serving_probe:pid_app", port) as process:
            assert process.wait(timeout=DEADLINE) == STARTUP_FAILURE


def test_one_worker_serves_without_a_supervisor() -> None:
    port = _free_port()
    with _supervisor("serving_probe:pid_app", port, workers=1) as process:
        (pid,) = _serving_pids(port, 1)
        assert pid == process.pid
        process.send_signal(signal.SIGTERM)
        # uvicorn drains, then ends by the signal it got, as a process without handlers would.
        assert process.wait(timeout=DEADLINE) == -signal.SIGTERM
