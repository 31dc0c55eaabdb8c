"""The ``stedi`` command's entry point: SIGINT and SIGTERM are taken before anything else is imported.

Importing PySpark's client and the engines takes most of a second; a Ctrl-C then ends the command with the same one
line as later on (:mod:`stedi_transforms.signals`), not with a trace of the import it fell into. This module
imports only the standard library until its handlers are in place.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

INTERRUPTED_LINE = "stedi: interrupted; the lake is at its last commit; the next run completes it"


def _before_start(number: int, frame: FrameType | None) -> None:
    print(INTERRUPTED_LINE, file=sys.stderr, flush=True)
    os._exit(128 + number)


def entry_point() -> None:
    """Run ``stedi``. Once it is done every table, file and lock is closed: it leaves without tearing the engine
    down, which takes half a second of every command (Sail's server and the gRPC channel stop; a classic JVM stops
    itself when this process ends)."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _before_start)
    from stedi_transforms.cli import main

    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
