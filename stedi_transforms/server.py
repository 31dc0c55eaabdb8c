"""``stedi serve``: one long-lived process that keeps an engine started, and the client half of ``stedi`` that
hands it a command.

Every ``stedi`` process pays for its start before any work: Python importing PySpark's client (pandas, gRPC,
Arrow) takes most of a second, classic Spark's JVM many seconds more. ``stedi serve`` pays it once, as Gradle's
daemon does. While it runs, ``stedi run``, ``verify``, ``report`` and ``history`` send their arguments over a Unix
socket private to the user (``STEDI_SOCKET``, by default ``$XDG_RUNTIME_DIR/stedi.sock`` or one in the temporary
folder) and print what comes back, so a run that finds one new file costs little more than its own work.

The server runs one command at a time, in the client's working directory; a second client waits its turn. It
serves a client only when both run the same code (the same Python, the same package files) and agree on the
environment a run depends on (``AWS_*``, ``STEDI_*``, Spark's, Hadoop's and Java's variables), for the engine the
server started; otherwise the client runs the command itself, as it does when no server listens. Ctrl-C in a
client leaves the command to finish in the server. ``stedi serve --stop`` stops it, as do SIGINT and SIGTERM (after
the command in progress) and an idle hour.

This module is the ``stedi`` entry point, so it imports only the standard library until it knows that it must run
a command itself.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

import stedi_transforms

SERVED_COMMANDS = ("run", "verify", "report", "history")
"""The commands a server runs: those of the lake, which need an engine. ``run --watch`` keeps its own session."""
ENVIRONMENT_PREFIXES = ("AWS_", "STEDI_", "SPARK_", "PYSPARK_", "HADOOP_", "JAVA_")
"""The variables a run depends on; a client whose values differ from the server's runs the command itself."""
IDLE_MINUTES = 60.0
PROTOCOL = 1


class ServerError(RuntimeError):
    """A server cannot start or cannot be reached for ``--stop``: one line, exit code 2."""


