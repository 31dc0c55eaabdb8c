"""``stedi serve``: an engine's own Spark Connect server, in the foreground, for ``--remote``.

Sail's server (the one ``sail spark server`` starts, here through pysail's API in this process) or classic Spark's
``SparkConnectServer`` (a JVM started by ``spark-submit``, with Delta's and hadoop-aws's jars where they are cached
and the settings ``stedi run`` gives its own classic session). Either listens on loopback only and prints the
``sc://`` address to give ``stedi run --remote`` (or ``SPARK_REMOTE``) once it listens; Ctrl-C or SIGTERM stops it.
Nothing runs in the background unless the user puts it there.

Who can reach it: any local user can connect to a loopback port. Classic Spark's server takes a token, made anew
for each start and handed to the JVM in its environment (never on its command line); its address carries it, so
only who has the address can use the engine. Sail's server takes no token (Sail 0.7): while it runs, any local
user can drive it, as you.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from stedi_transforms import engines, jars
from stedi_transforms.engines import DEFAULT_ENGINE, ENGINES, EngineError
from stedi_transforms.settings import current
from stedi_transforms.signals import Interrupted

HOST = "127.0.0.1"
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_SECONDS = 180.0
"""How long a classic server may take to listen (a JVM on a busy two-core host can take a minute)."""
STOP_SECONDS = 3.0
"""How long classic Spark's server may take to stop after SIGTERM before it is killed (a command has four seconds
to end after Ctrl-C: :data:`stedi_transforms.signals.FORCE_SECONDS`)."""
OPEN_WARNING = "stedi serve: the port is on loopback, open to every local user of this machine"


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run an engine's Spark Connect server in the foreground, for `--remote` (Ctrl-C stops it)",
        description="Run an engine's own Spark Connect server on loopback until Ctrl-C or SIGTERM; it prints the "
        "sc:// address that `stedi run --remote` (or SPARK_REMOTE) takes.",
    )
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="the engine to serve")
    parser.add_argument("--port", type=int, default=0, help="the loopback port (default: a free one)")
    parser.add_argument(
        "--master",
        default=f"local[{engines.SHUFFLE_PARTITIONS}]",
        help="classic Spark's master, e.g. local-cluster[2,1,1024] or spark://HOST:PORT "
        f"(default: local[{engines.SHUFFLE_PARTITIONS}]; Sail's mode is set by SAIL_MODE)",
    )
    parser.set_defaults(handler=command_serve, stops_on_signal=True)  # Ctrl-C is how a server ends


def command_serve(args: argparse.Namespace, out: TextIO) -> int:
    port = args.port or _free_port()
    _sail_s3_environment()
    if args.engine == "sail":
        return _serve_sail(port, out)
    return _serve_spark(port, args.master, out)


def _serve_sail(port: int, out: TextIO) -> int:
    os.environ.setdefault("RUST_LOG", "error")
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer(HOST, port)
    server.start(background=True)
    try:
        _announce(f"sc://{HOST}:{port}", "Sail takes no token: any local user can use this engine while it runs", out)
        while server.running:
            time.sleep(0.5)
    except Interrupted:
        pass
    finally:
        server.stop()
    return 0


def _serve_spark(port: int, master: str, out: TextIO) -> int:
    for jar_set in (jars.delta_jars(), jars.s3a_jars()):
        try:
            jars.ensure(jar_set)
        except jars.JarsUnavailableError as error:
            print(f"stedi serve: without {jar_set.feature} ({error})", file=sys.stderr)
    settings, _ = engines.classic_settings()
    settings |= {
        "spark.connect.grpc.binding.address": HOST,
        "spark.connect.grpc.binding.port": str(port),
        # What a task may use, for the reader's share of files (engines.parallelism).
        "spark.default.parallelism": str(_parallelism(master)),
    }
    token = secrets.token_urlsafe(24)
    submit = Path(_spark_home(), "bin", "spark-submit")
    command = [str(submit), "--master", master, "--name", "stedi-transforms connect", "--class", CONNECT_SERVER]
    for name, value in settings.items():
        command += ["--conf", f"{name}={value}"]
    command.append("spark-internal")
    environment = os.environ | {"SPARK_CONNECT_AUTHENTICATE_TOKEN": token}
    # Its own process group: the terminal's Ctrl-C comes to this process, which stops the server (and its workers).
    server = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_listening(server, port)
        _announce(f"sc://localhost:{port}/;token={token}", "its address carries a token: keep it to yourself", out)
        server.wait()
    except Interrupted:
        pass
    finally:
        _stop(server)
    return 0 if server.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM) else 1


def _announce(address: str, who: str, out: TextIO) -> None:
    print(f"{OPEN_WARNING}; {who}", file=sys.stderr)
    print(address, file=out, flush=True)
    print(f"stedi serve: listening; run `stedi run --remote '{address}'`; Ctrl-C stops it", file=sys.stderr)


def _sail_s3_environment() -> None:
    """What the in-process engine is given for S3 (:func:`engines.use_s3`), for a Sail server: its environment."""
    settings = current().s3
    if settings.endpoint_url and settings.endpoint_url.startswith("http://"):
        os.environ.setdefault("AWS_ALLOW_HTTP", "true")
    if settings.region:
        os.environ.setdefault("AWS_REGION", settings.region)


def _spark_home() -> str:
    import pyspark

    return current().spark_home or str(Path(pyspark.__file__).resolve().parent)


def _parallelism(master: str) -> int:
    """The task slots of ``master``: ``local[N]``, ``local-cluster[W,C,M]``; the host's cores otherwise."""
    inside = master[master.find("[") + 1 : master.rfind("]")] if "[" in master else ""
    numbers = [int(part) for part in inside.split(",") if part.strip().isdigit()]
    if master.startswith("local-cluster") and len(numbers) >= 2:
        return numbers[0] * numbers[1]
    if master.startswith("local[") and numbers:
        return numbers[0]
    return os.cpu_count() or engines.SHUFFLE_PARTITIONS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _wait_listening(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if server.poll() is not None:
            raise EngineError(f"classic Spark's Connect server ended before it listened (exit {server.returncode})")
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        if time.monotonic() > deadline:
            raise EngineError(f"classic Spark's Connect server did not listen on port {port} in {START_SECONDS:g} s")
        time.sleep(0.2)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (the JVM, its Python workers, a local cluster's executors)."""
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        pass
