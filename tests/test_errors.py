"""One error model: every error a user can act on is a StediError whose class gives the exit code, and the command
exits with that code and one line, whatever the error's module."""

from __future__ import annotations

import argparse
import io
from typing import NoReturn

import pytest

from stedi_transforms import cli
from stedi_transforms.cli_lake import UsageError
from stedi_transforms.deploy import DeployError
from stedi_transforms.engines import EngineError
from stedi_transforms.errors import StediError
from stedi_transforms.generate import GenerateError
from stedi_transforms.ledger import LedgerError
from stedi_transforms.lock import LakeBusyError, LeaseLostError
from stedi_transforms.pipeline import JobError, LandingError
from stedi_transforms.storage import PreconditionFailedError, StorageError

ERRORS: list[type[StediError]] = [
    UsageError, LandingError, EngineError, DeployError, StorageError, PreconditionFailedError, LakeBusyError,
    LeaseLostError, LedgerError, GenerateError, JobError, cli.EngineFailureError,
]  # fmt: skip


def test_each_error_says_its_exit_code_two_for_usage_and_one_for_failed_work() -> None:
    assert {error.__name__: error.exit_code for error in ERRORS} == {
        "UsageError": 2, "LandingError": 2, "EngineError": 2, "DeployError": 2, "StorageError": 2,
        "PreconditionFailedError": 2, "LakeBusyError": 2, "LeaseLostError": 2, "LedgerError": 2, "GenerateError": 2,
        "JobError": 1, "EngineFailureError": 1,
    }  # fmt: skip


class _NewError(StediError):
    """An error a module adds later: the command needs no edit to exit with its code."""

    exit_code = 3


@pytest.mark.parametrize(
    ("error", "code"), [(_NewError("a new problem"), 3), (JobError("job j failed writing t: boom"), 1)]
)
def test_the_command_exits_with_the_error_s_own_code_and_one_line(
    error: StediError, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(args: argparse.Namespace, out: io.StringIO) -> NoReturn:
        raise error

    assert cli._run(argparse.Namespace(handler=handler), io.StringIO(), False, lambda: None) == code
    assert capsys.readouterr().err == f"stedi: error: {error}\n"