def socket_path() -> Path:
    """Where the user's server listens: ``STEDI_SOCKET``, or ``stedi.sock`` in ``XDG_RUNTIME_DIR`` or in a folder
    of the temporary folder that only the user can enter."""
    if os.environ.get("STEDI_SOCKET"):
        return Path(os.environ["STEDI_SOCKET"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "stedi.sock"
    return Path(tempfile.gettempdir()) / f"stedi-{os.getuid()}" / "stedi.sock"


@contextlib.contextmanager
def stopped_by_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set ``stop`` (a long-lived command finishes the work in progress, then ends) until the
    block ends."""
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def fingerprint() -> str:
    """The code a process runs: its Python and the package's files (names, sizes and modification times)."""
    digest = hashlib.sha256(f"{PROTOCOL} {sys.executable} {stedi_transforms.__version__}".encode())
    package = Path(stedi_transforms.__file__).parent
    for file in sorted(package.rglob("*.py")):
        status = file.stat()
        digest.update(f"{file.relative_to(package)} {status.st_size} {status.st_mtime_ns}".encode())
    return digest.hexdigest()


def run_environment(environment: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The variables a run depends on, each value as a digest: a client never sends its credentials."""
    return {
        name: hashlib.sha256(value.encode()).hexdigest()
        for name, value in environment.items()
        if name.startswith(ENVIRONMENT_PREFIXES)
    }


def entry_point() -> None:
    """The ``stedi`` command: handed to a running server when one serves it, run here otherwise."""
    argv = sys.argv[1:]
    code = forward(argv) if _served(argv) else None
    if code is not None:
        sys.exit(code)
    from stedi_transforms.cli import main

    code = main(argv)
    # Done: every table, file and lock is closed. Leave without tearing the engine down, which takes half a second
    # of every command (Sail's server and the gRPC channel stop; a classic JVM stops itself when this process ends).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _served(argv: Sequence[str]) -> bool:
    command = next((argument for argument in argv if not argument.startswith("-")), None)
    return command in SERVED_COMMANDS and not any(argument.startswith("--watch") for argument in argv)


def forward(argv: Sequence[str]) -> int | None:
    """Run ``stedi <argv>`` in the user's server, printing what it prints; None when no server takes it (none
    listens, or it runs other code, another engine or another environment)."""
    path = socket_path()
    try:
        if not _own(path):
            return None
        connection = _connect(path)
    except OSError:
        return None
    request = {"argv": list(argv), "cwd": os.getcwd(), "code": fingerprint(), "env": run_environment(os.environ)}
    with connection, connection.makefile("r", encoding="utf-8") as replies:
        try:
            _send(connection, request)
            for line in replies:
                reply = json.loads(line)
                if "out" in reply:
                    sys.stdout.write(reply["out"])
                    sys.stdout.flush()
                elif "err" in reply:
                    sys.stderr.write(reply["err"])
                    sys.stderr.flush()
                elif "exit" in reply:
                    return int(reply["exit"])
                elif "refused" in reply:
                    print(f"stedi: not served: {reply['refused']}", file=sys.stderr)
                    return None
        except KeyboardInterrupt:
            print("stedi: interrupted; the server finishes the command", file=sys.stderr)
            return 130
        except OSError:
            pass
    print("stedi: error: the server stopped before the command finished (see its output)", file=sys.stderr)
    return 1


def _own(path: Path) -> bool:
    """Whether ``path`` is this user's socket in a folder that only this user can write (never another user's)."""
    status = path.lstat()
    return stat.S_ISSOCK(status.st_mode) and status.st_uid == os.getuid() and _private(path.parent)


def _private(folder: Path) -> bool:
    """Whether ``folder`` is this user's, and no one else can write in it."""
    status = folder.lstat()
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    """One message of the protocol: a line of JSON."""
    connection.sendall(json.dumps(message).encode() + b"\n")


def _connect(path: Path) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "serve", help="keep an engine started and run the lake commands of every stedi started meanwhile"
    )
    parser.add_argument("--engine", choices=("sail", "spark"), default="sail", help="the engine to keep started")
    parser.add_argument(
        "--idle",
        type=float,
        default=IDLE_MINUTES,
        metavar="MINUTES",
        help=f"stop after this many minutes without a command (default {IDLE_MINUTES:g}; 0 never)",
    )
    parser.add_argument("--stop", action="store_true", help="stop the server that runs, after its command")
    parser.set_defaults(handler=command_serve)


def command_serve(args: argparse.Namespace, out: TextIO) -> int:
    path = socket_path()
    if args.stop:
        return _stop(path, out)
    if args.idle < 0:
        raise ServerError(f"--idle takes a number of minutes, 0 or more, not {args.idle:g}")
    return Server(path, args.engine, args.idle * 60).serve(out)


def _stop(path: Path, out: TextIO) -> int:
    try:
        connection = _connect(path)
    except OSError as error:
        raise ServerError(f"no server listens on {path}") from error
    with connection, connection.makefile("r", encoding="utf-8") as replies:
        _send(connection, {"stop": True})
        reply = json.loads(replies.readline() or "{}")
    print(reply.get("stopping", "the server stops"), file=out)
    return 0


