"""``stedi serve``: one long-lived process that keeps an engine started, and the client half of ``stedi`` that
hands it a command.

Every ``stedi`` process pays for its start before any work: Python importing PySpark's client (pandas, gRPC,
Arrow) takes most of a second, classic Spark's JVM many seconds more. A server pays it once, as Gradle's daemon
does. While it runs, ``stedi run``, ``verify``, ``report`` and ``history`` send their arguments over a Unix socket
private to the user (``STEDI_SOCKET``, by default ``$XDG_RUNTIME_DIR/stedi.sock`` or one in the temporary folder)
and print what comes back, so a run that finds one new file costs little more than its own work.

A client that finds no server starts one (detached, writing beside its socket) and hands it the command: the first
command costs what it would alone, the next ones skip the start. ``STEDI_SERVER`` says so: ``auto`` (the default,
except where ``CI`` is set), ``use`` (only a server that runs; the default on CI, where a server would outlive the
job) or ``off``. ``stedi serve`` starts one by hand, in the foreground.

The server runs one command at a time, in the client's working directory; a second client waits its turn. It
serves a client only when both run the same code (the same Python, the same package files) and agree on the
environment a run depends on (``AWS_*``, ``STEDI_*``, Spark's, Hadoop's and Java's variables), for the engine the
server started; otherwise the client runs the command itself, as it does when no server listens; a server that a
client started then stops, and the next client starts one for itself. Ctrl-C in a client leaves the command to
finish in the server. ``stedi serve --status`` says what it has done; ``stedi serve --stop`` stops it, as do SIGINT
and SIGTERM (after the command in progress) and an idle hour. A lock beside the socket, held by the living server,
keeps one server per socket.

This module is the ``stedi`` entry point, so it imports only the standard library until it knows that it must run
a command itself.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import signal
import socket
import stat
import subprocess
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
MODES = ("auto", "use", "off")
"""``STEDI_SERVER``: start a server when none listens (the default, but on CI), only use one that listens (the
default where ``CI`` is set), or run every command in its own process."""
ENVIRONMENT_PREFIXES = ("AWS_", "STEDI_", "SPARK_", "PYSPARK_", "HADOOP_", "JAVA_")
"""The variables a run depends on; a client whose values differ from the server's runs the command itself."""
SERVER_VARIABLES = ("STEDI_SERVER", "STEDI_SOCKET")
"""Variables of those prefixes that say how to reach a server, not how to run."""
AWS_FILES = (("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), ("AWS_CONFIG_FILE", "~/.aws/config"))
"""The files AWS clients read credentials from, with the variables that move them: a client with refreshed
credentials is not served by a server that started with the old ones."""
IDLE_MINUTES = 60.0
START_SECONDS = 300.0
"""How long a client waits for the server it started to listen (a classic JVM can take a minute on a busy host)."""
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
    """The variables a run depends on, and the AWS files that credentials may come from (their size and time), each
    as a digest: a client never sends its credentials."""
    stamps = {name: value for name, value in environment.items() if name.startswith(ENVIRONMENT_PREFIXES)}
    for variable, default in AWS_FILES:
        shown = environment.get(variable) or default
        with contextlib.suppress(OSError):
            status = Path(shown).expanduser().stat()
            stamps[shown] = f"{status.st_size} {status.st_mtime_ns}"
    return {
        name: hashlib.sha256(value.encode()).hexdigest()
        for name, value in stamps.items()
        if name not in SERVER_VARIABLES
    }


def entry_point() -> None:
    """The ``stedi`` command: handed to the user's server when one serves it (started here if need be), run here
    otherwise."""
    argv = sys.argv[1:]
    if _served(argv):
        try:
            mode = server_mode()
        except ServerError as error:
            print(f"stedi: error: {error}", file=sys.stderr)
            sys.exit(2)
        try:
            code = None if mode == "off" else forward(argv, start=mode == "auto" and _starts(argv))
        except KeyboardInterrupt:  # while a server starts: it goes on, for the next command
            print("stedi: interrupted", file=sys.stderr)
            sys.exit(130)
        if code is not None:
            sys.exit(code)
    from stedi_transforms.cli import main

    code = main(argv)
    # Done: every table, file and lock is closed. Leave without tearing the engine down, which takes half a second
    # of every command (Sail's server and the gRPC channel stop; a classic JVM stops itself when this process ends).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def server_mode() -> str:
    """``STEDI_SERVER``, one of :data:`MODES`; unset, ``use`` where ``CI`` is set (a server would outlive the job)
    and ``auto`` elsewhere."""
    mode = os.environ.get("STEDI_SERVER") or ("use" if os.environ.get("CI") else "auto")
    if mode not in MODES:
        raise ServerError(f"STEDI_SERVER is one of {', '.join(MODES)}, not {mode!r}")
    return mode


def _served(argv: Sequence[str]) -> bool:
    command = next((argument for argument in argv if not argument.startswith("-")), None)
    return command in SERVED_COMMANDS and not any(argument.startswith("--watch") for argument in argv)


def _starts(argv: Sequence[str]) -> bool:
    """Whether a command is worth starting a server for: not one that asks for help."""
    return not {"-h", "--help"} & set(argv)


class _RefusedError(RuntimeError):
    """The server would not run the command; ``stops`` when it stops for it (a server a client started gives way
    to one that serves the client)."""

    def __init__(self, reason: str, stops: bool) -> None:
        super().__init__(reason)
        self.stops = stops


def forward(argv: Sequence[str], start: bool = False) -> int | None:
    """Run ``stedi <argv>`` in the user's server, printing what it prints; None when no server takes it (none
    listens, or it runs other code, another engine or another environment). With ``start``, a client that finds
    no server starts one, as it does when a server that a client started gives way."""
    path = socket_path()
    for attempt in range(2):
        connection = _reach(path)
        if connection is None and start:
            connection = _start(path, argv)
        if connection is None:
            return None
        try:
            return _exchange(connection, argv)
        except _RefusedError as refusal:
            if not (start and refusal.stops) or attempt:
                print(f"stedi: not served: {refusal}{' (the server stops)' * refusal.stops}", file=sys.stderr)
                return None
            print(f"stedi: {refusal}: the server stops, and a new one starts", file=sys.stderr)
            if not _released(path, seconds=10):
                print("stedi: not served: the server did not stop", file=sys.stderr)
                return None
    return None


def _reach(path: Path) -> socket.socket | None:
    """A connection to the user's server, if one listens."""
    try:
        return _connect(path) if _own(path) else None
    except OSError:
        return None


def _exchange(connection: socket.socket, argv: Sequence[str]) -> int | None:
    """Send the command; print what comes back; its exit code (None: the server ended before it said anything)."""
    request = {"argv": list(argv), "cwd": os.getcwd(), "code": fingerprint(), "env": run_environment(os.environ)}
    answered = False
    with connection, connection.makefile("r", encoding="utf-8") as replies:
        try:
            _send(connection, request)
            for line in replies:
                reply = json.loads(line)
                answered = True
                if "out" in reply:
                    sys.stdout.write(reply["out"])
                    sys.stdout.flush()
                elif "err" in reply:
                    sys.stderr.write(reply["err"])
                    sys.stderr.flush()
                elif "exit" in reply:
                    return int(reply["exit"])
                elif "refused" in reply:
                    raise _RefusedError(str(reply["refused"]), bool(reply.get("stops")))
        except KeyboardInterrupt:
            print("stedi: interrupted; the server finishes the command", file=sys.stderr)
            return 130
        except (OSError, ValueError):  # gone, or no longer speaking the protocol
            pass
    if not answered:  # it stopped (or failed to start its engine) before taking the command: run it here
        print("stedi: not served: the server stopped before it took the command", file=sys.stderr)
        return None
    print("stedi: error: the server stopped before the command finished (see its output)", file=sys.stderr)
    return 1


def _start(path: Path, argv: Sequence[str]) -> socket.socket | None:
    """Start a server for the engine ``argv`` asks for, detached from this process, and connect to it once it
    listens; None (after saying why) when it does not."""
    try:
        _make_folder(path)
        server = None
        with _lock_file(path) as lock:
            if _holds(lock):  # no server lives: start one, which inherits the lock, with a fresh log
                engine = _option(argv, "--engine")
                command = [sys.executable, "-m", "stedi_transforms", "serve", f"--lock-descriptor={lock}"]
                with _log_path(path).open("wb") as log:
                    server = subprocess.Popen(
                        [*command, *(["--engine", engine] if engine else [])],
                        cwd="/",  # it pins no folder, and imports the package this client runs, not one in a folder
                        env={**os.environ, "STEDI_SOCKET": str(path.absolute())},
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        pass_fds=(lock,),
                        start_new_session=True,  # Ctrl-C in this terminal does not reach it
                    )
                print(
                    "stedi: starting a server that keeps the engine started for this command and the next ones "
                    f"(it stops after {IDLE_MINUTES:g} idle minutes; STEDI_SERVER=off runs each command alone)",
                    file=sys.stderr,
                )
    except ServerError as error:  # a folder others can write
        print(f"stedi: not served: {error}", file=sys.stderr)
        return None
    except OSError:
        return None
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        connection = _reach(path)
        if connection is not None:
            return connection
        if (server is None or server.poll() is not None) and _released(path, seconds=0):  # none will listen
            break
        time.sleep(0.05)
    print(f"stedi: not served: the server did not start (its output: {_log_path(path)})", file=sys.stderr)
    return None


def _option(argv: Sequence[str], name: str) -> str | None:
    """The value of option ``name`` in ``argv`` (``--name value`` or ``--name=value``), if given."""
    for position, argument in enumerate(argv):
        if argument == name and position + 1 < len(argv):
            return argv[position + 1]
        if argument.startswith(f"{name}="):
            return argument.partition("=")[2]
    return None


def _log_path(path: Path) -> Path:
    """Where a server that a client started writes: beside its socket."""
    return path.with_suffix(".log")


@contextlib.contextmanager
def _lock_file(path: Path, descriptor: int | None = None) -> Iterator[int]:
    """The lock file beside the socket, open (or ``descriptor``, which a server inherits from the client that
    started it with the lock taken): a living server holds its lock, and wrote its pid in it."""
    if descriptor is None:
        descriptor = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _holds(descriptor: int) -> bool:
    """Take the lock of ``descriptor`` if no server holds it (it goes with the descriptor)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _released(path: Path, seconds: float) -> bool:
    """Whether no server lives (none holds the lock), waiting up to ``seconds`` for one to end."""
    deadline = time.monotonic() + seconds
    with _lock_file(path) as lock:
        while not _holds(lock):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
    return True


def _own(path: Path) -> bool:
    """Whether ``path`` is this user's socket in a folder that only this user can write (never another user's)."""
    status = path.lstat()
    return stat.S_ISSOCK(status.st_mode) and status.st_uid == os.getuid() and _private(path.parent)


def _private(folder: Path) -> bool:
    """Whether ``folder`` is this user's, and no one else can write in it."""
    status = folder.lstat()
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _make_folder(path: Path) -> None:
    """Make the folder of the socket ``path`` (only this user's) if it is missing; ServerError if others can write
    in it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private(path.parent):
        raise ServerError(f"{path.parent} is not a folder that only you can write; set STEDI_SOCKET")


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
    from stedi_transforms.engines import DEFAULT_ENGINE, ENGINES

    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="the engine to keep started")
    parser.add_argument(
        "--idle",
        type=float,
        default=IDLE_MINUTES,
        metavar="MINUTES",
        help=f"stop after this many minutes without a command (default {IDLE_MINUTES:g}; 0 never)",
    )
    asked = parser.add_mutually_exclusive_group()
    asked.add_argument("--stop", action="store_true", help="stop the server that runs, after its command")
    asked.add_argument("--status", action="store_true", help="say whether a server runs, and what it has done")
    # started by a client that found none, holding this lock: it gives way (stops) for a client of another engine,
    # code or environment
    parser.add_argument("--lock-descriptor", type=int, help=argparse.SUPPRESS)
    parser.set_defaults(handler=command_serve)


def command_serve(args: argparse.Namespace, out: TextIO) -> int:
    path = socket_path()
    if args.stop or args.status:
        reply = _ask(path, {"stop": True} if args.stop else {"status": True})
        print(reply.get("stopping") or reply.get("status") or "the server did not answer", file=out)
        return 0
    if args.idle < 0:
        raise ServerError(f"--idle takes a number of minutes, 0 or more, not {args.idle:g}")
    return Server(path, args.engine, args.idle * 60, args.lock_descriptor).serve(out)


def _ask(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    """The server's reply to ``request`` (``stop`` or ``status``)."""
    try:
        connection = _connect(path)
    except OSError as error:
        raise ServerError(f"no server listens on {path}") from error
    with connection, connection.makefile("r", encoding="utf-8") as replies:
        _send(connection, request)
        reply: dict[str, Any] = json.loads(replies.readline() or "{}")
    return reply


class Server:
    """The loop of ``stedi serve``: one connection at a time, each one command (or ``stop``)."""

    def __init__(self, path: Path, engine: str, idle_seconds: float, lock: int | None = None) -> None:
        self.path = path
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.lock = lock
        self.gives_way = lock is not None  # started by a client
        self.code = fingerprint()
        self.environment = run_environment(os.environ)
        self.stop = threading.Event()
        self.log = sys.stderr
        self.since = self.last = time.monotonic()  # its start, and the end of its last command
        self.commands = 0

    def serve(self, out: TextIO) -> int:
        from stedi_transforms.engines import get_session, require

        _make_folder(self.path)
        with _lock_file(self.path, self.lock) as lock:  # held while this server lives: one server per socket
            self._take(lock)
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

    def _take(self, lock: int) -> None:
        """Hold the lock, writing this server's pid in it, or fail naming the server that holds it."""
        if not _holds(lock):
            pid = os.pread(lock, 32, 0).decode(errors="replace").strip() or "?"
            raise ServerError(f"a server already runs on {self.path} (pid {pid}); stedi serve --stop stops it")
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{os.getpid()}\n".encode(), 0)

    def _accept(self, listener: socket.socket, out: TextIO) -> None:
        """Handle one connection after another until stopped, or idle too long."""
        while not self.stop.is_set():
            if self.idle_seconds and time.monotonic() - self.last > self.idle_seconds:
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

    def _listen(self) -> socket.socket:
        if self.path.is_socket():
            self.path.unlink()  # left by a server that died: a living one holds the lock
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
        if not line:  # closed before its request
            return
        channel = _Channel(connection)
        try:
            request = json.loads(line)
            if request.get("stop"):
                self.stop.set()
                channel.send(stopping=f"the server (pid {os.getpid()}) stops")
                return
            if request.get("status"):
                channel.send(status=self._status())
                return
            argv, cwd = [str(argument) for argument in request["argv"]], str(request["cwd"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self._log(f"not a stedi request: {line[:200]!r}")
            return
        refusal = self._refusal(request)
        if refusal:
            if self.gives_way:  # started for a client: now it would only slow the others down
                self.stop.set()
            channel.send(refused=refusal, stops=self.stop.is_set())
            self._log(f"not serving stedi {' '.join(argv)}: {refusal}{'; stopping' * self.stop.is_set()}")
            return
        started = time.perf_counter()
        code = self._run(argv, cwd, channel)
        channel.send(exit=code)
        seconds = time.perf_counter() - started
        self._log(f"stedi {' '.join(argv)}: exit {code} in {seconds:.2f} s")
        self.commands += 1
        self.last = time.monotonic()

    def _status(self) -> str:
        now = time.monotonic()
        started_by = "a client" if self.gives_way else "hand"
        stops = f"stops after {self.idle_seconds / 60:g} idle minutes" if self.idle_seconds else "stops when told"
        commands = f"{self.commands} command{'s' * (self.commands != 1)} run"
        return (
            f"a {self.engine} server (pid {os.getpid()}, started by {started_by}) listens on {self.path}: up "
            f"{_duration(now - self.since)}, {commands}, idle {_duration(now - self.last)}; {stops}"
        )

    def _log(self, message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", file=self.log, flush=True)

    def _refusal(self, request: dict[str, Any]) -> str | None:
        if request.get("code") != self.code:
            if fingerprint() != self.code:
                self.stop.set()
                return "the server's code changed since it started"
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
