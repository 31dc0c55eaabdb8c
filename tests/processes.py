"""The child processes tests start: the installed ``stedi`` command, its server, and moto's S3 server.

Each runs in the test process's environment without that process's own engine settings (``SPARK_*``,
``PYSPARK_*``: the tests' classic Spark options, and the flag a stopped Spark Connect session leaves behind), so
that it starts its engine as a user's process would.
"""

from __future__ import annotations

import os
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


def start_stedi_server(environment: dict[str, str]) -> subprocess.Popen[str]:
    """``stedi serve`` on the socket ``environment`` names (``STEDI_SOCKET``), once it listens."""
    server = subprocess.Popen(
        [STEDI, "serve", "--idle", "5"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not Path(environment["STEDI_SOCKET"]).is_socket():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"the server did not listen: {server.communicate()}")
        time.sleep(0.05)
    return server
