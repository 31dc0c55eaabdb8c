"""Ctrl-C and SIGTERM: a command stops within seconds, as a kill would stop it, but saying so.

Every table of a lake stays readable whatever moment a run is killed at, and the next run completes what it left
(each commit is atomic; the ledger records a file only once its rows are written). So a signal needs no safe point
of its own: the first SIGINT or SIGTERM first asks the engine to cancel what it runs (the caller's ``on_signal``:
:func:`stedi_transforms.engines.interrupt_all`), then raises :class:`Interrupted` in the main thread, wherever the
command is (waiting for the engine included), whose ``finally`` blocks release the lake's lock. A second signal ends
the process at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from contextlib import contextmanager
from types import FrameType
from typing import Any

from stedi_transforms.entry import INTERRUPTED_LINE

SIGNALS = (signal.SIGINT, signal.SIGTERM)
__all__ = ["INTERRUPTED_LINE", "Interrupted", "interruptible", "kept", "wait_all"]


class Interrupted(BaseException):  # as KeyboardInterrupt: not an Exception, so no handler takes it
    """SIGINT or SIGTERM arrived; ``exit_code`` is the shell's for it (130, 143)."""

    def __init__(self, number: int) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = number

    @property
    def exit_code(self) -> int:
        return 128 + self.number


FORCE_SECONDS = 4.0
"""How long a command may take to unwind after the first signal before it is ended where it stands."""


@contextmanager
def interruptible(on_signal: Callable[[], None] = lambda: None) -> Iterator[Callable[[], int | None]]:
    """For the body, the first SIGINT or SIGTERM calls ``on_signal``, then raises :class:`Interrupted`; the next
    ends the process with its exit code, without unwinding, and so does FORCE_SECONDS of unwinding. Yields a
    function that gives the signal received (None until one is): an error the interruption caused on its way up
    (a cancelled job, a closed engine) is the interruption, not an error of its own. The handlers are put back
    after the body. Off the main thread (where Python delivers no signal), the body runs as it is."""
    received: list[int] = []

    def signalled() -> int | None:
        return received[0] if received else None

    if threading.current_thread() is not threading.main_thread():
        yield signalled
        return

    def handle(number: int, frame: FrameType | None) -> None:
        if received:
            _exit_now(number)
        received.append(number)
        deadline = threading.Timer(FORCE_SECONDS, _exit_now, (number,))
        deadline.daemon = True
        deadline.start()
        on_signal()
        raise Interrupted(number)

    previous = {number: signal.signal(number, handle) for number in SIGNALS}
    try:
        yield signalled
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _exit_now(number: int) -> None:
    print(INTERRUPTED_LINE, file=sys.stderr, flush=True)
    os._exit(128 + number)


@contextmanager
def kept() -> Iterator[None]:
    """SIGINT and SIGTERM handled after the body as before it, whatever the body installed: Sail's server takes them
    when it starts (at the OS level, to shut itself down) and PySpark's SparkContext does (to cancel its jobs and
    raise KeyboardInterrupt); the command stops its engine itself."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {number: signal.getsignal(number) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def wait_all(pending: Iterable[futures.Future[Any]]) -> None:
    """Wait until every one of ``pending`` is done, waking every quarter second. A signal that the engine's own
    threads receive reaches Python's handler only when the main thread runs again: an endless wait would never take
    it."""
    waiting = set(pending)
    while waiting:
        _, waiting = futures.wait(waiting, timeout=0.25)
