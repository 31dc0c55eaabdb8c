"""The lake's layout and table IO: whole-table replacement, failed writes, empty tables, every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi_transforms.engines import local_frame
from stedi_transforms.lake import (
    ACCELEROMETER_INGESTED,
    ACCELEROMETER_TRUSTED,
    CUSTOMER_REJECTED,
    CUSTOMER_TRUSTED,
    DELTA_VERSION,
    OUTPUT_TABLES,
    Lake,
    Table,
    check_format,
    detect_format,
)
from tests.fixture_tables import ADA, DI, FAY


def customers(spark: SparkSession, rows: list[tuple[object, ...]]) -> DataFrame:
    return local_frame(spark, rows, CUSTOMER_TRUSTED.schema)


def assert_same_rows(actual: DataFrame, expected: DataFrame) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_tables_live_where_the_bucket_keeps_them() -> None:
    lake = Lake("s3://stedi/lake/")
    assert {table.name: lake.path(table) for table in OUTPUT_TABLES} == {
        "customer_rejected": "s3://stedi/lake/customer/rejected",
        "accelerometer_rejected": "s3://stedi/lake/accelerometer/rejected",
        "step_trainer_rejected": "s3://stedi/lake/step_trainer/rejected",
        "customer_trusted": "s3://stedi/lake/customer/trusted",
        "accelerometer_trusted": "s3://stedi/lake/accelerometer/trusted",
        "step_trainer_trusted": "s3://stedi/lake/step_trainer/trusted",
        "customer_curated": "s3://stedi/lake/customer/curated",
        "machine_learning_curated": "s3://stedi/lake/step_trainer/curated",
    }


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 'csv'; choose one of delta, parquet, json"):
        Lake("lake", "csv")
    assert check_format("json") == "json"


@pytest.mark.parametrize("table_format", ["delta", "parquet", "json"])
def test_a_write_replaces_the_whole_table(spark: SparkSession, engine: str, table_format: str, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path), table_format)
    lake.write(customers(spark, [ADA, DI]), CUSTOMER_TRUSTED)
    lake.write(customers(spark, [FAY]), CUSTOMER_TRUSTED)
    assert_same_rows(lake.read(spark, CUSTOMER_TRUSTED), customers(spark, [FAY]))
    assert detect_format(lake.path(CUSTOMER_TRUSTED)) == table_format
    assert sorted(path.name for path in (tmp_path / "customer").iterdir()) == ["trusted"]


@pytest.mark.parametrize("table_format", ["delta", "parquet", "json"])
def test_a_failed_write_leaves_the_previous_table(
    spark: SparkSession, engine: str, table_format: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path), table_format)
    lake.write(customers(spark, [ADA]), CUSTOMER_TRUSTED)
    explode = F.udf(lambda value: value // 0, "bigint")
    failing = customers(spark, [DI]).withColumn("registrationDate", explode(F.col("registrationDate")))
    with pytest.raises(Exception, match="ZeroDivisionError"):
        lake.write(failing, CUSTOMER_TRUSTED)
    assert_same_rows(lake.read(spark, CUSTOMER_TRUSTED), customers(spark, [ADA]))
    assert sorted(path.name for path in (tmp_path / "customer").iterdir()) == ["trusted"]


@pytest.mark.parametrize("table_format", ["delta", "parquet", "json"])
def test_an_empty_table_is_written_and_read_back(
    spark: SparkSession, engine: str, table_format: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path), table_format)
    empty = local_frame(spark, [], CUSTOMER_REJECTED.schema)
    lake.write(empty, CUSTOMER_REJECTED)
    assert_same_rows(lake.read(spark, CUSTOMER_REJECTED), empty)


def test_a_delta_table_exists_from_its_first_commit(spark: SparkSession, engine: str, tmp_path: Path) -> None:
    """A run killed while making a table can leave its ``_delta_log`` with only an unfinished commit file (Sail's
    name for it; classic Spark's are hidden): no table yet, and the next write makes it."""
    lake = Lake(str(tmp_path), "delta")
    log = tmp_path / "customer" / "trusted" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json#1").write_text('{"commitInfo":{"timest')
    assert not lake.exists(CUSTOMER_TRUSTED)
    lake.write(customers(spark, [ADA]), CUSTOMER_TRUSTED)
    assert lake.exists(CUSTOMER_TRUSTED)
    assert_same_rows(lake.read(spark, CUSTOMER_TRUSTED), customers(spark, [ADA]))


@pytest.mark.parametrize(
    ("name", "makes_a_version"),
    [
        ("00000000000000000000.json", True),
        ("00000000000000000010.checkpoint.parquet", True),
        ("00000000000000000010.checkpoint.0000000001.0000000002.parquet", True),
        ("00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json", True),
        ("00000000000000000000.json#1", False),  # Sail's commit before it is linked in place
        (".00000000000000000000.json.0c8f5e4f.tmp", False),  # classic Spark's
        ("00000000000000000000.crc", False),
        ("_last_checkpoint", False),
        ("_staged_commits/00000000000000000000.3a0d65cd.json", False),
    ],
)
def test_a_delta_log_file_makes_a_version_when_it_is_a_commit_or_a_checkpoint(name: str, makes_a_version: bool) -> None:
    assert bool(DELTA_VERSION.fullmatch(name)) is makes_a_version


def statistics_of_first_file(lake: Lake, table: Table) -> list[str]:
    """The columns whose statistics the first file added to a Delta table has (every one has a null count)."""
    log = Path(lake.path(table)) / "_delta_log" / "00000000000000000000.json"
    (added,) = [action["add"] for action in map(json.loads, log.read_text().splitlines()) if "add" in action]
    return sorted(json.loads(added["stats"])["nullCount"])


def test_big_delta_tables_keep_statistics_of_the_columns_they_are_read_by(
    spark: SparkSession, engine: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path), "delta")

    def one_row(table: Table) -> DataFrame:
        return local_frame(spark, [(None,) * len(table.schema)], table.schema).coalesce(1)

    lake.append(one_row(ACCELEROMETER_INGESTED), ACCELEROMETER_INGESTED)  # an append that makes the table
    lake.write(one_row(ACCELEROMETER_TRUSTED), ACCELEROMETER_TRUSTED)
    lake.write(one_row(CUSTOMER_TRUSTED), CUSTOMER_TRUSTED)
    assert {
        table.name: statistics_of_first_file(lake, table)
        for table in (ACCELEROMETER_INGESTED, ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED)
    } == {
        "accelerometer_ingested": ["file", "reason"],
        "accelerometer_trusted": ["timestamp"],
        "customer_trusted": sorted(
            [
                "customerName",
                "email",
                "phone",
                "birthDay",
                "serialNumber",
                "registrationDate",
                "lastUpdateDate",
                "shareWithResearchAsOfDate",
                "shareWithPublicAsOfDate",
                "shareWithFriendsAsOfDate",
            ]
        ),
    }


