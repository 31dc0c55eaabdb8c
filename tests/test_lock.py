"""One writer per lake, and a killed run that leaves every table readable and the next run repairing the lake.

These run ``stedi`` as separate processes, as users start them; on Sail only: the lock and the ledger are the
library's own Python, the same for both engines, and a classic Spark process takes ten times longer to start.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms import ledger
from stedi_transforms.lake import INGESTED_TABLES, OUTPUT_TABLES, Lake
from stedi_transforms.lock import LakeBusyError, lake_lock
from stedi_transforms.pipeline import lake_rows, run
from tests.compare import assert_lake_holds_the_expected_tables
from tests.conftest import only_on
from tests.fixture_tables import EXPECTED_COUNTS
from tests.processes import STEDI, child_environment


def stedi_process(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [STEDI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_environment()
    )


def test_a_second_writer_stops_at_once_naming_the_first(fixtures_landing: str, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with lake_lock(str(lake), "run-one", "stedi run"):
        started = time.perf_counter()
        second = stedi_process("run", "--landing", fixtures_landing, "--lake", str(lake))
        _, err = second.communicate(timeout=60)
        seconds = time.perf_counter() - started
        with pytest.raises(LakeBusyError, match="is being written by run run-one"), lake_lock(str(lake), "two", "x"):
            pass
    assert second.returncode == 2
    last = err.splitlines()[-1]
    assert last.startswith(
        f"stedi: error: lake {lake} is being written by run run-one (stedi run, pid {os.getpid()} on "
    )
    assert last.endswith("; run again when it has finished")
    assert "Traceback" not in err
    assert seconds < 10  # it did not wait for the first


@only_on("sail")
def test_two_runs_started_together_never_duplicate_a_row(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    runs = [stedi_process("run", "--landing", fixtures_landing, "--lake", str(lake)) for _ in range(2)]
    outcomes = [(run.wait(timeout=120), run.stderr.read() if run.stderr else "") for run in runs]
    assert sorted(code for code, _ in outcomes) in ([0, 0], [0, 2])
    assert all("is being written by run" in err for code, err in outcomes if code == 2)
    assert_lake_holds_the_expected_tables(spark, Lake(str(lake)))


@only_on("sail")
@pytest.mark.integration  # seven cold runs, five of them killed; the kills at chosen moments below are in make test
def test_a_run_killed_at_any_moment_leaves_readable_tables_and_the_next_run_repairs_the_lake(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    started = time.perf_counter()
    assert stedi_process("run", "--landing", fixtures_landing, "--lake", str(tmp_path / "timed")).wait(120) == 0
    whole_run = time.perf_counter() - started
    lake = Lake(str(tmp_path / "lake"))
    for fraction in (0.35, 0.5, 0.65, 0.8, 0.95):  # start-up takes the first third or so
        victim = stedi_process("run", "--landing", fixtures_landing, "--lake", lake.root, "--full-refresh")
        time.sleep(whole_run * fraction)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        for table in (*INGESTED_TABLES, *OUTPUT_TABLES):  # whatever the moment, a table that exists reads
            if lake.exists(table):
                lake.read(spark, table).collect()
    survivor = stedi_process("run", "--landing", fixtures_landing, "--lake", lake.root)
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, f"after kills in a run of {whole_run:.2f} s: {err}"
    assert_lake_holds_the_expected_tables(spark, lake)
    assert lake_rows(spark, lake) == EXPECTED_COUNTS  # the recorded rows were repaired too


@only_on("sail")  # the state is the library's own Python, the same for both engines
def test_sources_ingested_side_by_side_never_change_the_state_while_one_of_them_saves_it(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sources are ingested in threads, and each saves the lake's state. From a state without a ledger for
    some source (here: the customer source's only), a thread could add that ledger while another was saving the
    state, and the run died of "dictionary changed size during iteration". Saving is slowed here so that the two
    would always overlap."""
    lake = Lake(str(tmp_path / "lake"))
    run(spark, fixtures_landing, lake)
    state = tmp_path / "lake" / ledger.STATE
    saved = json.loads(state.read_text())
    saved["sources"] = {"customer": saved["sources"]["customer"]}
    state.write_text(json.dumps(saved))
    for entity in ("accelerometer", "step_trainer"):  # as if never ingested
        shutil.rmtree(tmp_path / "lake" / entity / "ingested")

    def slowly(entry: ledger.IngestedFile) -> dict[str, object]:
        time.sleep(0.05)
        return dataclasses.asdict(entry)

    monkeypatch.setattr(ledger, "asdict", slowly)
    run(spark, fixtures_landing, lake)
    assert_lake_holds_the_expected_tables(spark, lake)


@only_on("sail")  # the unfinished commit file is Sail's (classic Spark's are hidden); test_lake checks both engines
def test_a_run_killed_while_making_a_table_leaves_one_that_the_next_run_makes(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    """A run killed between the start and the end of a table's first commit leaves its ``_delta_log`` holding only
    the unfinished commit file, and the state naming the files whose rows it was writing. CI once saw the next run
    take that folder for the table and fail reading it (no commit files)."""
    lake = Lake(str(tmp_path / "lake"))
    run(spark, fixtures_landing, lake)
    state = tmp_path / "lake" / ledger.STATE
    saved = json.loads(state.read_text())
    customer = saved["sources"]["customer"]
    customer["files"], customer["pending"] = {}, sorted(customer["files"])
    state.write_text(json.dumps(saved))
    shutil.rmtree(tmp_path / "lake" / "customer" / "ingested")
    log = tmp_path / "lake" / "customer" / "ingested" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json#1").write_text('{"commitInfo":{"timest')
    run(spark, fixtures_landing, lake)
    assert_lake_holds_the_expected_tables(spark, lake)
    assert lake_rows(spark, lake) == EXPECTED_COUNTS


@only_on("sail")  # the ledger is the library's own Python, the same for both engines
def test_a_full_refresh_killed_while_ingesting_leaves_files_that_the_next_run_parses_again(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    """A full refresh marks every file pending before it writes, each as the ledger already has it. The next run
    took such files for unchanged: it dropped their rows and parsed none, and left the source's tables empty (the
    kill test caught it)."""
    lake = Lake(str(tmp_path / "lake"))
    run(spark, fixtures_landing, lake)
    state = tmp_path / "lake" / ledger.STATE
    saved = json.loads(state.read_text())
    customer = saved["sources"]["customer"]
    customer["pending"] = sorted(customer["files"])
    state.write_text(json.dumps(saved))
    run(spark, fixtures_landing, lake)
    assert_lake_holds_the_expected_tables(spark, lake)
    assert lake_rows(spark, lake) == EXPECTED_COUNTS
