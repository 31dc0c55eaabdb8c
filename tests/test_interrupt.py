"""Ctrl-C and SIGTERM: a run stops within seconds, says so in one line, and leaves a lake the next run completes.

The lake's tables survive a kill at any moment (``tests/test_lock.py``); here the signal comes as a user's Ctrl-C
does, at moments spread over a whole run (the start and imports included), and the run must end by itself.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms.generate import Plan, generate
from stedi_transforms.lake import INGESTED_TABLES, OUTPUT_TABLES, Lake
from stedi_transforms.pipeline import run
from stedi_transforms.signals import INTERRUPTED_LINE
from tests.compare import assert_same_lakes
from tests.conftest import only_on
from tests.processes import STEDI, child_environment

STOP_SECONDS = 5.0
"""The longest a run may take to end after the signal."""


@only_on("sail")
@pytest.mark.integration  # ten cold runs, signalled: in make test-integration, as the classic one below
@pytest.mark.parametrize(
    ("number", "moments"),
    [(signal.SIGINT, (0.3, 0.5, 0.65, 0.8, 0.95)), (signal.SIGTERM, (0.6,))],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_at_any_moment_stops_a_sail_run_in_seconds_and_the_next_run_completes_the_lake(
    spark: SparkSession, number: int, moments: tuple[float, ...], tmp_path: Path
) -> None:
    _signal_runs(spark, "sail", number, moments, tmp_path)


@only_on("spark")
@pytest.mark.integration  # the classic variant of the test above (a classic cold start is ten times Sail's)
def test_a_signal_at_any_moment_stops_a_classic_run_in_seconds_and_the_next_run_completes_the_lake(
    spark: SparkSession, tmp_path: Path
) -> None:
    _signal_runs(spark, "spark", signal.SIGINT, (0.45, 0.8), tmp_path)


def _stedi_run(landing: Path, lake: str, engine: str) -> subprocess.Popen[str]:
    command = [STEDI, "run", "--landing", str(landing), "--lake", lake, "--engine", engine]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_environment())


def _signal_runs(spark: SparkSession, engine: str, number: int, moments: tuple[float, ...], tmp_path: Path) -> None:
    """Runs of ``engine`` signalled at ``moments`` (fractions of an uninterrupted run) each stop within
    STOP_SECONDS with the one line and the shell's exit code, leave every table readable, and the next run leaves
    what an uninterrupted run leaves."""
    landing = tmp_path / "landing"
    generate(landing, Plan(scale=0.3, seed=1))
    started = time.perf_counter()
    whole = _stedi_run(landing, str(tmp_path / "whole"), engine)
    assert whole.wait(timeout=300) == 0
    whole_run = time.perf_counter() - started

    lake = Lake(str(tmp_path / "lake"))
    outcomes = []
    for fraction in moments:
        victim = _stedi_run(landing, lake.root, engine)
        time.sleep(whole_run * fraction)
        victim.send_signal(number)
        signalled = time.perf_counter()
        try:
            _, err = victim.communicate(timeout=60)
        finally:
            victim.kill()
        stopped = time.perf_counter() - signalled
        if victim.returncode == 0:  # it had finished: the run was quicker this time
            continue
        outcomes.append((victim.returncode, err.splitlines()[-1], "Traceback" in err, stopped <= STOP_SECONDS))
        for table in (*INGESTED_TABLES, *OUTPUT_TABLES):  # whatever the moment, a table that exists reads
            if lake.exists(table):
                lake.read(spark, table).collect()
    assert outcomes, f"every run finished before its signal (a whole run took {whole_run:.1f} s)"
    assert outcomes == [(128 + number, INTERRUPTED_LINE, False, True)] * len(outcomes)

    survivor = _stedi_run(landing, lake.root, engine)
    _, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err
    reference = Lake(str(tmp_path / "reference"))
    run(spark, str(landing), reference)
    assert_same_lakes(spark, lake, reference)
