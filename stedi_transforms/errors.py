"""The one error model: every problem a user can act on is a :class:`StediError`, told in one line.

Each module raises its own subclass where a caller acts differently on it (a lake another run holds is tried again
by ``--watch``; a job's failure names the job and the table), and the subclass says what the ``stedi`` command exits
with; the command maps an error to its exit code by that alone (:mod:`stedi_transforms.cli`). This module imports
nothing of the package, so any module may use it.
"""

from __future__ import annotations

from typing import ClassVar

USAGE = 2
"""The exit code of a problem of usage or environment: a missing landing folder, an unwritable lake, an engine that
cannot write the format, an unreachable S3 endpoint, a lake another run is writing."""

FAILED = 1
"""The exit code of work that failed: a job in the engine, an engine error outside a job, a failed data check."""


class StediError(Exception):
    """A problem the user can act on: ``str(error)`` is its one line, ``exit_code`` what the ``stedi`` command exits
    with (:data:`USAGE` unless a subclass says otherwise)."""

    exit_code: ClassVar[int] = USAGE
