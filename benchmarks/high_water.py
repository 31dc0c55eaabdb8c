"""What the bench measures of a command: its wall time, and its memory as the kernel's high-water marks of the
processes it uses, never sampled.

A command runs as its user runs it, in a cold process of its own. It is started by a launcher of its own
(``python -m benchmarks.high_water -- COMMAND``), a small fresh Python process. The launcher is needed because the
kernel carries a process's peak from before its ``exec`` into its ``ru_maxrss``, and before ``exec`` a child's
memory is its parent's. Started from the bench, or from pytest, a command would count at least their size. The
command's time is the wall time until its process ends, which is what its user waits for.

The launcher is a child subreaper (``PR_SET_CHILD_SUBREAPER``). A descendant that outlives its parent (classic
Spark's JVM outlives the Python process that started it by a moment) is therefore handed to the launcher instead
of to init. The launcher reaps the command's process and every such orphan with ``wait4``. The command fails if an
orphan is still running a minute after the command ended.

**What is summed.** The command's memory is the sum of ``ru_maxrss`` (KiB on Linux) over the processes the
launcher reaps. For each of them the kernel reports the largest of three peaks: the largest resident set the
process itself reached, the largest that any descendant it reaped itself reported in the same way, and the peak of
the memory it had before its ``exec`` (a child just forked has its parent's). A family of processes that reap their
own children is therefore counted once, at its largest member, and not member by member. In classic Spark the JVM
reaps the Python daemon, and the daemon reaps the Python workers it forks, so they count as the JVM's peak where
that is larger.
spark-submit's launcher JVM ends before the JVM it launches starts.

A command that runs on a warm local server (``--remote``) also has the server's processes added: the server and its
descendants. Just before the command, each of them has its peak reset to its present resident set (``5`` written to
``/proc/PID/clear_refs``). Right after, ``VmHWM`` (``/proc/PID/status``) is added for each server process alive
then, both those that were there before and those started during the command. The server's resident memory
therefore counts in full, and so does whatever it adds for the command. ``VmHWM`` is the process's own peak and
nothing else. A server process that started and ended within the command is not counted.

A sum of per-process peaks is an upper bound of the peak those processes reached together, because they need not
reach their peaks at the same moment, and because a resident set counts shared pages (libraries, and a forked
child's pages that are still its parent's) in every process that maps them. The bound does not hold inside a family
counted at its largest member, which is where classic Spark's Python workers are. Figures are in MiB (shown as MB).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
RESET_PEAK = b"5"
"""Written to ``/proc/PID/clear_refs``: the process's ``VmHWM`` becomes its present resident set."""
ORPHANS_END_WITHIN = 60.0
"""Seconds after a command (or a server) ends by which the processes it left behind must have ended too."""
LISTENING_WITHIN = 300.0
"""Seconds a local server has to print its address."""
STOPPING_WITHIN = 60.0
"""Seconds a local server has to end after SIGTERM, after which its process group is killed."""


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class LocalServer:
    """A Spark Connect server the bench started: the address it printed, and its process (the root of its tree)."""

    address: str
    pid: int


def _prctl(option: int, argument: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if int(libc.prctl(option, argument, 0, 0, 0)) < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """This process as a child subreaper during the body, then as it was before."""
    before = ctypes.c_int()
    _prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(before))
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        _prctl(PR_SET_CHILD_SUBREAPER, before.value)


def children() -> set[int]:
    """This process's children, zombies included."""
    return {child.pid for child in psutil.Process().children()}


def reap_orphans(others: set[int], within: float = ORPHANS_END_WITHIN) -> tuple[list[int], list[int]]:
    """Wait for the children of this process that are not in ``others``: the descendants a command left behind,
    which the kernel handed to this subreaper. Returns each one's ``ru_maxrss`` (KiB), and the processes still
    running ``within`` seconds later, which are then killed (and reaped)."""
    peaks = []
    deadline = time.monotonic() + within
    overdue: set[int] = set()
    while orphans := children() - others:
        for pid in orphans:
            reaped, _, usage = os.wait4(pid, os.WNOHANG)
            if reaped:
                peaks.append(usage.ru_maxrss)
        if time.monotonic() > deadline and not overdue:
            overdue = children() - others
            for pid in overdue:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return peaks, sorted(overdue)


def server_processes(server: int) -> list[int]:
    """The process ``server`` and its descendants, as of now."""
    root = psutil.Process(server)
    return [root.pid, *(child.pid for child in root.children(recursive=True))]


