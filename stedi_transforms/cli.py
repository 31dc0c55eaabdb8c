"""The ``stedi`` command: ``stedi run`` builds the lake from landing files, ``stedi verify`` checks it, ``stedi
history`` lists its runs, ``stedi report`` shows it as an HTML page, ``stedi generate`` writes landing data at any
scale; ``stedi serve`` runs an engine's own Spark Connect server for ``--remote``; ``stedi sql`` and ``stedi glue`` are
the AWS side.

A thin shell: each command parses its arguments, calls the library and prints. Problems a user can act on print
one line on stderr, with the exit code their class gives (:mod:`stedi_transforms.errors`): exit 2 for usage and
environment problems (a missing landing folder, an unwritable lake, an engine that cannot write the format, an
unreachable S3 endpoint, a lake another run is writing), exit 1 when a job fails in the engine (naming the job, the
table and the engine's own message). ``--debug`` (or ``STEDI_DEBUG=1``)
shows the full trace instead. Ctrl-C or SIGTERM stops a command within seconds with one line (exit 130 or 143; see
:mod:`stedi_transforms.signals`). Every command runs in its own process and starts its engine in it, unless given a
Spark Connect engine with ``--remote`` (or ``SPARK_REMOTE``); nothing outlives it.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TextIO

from stedi_transforms import cli_aws, cli_dq, cli_generate, cli_lake, cli_report, cli_serve, engines, settings
from stedi_transforms.engines import engine_message
from stedi_transforms.errors import FAILED, StediError
from stedi_transforms.signals import INTERRUPTED_LINE, Interrupted, interruptible


def parser() -> argparse.ArgumentParser:
    stedi = argparse.ArgumentParser(prog="stedi", description=__doc__.splitlines()[0])
    stedi.add_argument("--debug", action="store_true", help="show the full trace of an error (or STEDI_DEBUG=1)")
    commands = stedi.add_subparsers(dest="command", required=True)
    cli_lake.add_commands(commands)
    cli_report.add_commands(commands)
    cli_generate.add_commands(commands)
    cli_aws.add_commands(commands)
    cli_dq.add_commands(commands)
    cli_serve.add_commands(commands)
    return stedi


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``stedi`` command; returns the exit code."""
    args = parser().parse_args(argv)
    with settings.read_once() as environment, interruptible(on_signal=engines.interrupt_all) as signalled:
        debug = args.debug or environment.debug
        try:
            code = _run(args, out or sys.stdout, debug, signalled)
        except Interrupted:
            pass
        except Exception:
            if not signalled():  # an error the interruption caused on its way up is the interruption
                raise
        number = signalled()
        if number is not None and not getattr(args, "stops_on_signal", False):
            print(INTERRUPTED_LINE, file=sys.stderr)
            return 128 + number
        return code


def _run(args: argparse.Namespace, out: TextIO, debug: bool, signalled: Callable[[], int | None]) -> int:
    try:
        code: int = args.handler(args, out)
    except StediError as error:  # one line, and the exit code its class gives
        return _fail(error, error.exit_code, debug, signalled)
    except Exception as error:
        message = engine_message(error)
        if message is None:
            raise
        failure = EngineFailureError(f"the {getattr(args, 'engine', 'engine')} engine failed: {message}")
        return _fail(failure, failure.exit_code, debug, signalled, error)
    return code


class EngineFailureError(StediError, RuntimeError):
    """An engine error outside a job (in ``stedi verify``, say), in one line."""

    exit_code = FAILED


def _fail(
    error: Exception, code: int, debug: bool, signalled: Callable[[], int | None], cause: Exception | None = None
) -> int:
    if signalled():  # the error is the interruption's: main says so
        return code
    if debug:
        traceback.print_exception(cause or error, file=sys.stderr)
    print(f"stedi: error: {error}", file=sys.stderr)
    return code
