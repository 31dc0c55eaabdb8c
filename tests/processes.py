"""The child processes tests start: the installed ``stedi`` command, ``stedi serve``, and moto's S3 server.

Each runs in the test process's environment without that process's own engine settings (``SPARK_*``,
``PYSPARK_*``: the tests' classic Spark options, and the flag a stopped Spark Connect session leaves behind), so
that it starts its engine as a user's process would.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STEDI = str(Path(sys.executable).with_name("stedi"))
MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))


def child_environment(**settings: str) -> dict[str, str]:
    """This process's environment without its engine settings, with ``settings`` added."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith(("SPARK_", "PYSPARK_"))}
    return {**kept, **settings}


def free_port() -> int:
    """A loopback port no one listens on (as of now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether a server listens on the loopback ``port``."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def moto_server(**settings: str) -> Iterator[str]:
    """moto's S3 server on a loopback port, started with ``settings`` in its environment, for the body; yields its
    endpoint."""
    port = free_port()
    server = subprocess.Popen(
        [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        env=child_environment(**settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the local S3 server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def stedi_serve(*argv: str, environment: dict[str, str] | None = None, seconds: float = 240) -> Iterator[str]:
    """``stedi serve <argv>`` for the body, once it listens; yields the ``sc://`` address it printed. It is stopped
    as a user stops it (SIGINT), and killed if it has not ended 60 s later."""
    server = subprocess.Popen(
        [STEDI, "serve", *argv],
        env=environment or child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        address = _first_address(server, seconds)
        yield address
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _first_address(server: subprocess.Popen[str], seconds: float) -> str:
    """The first ``sc://`` line ``server`` prints, within ``seconds``."""
    assert server.stdout is not None
    ready = selectors.DefaultSelector()
    ready.register(server.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready.select(timeout=1.0):
            line = server.stdout.readline()
            if line.startswith("sc://"):
                return line.strip()
            if not line and server.poll() is not None:
                break
    raise AssertionError(f"stedi serve did not listen within {seconds:g} s (exit {server.poll()})")