def reset_peaks(pids: Sequence[int]) -> None:
    """Make each process's ``VmHWM`` its present resident set; a process that has ended meanwhile is left out."""
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            Path(f"/proc/{pid}/clear_refs").write_bytes(RESET_PEAK)


def high_water_kib(pid: int) -> int:
    """The process's ``VmHWM`` in KiB; 0 for one that has ended (a zombie has no memory left to report)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(
    argv: Sequence[str],
    environment: dict[str, str],
    cwd: Path,
    server: LocalServer | None = None,
    orphans_within: float = ORPHANS_END_WITHIN,
) -> Measurement:
    """Run ``argv`` to its end in a fresh launcher (see the module's docstring): its wall time, and the memory of
    its processes, with ``server``'s while it ran. Raises if it exits other than 0 or leaves a process running
    ``orphans_within`` seconds after it ended."""
    launcher = [sys.executable, "-m", "benchmarks.high_water", "--orphans-within", str(orphans_within)]
    if server is not None:
        launcher += ["--server", str(server.pid)]
    with tempfile.TemporaryFile() as errors:
        finished = subprocess.run(
            [*launcher, "--", *argv], cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=errors, check=False
        )
        if finished.returncode != 0:
            raise RuntimeError(f"the launcher of {' '.join(argv)} exited {finished.returncode}:\n{_tail(errors)}")
        measured = json.loads(finished.stdout)
        if measured["returncode"] != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {measured['returncode']}:\n{_tail(errors)}")
        if measured["left_running"]:
            raise RuntimeError(
                f"{' '.join(argv)} left processes {measured['left_running']} running {orphans_within:g} s after it"
            )
    return Measurement(round(measured["seconds"], 2), round(measured["kib"] / 1024))


def run_measured(argv: Sequence[str], server: int | None, orphans_within: float) -> dict[str, Any]:
    """What the launcher does: run ``argv`` (stdout to /dev/null, stderr this process's) as its subreaper, and
    return its exit code, wall time, the KiB of its processes' peaks (and of ``server``'s tree, reset first),
    and the processes it left running (killed)."""
    with subreaper():
        others = children()
        if server is not None:
            reset_peaks(server_processes(server))
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        kib = usage.ru_maxrss
        if server is not None:
            kib += sum(high_water_kib(pid) for pid in server_processes(server))
        peaks, left_running = reap_orphans(others, orphans_within)
    return {
        "returncode": process.returncode,
        "seconds": seconds,
        "kib": kib + sum(peaks),
        "left_running": left_running,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a command and print its figures as JSON (the bench's launcher).")
    parser.add_argument("--server", type=int, help="the pid of a local server whose processes' peaks to add")
    parser.add_argument("--orphans-within", type=float, default=ORPHANS_END_WITHIN)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    print(json.dumps(run_measured(args.command, args.server, args.orphans_within)))
    return 0


@contextlib.contextmanager
def local_server(argv: Sequence[str], environment: dict[str, str], cwd: Path) -> Iterator[LocalServer]:
    """Run the server ``argv`` starts during the body, once it has printed a line starting with ``sc://`` (its
    address). Afterwards stop it with SIGTERM and wait until it and every process it left behind have ended."""
    with subreaper(), tempfile.TemporaryFile() as errors:
        others = children()
        process = subprocess.Popen(
            argv, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=errors, start_new_session=True
        )
        lines: queue.Queue[bytes] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
        try:
            yield LocalServer(_address(argv, process, lines, errors), process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOPPING_WITHIN)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            _, left_running = reap_orphans(others)
            if left_running:
                raise RuntimeError(f"{' '.join(argv)} left processes {left_running} running after it stopped")


def _read_lines(stream: IO[bytes], lines: queue.Queue[bytes]) -> None:
    """Pass on every line of ``stream`` (a server's stdout, which must not fill up), then ``b""`` at its end."""
    for line in stream:
        lines.put(line)
    lines.put(b"")


def _address(
    argv: Sequence[str], process: subprocess.Popen[bytes], lines: queue.Queue[bytes], errors: IO[bytes]
) -> str:
    deadline = time.monotonic() + LISTENING_WITHIN
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"{' '.join(argv)} printed no address within {LISTENING_WITHIN:g} s") from None
        if line.startswith(b"sc://"):
            return line.decode().strip()
        if not line:
            process.wait()
            raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}:\n{_tail(errors)}")


def _tail(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read().decode(errors="replace")[-2_000:]


if __name__ == "__main__":
    sys.exit(main())
