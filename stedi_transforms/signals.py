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
__all__ = ["INTERRUPTED_LINE", "Interrupted", "interruptible", "wait_all"]


class Interrupted(BaseException):  # as KeyboardInterrupt: not an Exception, so no handler takes it
    """SIGINT or SIGTERM arrived; ``exit_code`` is the shell's for it (130, 143)."""

    def __init__(self, number: int) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = number

    @property
    def exit_code(self) -> int:
        return 128 + self.number


@contextmanager
def interruptible(on_signal: Callable[[], None] = lambda: None) -> Iterator[None]:
    """For the body, the first SIGINT or SIGTERM calls ``on_signal``, then raises :class:`Interrupted`; the next
    ends the process with its exit code, without unwinding. The handlers are put back after the body. Off the
    main thread (where Python delivers no signal), the body runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(number: int, frame: FrameType | None) -> None:
        if received:
            sys.stderr.flush()
            os._exit(128 + number)
        received.append(number)
        on_signal()
        raise Interrupted(number)

    previous = {number: signal.signal(number, handle) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def wait_all(pending: Iterable[futures.Future[Any]]) -> None:
    """Wait until every one of ``pending`` is done, waking every quarter second. A signal that the engine's own
    threads receive reaches Python's handler only when the main thread runs again: an endless wait would never take
    it."""
    waiting = set(pending)
    while waiting:
        _, waiting = futures.wait(waiting, timeout=0.25)