class Server:
    """The loop of ``stedi serve``: one connection at a time, each one command (or ``stop``)."""

    def __init__(self, path: Path, engine: str, idle_seconds: float) -> None:
        self.path = path
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.code = fingerprint()
        self.environment = run_environment(os.environ)
        self.stop = threading.Event()
        self.log = sys.stderr

    def serve(self, out: TextIO) -> int:
        from stedi_transforms.engines import get_session, require

        listener = self._listen()
        try:
            with stopped_by_signals(self.stop):
                started = time.perf_counter()
                require(self.engine, delta=True)
                get_session(self.engine)
                print(
                    f"stedi serve: {self.engine} started in {time.perf_counter() - started:.1f} s; listening on "
                    f"{self.path} (pid {os.getpid()}); stedi serve --stop stops it",
                    file=out,
                    flush=True,
                )
                self._accept(listener, out)
        finally:
            listener.close()
            self.path.unlink(missing_ok=True)
        return 0

    def _accept(self, listener: socket.socket, out: TextIO) -> None:
        """Handle one connection after another until stopped, or idle too long."""
        last = time.monotonic()
        while not self.stop.is_set():
            if self.idle_seconds and time.monotonic() - last > self.idle_seconds:
                print(f"stedi serve: idle for {self.idle_seconds / 60:g} min; stopping", file=out, flush=True)
                return
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                try:
                    self._handle(connection)
                except Exception:  # the server outlives any one request
                    self._log(f"a request failed:\n{traceback.format_exc()}")
            last = time.monotonic()

    def _listen(self) -> socket.socket:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(self.path.parent):
            raise ServerError(f"{self.path.parent} is not a folder that only you can write; set STEDI_SOCKET")
        try:
            _connect(self.path).close()
        except OSError:
            if self.path.is_socket():
                self.path.unlink()  # left by a server that died
        else:
            raise ServerError(f"a server already listens on {self.path}; stedi serve --stop stops it")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
        except OSError as error:
            listener.close()
            raise ServerError(f"cannot listen on {self.path}: {error.strerror or error}") from error
        self.path.chmod(0o600)
        listener.listen()
        listener.settimeout(1.0)
        return listener

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(None)
        with connection.makefile("r", encoding="utf-8") as requests:
            line = requests.readline()
        if not line:  # a probe: another server checking that this one listens
            return
        channel = _Channel(connection)
        try:
            request = json.loads(line)
            if request.get("stop"):
                self.stop.set()
                channel.send(stopping=f"the server (pid {os.getpid()}) stops")
                return
            argv, cwd = [str(argument) for argument in request["argv"]], str(request["cwd"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self._log(f"not a stedi request: {line[:200]!r}")
            return
        refusal = self._refusal(request)
        if refusal:
            channel.send(refused=refusal)
            self._log(f"not serving stedi {' '.join(argv)}: {refusal}")
            return
        started = time.perf_counter()
        code = self._run(argv, cwd, channel)
        channel.send(exit=code)
        seconds = time.perf_counter() - started
        self._log(f"stedi {' '.join(argv)}: exit {code} in {seconds:.2f} s")

    def _log(self, message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", file=self.log, flush=True)

    def _refusal(self, request: dict[str, Any]) -> str | None:
        if request.get("code") != self.code:
            if fingerprint() != self.code:
                self.stop.set()
                return "the server's code changed since it started; it stops"
            return "the client runs other code"
        if request.get("env") != self.environment:
            theirs: dict[str, str] = request.get("env", {})
            names = sorted(
                name for name in {*theirs, *self.environment} if theirs.get(name) != self.environment.get(name)
            )
            return f"the environment differs ({', '.join(names)})"
        from stedi_transforms.cli import parser

        try:  # quietly: a usage error or --help is printed by the command itself, to the client
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                args = parser().parse_args(request["argv"])
        except SystemExit:
            return None
        engine = getattr(args, "engine", self.engine)
        if engine != self.engine:
            return f"the server runs {self.engine}, not {engine}"
        return None

    def _run(self, argv: list[str], cwd: str, channel: _Channel) -> int:
        from stedi_transforms.cli import main

        out, err = channel.stream("out"), channel.stream("err")
        previous = os.getcwd()
        try:
            os.chdir(cwd)
        except OSError as error:
            err.write(f"stedi: error: cannot enter the working directory {cwd}: {error.strerror or error}\n")
            return 2
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    return main(argv)
                except SystemExit as done:  # argparse: --help, a usage error
                    return done.code if isinstance(done.code, int) else 0 if done.code is None else 2
                except Exception:
                    traceback.print_exc()
                    traceback.print_exc(file=self.log)
                    return 1
        finally:
            os.chdir(previous)


class _Channel:
    """A client's connection: replies as JSON lines. A client that left (Ctrl-C) no longer gets them; the command
    goes on."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.gone = False

    def send(self, **reply: object) -> None:
        if self.gone:
            return
        try:
            _send(self.connection, reply)
        except OSError:
            self.gone = True

    def stream(self, name: str) -> TextIO:
        return cast(TextIO, _ChannelStream(self, name))


class _ChannelStream(io.TextIOBase):
    def __init__(self, channel: _Channel, name: str) -> None:
        self.channel = channel
        self.kind = name

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self.channel.send(**{self.kind: text})
        return len(text)