def test_a_table_can_change_format(spark: SparkSession, engine: str, tmp_path: Path) -> None:
    first, second = "delta", "parquet"
    Lake(str(tmp_path), first).write(customers(spark, [ADA]), CUSTOMER_TRUSTED)
    lake = Lake(str(tmp_path), second)
    lake.write(customers(spark, [DI]), CUSTOMER_TRUSTED)
    assert detect_format(lake.path(CUSTOMER_TRUSTED)) == second
    assert_same_rows(lake.read(spark, CUSTOMER_TRUSTED), customers(spark, [DI]))


def test_written_columns_follow_the_table_schema(spark: SparkSession, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path), "parquet")
    shuffled = customers(spark, [ADA]).select(
        "email", *[n for n in CUSTOMER_TRUSTED.schema.fieldNames() if n != "email"]
    )
    lake.write(shuffled, CUSTOMER_TRUSTED)
    assert lake.read(spark, CUSTOMER_TRUSTED).columns == CUSTOMER_TRUSTED.schema.fieldNames()


def test_a_folder_without_a_table_has_no_format(tmp_path: Path) -> None:
    assert detect_format(str(tmp_path / "missing")) is None
    assert detect_format(str(tmp_path)) is None
    assert detect_format("s3://stedi/lake/customer/trusted") is None


ODD_NAMES = ("a/O'Brien.json", "a/back\\slash.json", "a/quote\\'d.json", "a/100%_\\%\\_.json", "a/''.json")


def test_the_rows_of_files_are_replaced_whatever_their_names(spark: SparkSession, tmp_path: Path) -> None:
    """Quotes and backslashes in file names: the first two files change, the others are removed, and the file
    whose name needs no quoting keeps its rows (on Spark 3.5 as well, ``make test-spark35``)."""

    def ingested(names: tuple[str, ...], x: float) -> DataFrame:
        rows = [(name, 1, "ada@stedi.test", 1, x, 0.0, 0.0, None, None) for name in names]
        return local_frame(spark, rows, ACCELEROMETER_INGESTED.schema)

    lake = Lake(str(tmp_path))
    lake.write(ingested((*ODD_NAMES, "a/plain.json"), 1.0), ACCELEROMETER_INGESTED)
    lake.replace_files(ingested(ODD_NAMES[:2], 2.0), ACCELEROMETER_INGESTED, ODD_NAMES)
    assert_same_rows(
        lake.read(spark, ACCELEROMETER_INGESTED),
        ingested(ODD_NAMES[:2], 2.0).unionByName(ingested(("a/plain.json",), 1.0)),
    )
