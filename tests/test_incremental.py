"""Incremental runs: after any change of the landing files, the lake equals a full rebuild from the landing as it is
now, on both engines; consent revoked or granted in a new customer file reaches every table."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from stedi_transforms import ledger
from stedi_transforms.cli import main
from stedi_transforms.lake import INGESTED_TABLES, OUTPUT_TABLES, Lake
from stedi_transforms.pipeline import JobResult, Settings, lake_rows, run
from stedi_transforms.signals import INTERRUPTED_LINE
from stedi_transforms.storage import Store
from stedi_transforms.transforms import Options
from stedi_transforms.verify import count_tables
from tests.compare import assert_same_tables
from tests.conftest import only_on
from tests.landing_sets import T, reading, write_files
from tests.processes import STEDI, child_environment, stedi_serve

LAKE_TABLES = (*INGESTED_TABLES, *OUTPUT_TABLES)


def customer(name: str, updated: int, consent: int | None, device: str | None = None) -> str:
    record = {
        "customerName": name.title(),
        "email": f"{name}@stedi.test",
        "phone": "555",
        "birthDay": "1990-01-01",
        "serialNumber": device or f"dev-{name}",
        "registrationDate": T,
        "lastUpdateDate": T + updated,
        "shareWithResearchAsOfDate": consent,
        "shareWithPublicAsOfDate": None,
        "shareWithFriendsAsOfDate": None,
    }
    return json.dumps(record)


def step(device: str, offset: int, distance: int) -> str:
    return f'{{"sensorReadingTime":{T + offset},"serialNumber":"{device}","distanceFromObject":{distance}}}'


def lines(*records: str) -> bytes:
    return ("\n".join(records) + "\n").encode()


C, A, S = "customer/landing", "accelerometer/landing", "step_trainer/landing"
FIRST = {
    f"{C}/customers-1.json": lines(customer("ada", 0, T), customer("bo", 0, None), customer("cy", 0, T)),
    f"{A}/2023/08/06/readings-1.json": lines(reading("ada@stedi.test", 1), reading("bo@stedi.test", 1)),
    f"{A}/2023/08/06/readings-2.json": lines(reading("cy@stedi.test", 2), reading("ada@stedi.test", 2)),
    f"{S}/steps-1.json": lines(step("dev-ada", 1, 40), step("dev-bo", 1, 50), step("dev-cy", 2, 60)),
}


def assert_same_lake(spark: SparkSession, incremental: Lake, rebuilt: Lake) -> None:
    assert_same_tables((table, incremental.read(spark, table), rebuilt.read(spark, table)) for table in LAKE_TABLES)


def run_and_compare(
    spark: SparkSession, landing: Path, lake: Lake, scratch: Path, settings: Settings | None = None
) -> list[JobResult]:
    """An incremental run into ``lake``, then a full rebuild into a fresh lake: the two must hold the same rows."""
    settings = settings or Settings()
    results = run(spark, str(landing), lake, settings)
    assert lake_rows(spark, lake) == count_tables(spark, lake)  # the rows recorded at each write, as a scan finds
    # The rebuild's format does not matter to the rows, and Parquet is the cheaper one on classic Spark.
    rebuilt = Lake(str(scratch / f"rebuilt-{len(list(scratch.glob('rebuilt-*')))}"), "parquet")
    run(spark, str(landing), rebuilt, settings)
    assert_same_lake(spark, lake, rebuilt)
    return results


def written(results: list[JobResult]) -> set[str]:
    return {name for result in results for name in result.written}


def _change_every_way(landing: Path) -> None:
    write_files(
        landing,
        {
            # new readings, one of them a copy of an old line
            f"{A}/2023/08/07/readings-3.json": lines(reading("ada@stedi.test", 3), reading("ada@stedi.test", 1)),
            # an old file rewritten: same size, other content
            f"{A}/2023/08/06/readings-1.json": lines(reading("ada@stedi.test", 7), reading("bo@stedi.test", 8)),
            # cy revokes, bo grants: bo's readings sit in an unchanged file
            f"{C}/customers-2.json": lines(customer("cy", 10, None), customer("bo", 10, T + 5)),
            # a step-trainer file with a bad line
            f"{S}/steps-2.json": lines(step("dev-ada", 3, 41), '{"serialNumber":1}'),
        },
    )
    (landing / A / "2023/08/06/readings-2.json").unlink()  # a file removed


EVERY_WAY_WRITTEN = {table.name for table in LAKE_TABLES} - {"customer_rejected"}
"""The tables those changes write: all but the customers' quarantine, which the new customer file, with no bad line,
leaves as it is."""


@only_on("sail")  # on classic Spark, the test below makes the same changes and compares with Sail's full rebuild
def test_every_kind_of_landing_change_leaves_what_a_full_rebuild_leaves(spark: SparkSession, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, str(landing), lake)
    assert written(run(spark, str(landing), lake)) == set()  # nothing new: nothing written
    _change_every_way(landing)
    assert written(run_and_compare(spark, landing, lake, tmp_path)) == EVERY_WAY_WRITTEN


def _appended_or_rewritten(lake: Lake, tables: set[str]) -> dict[str, str]:
    """How each of ``tables`` was last written, as its Delta log says: Append or Overwrite."""
    by_name = {table.name: table for table in LAKE_TABLES}
    return {name: DeltaTable(lake.path(by_name[name])).history(1)[0]["operationParameters"]["mode"] for name in tables}


NEW_ROWS_FIRST = FIRST | {
    f"{C}/customers-dy.json": lines(customer("dy", 0, T + 4)),  # consents at T + 4, no readings yet
    f"{S}/steps-dy.json": lines(step("dev-dy", 1, 70), step("dev-dy", 5, 71)),
}
NEW_READINGS = {
    # dy's first readings (dy becomes curated, and dev-dy's steps trusted), a copy of an old line, a reading at
    # the moment of a dev-dy step, and one of no customer
    f"{A}/2023/08/08/readings-4.json": lines(
        reading("dy@stedi.test", 3),
        reading("dy@stedi.test", 5),
        reading("ada@stedi.test", 1),
        reading("ada@stedi.test", 5, x=1.0),
        reading("zed@stedi.test", 5),
    ),
}
NEW_STEPS = {
    # a reading of a curated customer's device at the moment of two readings, one of a device nobody curated
    # owns, and a bad line
    f"{S}/steps-3.json": lines(step("dev-ada", 2, 45), step("dev-bo", 5, 55), '{"serialNumber":1}'),
}


READINGS_REACH = {
    "accelerometer_ingested", "accelerometer_trusted", "customer_curated", "step_trainer_trusted",
    "machine_learning_curated",
}  # fmt: skip
STEPS_REACH = {"step_trainer_ingested", "step_trainer_rejected", "step_trainer_trusted", "machine_learning_curated"}


def appended(tables: set[str]) -> dict[str, str]:
    """How a run that only gained rows writes ``tables``: an ingested table and its quarantine take a new file's
    rows by replacing that file's rows (an Overwrite with a predicate), never by appending them; the others
    append."""
    return {name: "Overwrite" if name.endswith(("_ingested", "_rejected")) else "Append" for name in tables}


# On classic Spark, the engines' interop test below appends the same new readings, with the defaults (and Sail the
# new steps to the tables classic Spark wrote); the options' rules are the transforms', tested on both engines.
@only_on("sail")
@pytest.mark.parametrize(
    "options",
    [Options(), Options(consent_cutoff=True), Options(ml_join="owner")],
    ids=["defaults", "cutoff", "owner"],
)
def test_new_rows_are_appended_downstream_and_leave_what_a_full_rebuild_leaves(
    spark: SparkSession, tmp_path: Path, options: Options
) -> None:
    landing = tmp_path / "landing"
    write_files(landing, NEW_ROWS_FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    settings = Settings(options=options)
    run(spark, str(landing), lake, settings)

    write_files(landing, NEW_READINGS)
    assert written(run_and_compare(spark, landing, lake, tmp_path, settings)) == READINGS_REACH
    # The ML table built by the owner join is rebuilt: its pairs go through the curated customers.
    ml_mode = "Overwrite" if options.ml_join == "owner" else "Append"
    assert _appended_or_rewritten(lake, READINGS_REACH) == appended(READINGS_REACH) | {
        "machine_learning_curated": ml_mode
    }

    write_files(landing, NEW_STEPS)
    assert written(run_and_compare(spark, landing, lake, tmp_path, settings)) == STEPS_REACH
    assert _appended_or_rewritten(lake, STEPS_REACH) == appended(STEPS_REACH) | {"machine_learning_curated": ml_mode}
    assert written(run(spark, str(landing), lake, settings)) == set()


@only_on("sail")  # which tables a run rebuilds is the library's own Python; the comparisons above run on both
def test_consent_reaches_every_table(spark: SparkSession, tmp_path: Path) -> None:
    """cy's readings sit in an old, unchanged file when a new customer file revokes cy's consent."""
    landing = tmp_path / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, str(landing), lake)
    write_files(landing, {f"{C}/customers-2.json": lines(customer("cy", 10, None), customer("bo", 10, T + 5))})
    run(spark, str(landing), lake)
    tables = {table.name: lake.read(spark, table) for table in OUTPUT_TABLES}
    assert {
        "customer_trusted": {row.email for row in tables["customer_trusted"].collect()},
        "accelerometer_trusted": {row.user for row in tables["accelerometer_trusted"].collect()},
        "customer_curated": {row.email for row in tables["customer_curated"].collect()},
        "step_trainer_trusted": {row.serialNumber for row in tables["step_trainer_trusted"].collect()},
        "machine_learning_curated": {row.serialNumber for row in tables["machine_learning_curated"].collect()},
    } == {
        "customer_trusted": {"ada@stedi.test", "bo@stedi.test"},
        "accelerometer_trusted": {"ada@stedi.test", "bo@stedi.test"},
        "customer_curated": {"ada@stedi.test", "bo@stedi.test"},
        "step_trainer_trusted": {"dev-ada", "dev-bo"},
        "machine_learning_curated": {"dev-ada", "dev-bo"},
    }


@only_on("sail")  # a property over many landing histories: each example is several runs, cheap only on Sail
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "rewrite", "remove", "customer", "steps"]),
            st.integers(min_value=0, max_value=3),
            st.integers(min_value=0, max_value=5),
        ),
        min_size=2,
        max_size=4,
    )
)
def test_any_history_of_changes_leaves_what_a_full_rebuild_leaves(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[str, int, int]]
) -> None:
    scratch = tmp_path_factory.mktemp("history")
    landing = scratch / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(scratch / "lake"), "delta")
    run(spark, str(landing), lake)
    for kind, slot, value in changes:
        path = f"{A}/2023/08/0{slot + 6}/readings-{slot}.json"
        if kind == "add" or kind == "rewrite":
            user = ["ada", "bo", "cy", "dy"][value % 4]
            write_files(landing, {path: lines(reading(f"{user}@stedi.test", value), reading("ada@stedi.test", slot))})
        elif kind == "remove" and (landing / path).exists():
            (landing / path).unlink()
        elif kind == "customer":
            name = ["ada", "bo", "cy", "dy"][slot]
            consent = None if value % 2 else T + value
            write_files(landing, {f"{C}/customers-{slot + 2}.json": lines(customer(name, 10 + value, consent))})
        elif kind == "steps":  # readings of a device at the moments of some accelerometer readings
            device = ["dev-ada", "dev-bo", "dev-cy", "dev-dy"][value % 4]
            write_files(landing, {f"{S}/steps-{slot + 2}.json": lines(step(device, value, 40), step(device, slot, 41))})
        run_and_compare(spark, landing, lake, scratch)
    shutil.rmtree(scratch)


@only_on("sail")  # the state file is the library's own Python, the same on both engines
def test_a_run_stopped_after_writing_rows_and_before_the_ledger_does_not_count_them_twice(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, str(landing), lake)
    write_files(landing, {f"{A}/2023/08/07/readings-3.json": lines(reading("ada@stedi.test", 3))})

    saves = 0
    real_save = ledger.save_state

    def save_then_stop(store: Store, state: ledger.LakeState) -> None:
        nonlocal saves
        saves += 1
        if saves == 2:  # the first save marks the file pending; the second would record it ingested
            raise KeyboardInterrupt("killed")
        real_save(store, state)

    monkeypatch.setattr("stedi_transforms.pipeline.save_state", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run(spark, str(landing), lake)
    monkeypatch.undo()
    run_and_compare(spark, landing, lake, tmp_path)


@only_on("spark")  # it drives Sail in child processes: Sail starts in a second where a JVM takes ten
@pytest.mark.integration  # a Sail server beside the classic session, and eight runs: in make test-integration
def test_the_engines_share_a_delta_lake_both_ways_and_agree_after_an_incremental_run(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A Delta lake that Sail wrote is brought up to date by classic Spark after every kind of landing change
    (reading and replacing Sail's files in every table), then once new readings landed (appending to every table
    they reach); Sail then appends new steps to the tables classic Spark wrote, and verifies the lake. The result
    equals Sail's full rebuild."""
    landing = tmp_path / "landing"
    write_files(landing, NEW_ROWS_FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    with stedi_serve("--engine", "sail") as address:  # Sail's commands below run in one server: Sail starts once
        _share_both_ways(spark, tmp_path, landing, lake, address)


def _share_both_ways(spark: SparkSession, tmp_path: Path, landing: Path, lake: Lake, address: str) -> None:
    def sail(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [STEDI, *argv, "--remote", address]
        environment = child_environment()
        return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)

    assert sail("run", "--landing", str(landing), "--lake", lake.root).returncode == 0
    _change_every_way(landing)
    assert written(run(spark, str(landing), lake)) == EVERY_WAY_WRITTEN
    write_files(landing, NEW_READINGS)
    assert written(run(spark, str(landing), lake)) == READINGS_REACH
    assert _appended_or_rewritten(lake, READINGS_REACH) == appended(READINGS_REACH)
    write_files(landing, NEW_STEPS)
    assert sail("run", "--landing", str(landing), "--lake", lake.root).returncode == 0
    assert _appended_or_rewritten(lake, STEPS_REACH) == appended(STEPS_REACH)
    verified = sail("verify", "--lake", lake.root, "--json")
    assert (verified.returncode, json.loads(verified.stdout)["passed"]) == (0, True)
    # One comparison after every run: none rebuilds what an earlier one wrote, so a wrong row of any stays.
    rebuilt = Lake(str(tmp_path / "rebuilt"), "parquet")
    assert sail("run", "--landing", str(landing), "--lake", rebuilt.root, "--format", "parquet").returncode == 0
    assert_same_lake(spark, lake, rebuilt)


def _wait_for_runs(lake: Lake, count: int, watcher: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while len(ledger.history(lake.store)) < count:
        assert watcher.poll() is None, f"the watching process stopped before run {count}"
        assert time.monotonic() < deadline, f"no run {count} from the watching process"
        time.sleep(0.05)


@only_on("sail")  # the watch loop is the command line's own Python; each of its runs is the run tested on both engines
def test_run_watch_brings_the_lake_up_to_date_as_files_land_and_stops_on_sigint(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    environment = child_environment()
    command = [STEDI, "run", "--landing", str(landing), "--lake", lake.root]
    watcher = subprocess.Popen(
        [*command, "--engine", "sail", "--watch", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        _wait_for_runs(lake, 1, watcher)
        write_files(landing, {f"{C}/customers-2.json": lines(customer("cy", 10, None), customer("bo", 10, T + 5))})
        _wait_for_runs(lake, 2, watcher)
        time.sleep(0.5)  # turns that find nothing new: no output, no record
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=60)
    # Between turns it stops watching; during a turn (every 0.1 s) it interrupts it, as it would any run.
    stopped = {0: "stedi run: stopped watching", 130: INTERRUPTED_LINE}
    assert (err.splitlines()[-1], out.count("done in "), len(ledger.history(lake.store))) == (
        stopped.get(watcher.returncode),
        2,
        2,
    )
    assert "Traceback" not in err
    rebuilt = Lake(str(tmp_path / "rebuilt"), "parquet")
    run(spark, str(landing), rebuilt)
    assert_same_lake(spark, lake, rebuilt)


def test_run_watch_takes_a_positive_number_of_seconds(tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stderr(out):
        code = main(["run", "--lake", str(tmp_path / "lake"), "--watch", "0"])
    assert (code, out.getvalue().splitlines()[-1]) == (
        2,
        "stedi: error: --watch takes a number of seconds above 0, not 0",
    )
