"""The whole pipeline on the fixtures, on both engines and in every format the engine can write here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from stedi_transforms.engines import local_frame
from stedi_transforms.lake import (
    CUSTOMER_TRUSTED,
    INGESTED_TABLES,
    MACHINE_LEARNING_CURATED,
    OUTPUT_TABLES,
    Lake,
    Table,
)
from stedi_transforms.pipeline import JOBS, LandingError, Settings, check_landing, lake_rows, run
from stedi_transforms.transforms import Options
from stedi_transforms.verify import FileCounts, count_tables, verify
from tests.compare import assert_lake_holds_the_expected_tables, assert_same_tables
from tests.conftest import only_on
from tests.fixture_tables import (
    ACCELEROMETER_FILES,
    BOTH_OPTIONS_MACHINE_LEARNING,
    CONSENT_CUTOFF,
    CUSTOMER_FILE,
    EXPECTED_COUNTS,
    OWNER_JOIN,
    STEP_TRAINER_FILE,
    expected_table,
)

LAKE_TABLES = (*INGESTED_TABLES, *OUTPUT_TABLES)


def versions(lake: Lake) -> dict[str, int]:
    return {table.name: len(DeltaTable(lake.path(table)).history()) for table in LAKE_TABLES}


@only_on("sail")  # which tables a run writes is the library's Python; each format's IO is tested on both in test_lake
@pytest.mark.parametrize("table_format", ["parquet", "json"])
def test_the_pipeline_writes_every_table_right_and_rewrites_them_whole(
    spark: SparkSession, engine: str, table_format: str, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path / "lake"), table_format)
    results = run(spark, fixtures_landing, lake)
    assert [result.name for result in results] == ["ingest", *[job.__name__ for job in JOBS]]
    assert_lake_holds_the_expected_tables(spark, lake)
    rerun = run(spark, fixtures_landing, lake)  # Parquet and JSON lakes are rebuilt in full, never appended to
    assert {name for result in rerun for name in result.written} == {table.name for table in LAKE_TABLES}
    assert_lake_holds_the_expected_tables(spark, lake)


@only_on("sail")  # on classic Spark, tests/test_incremental.py writes, rewrites and counts the commits
def test_a_delta_lake_is_written_once_left_alone_when_nothing_is_new_and_rebuilt_on_request(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, fixtures_landing, lake)
    assert_lake_holds_the_expected_tables(spark, lake)
    rerun = run(spark, fixtures_landing, lake)
    assert [name for result in rerun for name in result.written] == []
    assert versions(lake) == {table.name: 1 for table in LAKE_TABLES}
    run(spark, fixtures_landing, lake, Settings(full_refresh=True))
    assert versions(lake) == {table.name: 2 for table in LAKE_TABLES}
    assert_lake_holds_the_expected_tables(spark, lake)


@only_on("sail")  # verify on classic Spark: the ML options' classic test below, and the real-data acceptance test
def test_verify_counts_every_table_and_passes_every_check(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path / "lake"), "parquet")
    run(spark, fixtures_landing, lake)
    report = verify(spark, lake, fixtures_landing)
    assert report.counts == EXPECTED_COUNTS
    assert [check.name for check in report.checks if not check.passed] == []
    assert len(report.checks) == 13
    assert [result.rule for results in report.rules.values() for result in results if not result.passed] == []
    assert sorted(report.rules) == sorted(table.name for table in OUTPUT_TABLES)
    assert report.info == {"customer_landing_without_consent": 11}
    assert count_tables(spark, lake) == EXPECTED_COUNTS
    assert lake_rows(spark, lake) == EXPECTED_COUNTS  # as recorded when each table was written


@only_on("sail")  # the state is the library's own Python
def test_a_lake_whose_state_has_no_rows_is_counted(spark: SparkSession, fixtures_landing: str, tmp_path: Path) -> None:
    """A state written before the rows were recorded: its tables are counted, once."""
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, fixtures_landing, lake)
    state = tmp_path / "lake" / "_stedi" / "state.json"
    raw = json.loads(state.read_text())
    del raw["rows"]
    state.write_text(json.dumps(raw))
    assert lake_rows(spark, lake) == EXPECTED_COUNTS
    assert json.loads(state.read_text())["rows"] == {  # recorded now, for the runs to come
        name.replace("_landing", "_ingested"): rows for name, rows in EXPECTED_COUNTS.items()
    }


@only_on("sail")
def test_verify_finds_a_broken_table(spark: SparkSession, fixtures_landing: str, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"), "parquet")
    run(spark, fixtures_landing, lake)
    trusted = lake.read(spark, CUSTOMER_TRUSTED)
    lake.write(trusted.unionByName(trusted), CUSTOMER_TRUSTED)
    report = verify(spark, lake, fixtures_landing)
    failed = {check.name: check.violations for check in report.checks if not check.passed}
    assert failed == {"customer_trusted_one_row_per_email": 4}
    failed_rules = {table: [r.rule for r in results if not r.passed] for table, results in report.rules.items()}
    assert {table: rules for table, rules in failed_rules.items() if rules} == {
        "customer_trusted": ['IsPrimaryKey "email"']
    }


def test_a_missing_landing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(LandingError, match="does not exist"):
        check_landing(str(tmp_path / "nowhere"))


def test_a_source_without_files_is_named(fixtures_landing: str, tmp_path: Path) -> None:
    (tmp_path / "customer" / "landing").mkdir(parents=True)
    (tmp_path / "customer" / "landing" / "customer-1.json").write_text("{}\n")
    with pytest.raises(LandingError, match="no landing files for accelerometer"):
        check_landing(str(tmp_path))


@only_on("sail")
def test_verify_counts_lines_by_file(spark: SparkSession, fixtures_landing: str, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, fixtures_landing, lake)
    assert verify(spark, lake, by_file=True).files == [
        FileCounts("accelerometer", ACCELEROMETER_FILES[0], 8, 6, 2),
        FileCounts("accelerometer", ACCELEROMETER_FILES[1], 7, 4, 3),
        FileCounts("customer", CUSTOMER_FILE, 16, 10, 6),
        FileCounts("step_trainer", STEP_TRAINER_FILE, 13, 9, 4),
    ]


@only_on("sail")
def test_verify_finds_landing_files_the_lake_has_not_ingested(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(fixtures_landing, landing)
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, str(landing), lake)
    (landing / "customer" / "landing" / "late.json").write_text("{}\n")
    (landing / STEP_TRAINER_FILE).unlink()
    failed = {check.name: check.violations for check in verify(spark, lake, str(landing)).checks if not check.passed}
    assert failed == {"customer_landing_files_ingested": 1, "step_trainer_landing_files_ingested": 1}


def expected_with(spark: SparkSession, table: Table, rows: list[tuple[object, ...]] | None) -> DataFrame:
    return local_frame(spark, rows, table.schema) if rows is not None else expected_table(spark, table)


def assert_options_give(
    spark: SparkSession,
    options: Options,
    changed: dict[str, list[tuple[object, ...]]],
    landing: str,
    folder: Path,
    table_format: str = "delta",
) -> None:
    lake = Lake(str(folder / "lake"), table_format)
    run(spark, landing, lake, Settings(options=options))
    assert_same_tables(
        (table, lake.read(spark, table), expected_with(spark, table, changed.get(table.name)))
        for table in OUTPUT_TABLES
    )
    report = verify(spark, lake)
    failed_rules = [result.rule for results in report.rules.values() for result in results if not result.passed]
    assert (report.options, [check.name for check in report.checks if not check.passed], failed_rules) == (
        {"ml_join": options.ml_join, "consent_cutoff": "on" if options.consent_cutoff else "off"},
        [],
        [],
    )


BOTH_OPTIONS = {**CONSENT_CUTOFF, "machine_learning_curated": BOTH_OPTIONS_MACHINE_LEARNING}


@only_on("sail")  # classic Spark runs the two together below, and each alone in test_transforms
@pytest.mark.parametrize(
    ("options", "changed"),
    [
        (Options(ml_join="owner"), {"machine_learning_curated": OWNER_JOIN}),
        (Options(consent_cutoff=True), CONSENT_CUTOFF),
        (Options(ml_join="owner", consent_cutoff=True), BOTH_OPTIONS),
    ],
    ids=["owner join", "consent cutoff", "both"],
)
def test_each_ml_option_alone_and_together_gives_the_rows_written_here(
    spark: SparkSession,
    options: Options,
    changed: dict[str, list[tuple[object, ...]]],
    fixtures_landing: str,
    tmp_path: Path,
) -> None:
    assert_options_give(spark, options, changed, fixtures_landing, tmp_path)


@only_on("spark")
def test_the_ml_options_together_give_the_rows_written_here_on_classic_spark(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    # In Parquet, the cheaper format on classic Spark: the options change rows, whatever the format holds them.
    options = Options(ml_join="owner", consent_cutoff=True)
    assert_options_give(spark, options, BOTH_OPTIONS, fixtures_landing, tmp_path, "parquet")


@only_on("sail")  # which tables a run rebuilds is the library's own Python, the same on both engines
def test_a_run_with_other_options_rebuilds_what_they_change(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, fixtures_landing, lake)
    owner = run(spark, fixtures_landing, lake, Settings(options=Options(ml_join="owner")))
    assert [name for result in owner for name in result.written] == ["machine_learning_curated"]
    cutoff = run(spark, fixtures_landing, lake, Settings(options=Options(ml_join="owner", consent_cutoff=True)))
    assert [name for result in cutoff for name in result.written] == [
        "accelerometer_trusted",
        "customer_curated",
        "step_trainer_trusted",
        "machine_learning_curated",
    ]
    assert_df_equality(
        lake.read(spark, MACHINE_LEARNING_CURATED),
        local_frame(spark, BOTH_OPTIONS_MACHINE_LEARNING, MACHINE_LEARNING_CURATED.schema),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert [name for result in run(spark, fixtures_landing, lake) for name in result.written] == [
        "accelerometer_trusted",
        "customer_curated",
        "step_trainer_trusted",
        "machine_learning_curated",
    ]
    assert_lake_holds_the_expected_tables(spark, lake)
