"""The landing reader on both engines: files as they arrive, every rule, and nothing lost."""

from __future__ import annotations

from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from stedi_transforms.engines import local_frame
from stedi_transforms.reader import accepted, landing_files, read_files, rejected
from stedi_transforms.schemas import ACCELEROMETER, ACCELEROMETER_SCHEMA, REJECTED_SCHEMA, ingested_schema
from tests.fixture_tables import EXPECTED
from tests.landing_sets import ARRIVAL_FILES, ARRIVAL_INGESTED, write_files
from tests.test_parsing import GOOD, RULES

A = "accelerometer/landing"


def assert_same_rows(actual: DataFrame, expected: DataFrame) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def ingest(spark: SparkSession, root: str) -> DataFrame:
    return read_files(spark, root, landing_files(root, ACCELEROMETER), ACCELEROMETER)


def test_files_as_they_arrive_are_read_alike_on_both_engines(spark: SparkSession, tmp_path: Path) -> None:
    root = write_files(tmp_path, ARRIVAL_FILES)
    assert_same_rows(ingest(spark, root), local_frame(spark, ARRIVAL_INGESTED, ingested_schema(ACCELEROMETER)))


def test_hidden_files_and_folders_are_not_landing_data(tmp_path: Path) -> None:
    root = write_files(tmp_path, ARRIVAL_FILES)
    assert sorted(entry.path for entry in landing_files(root, ACCELEROMETER)) == [
        f"{A}/2023/08/06/12/stedi-firehose-1-2023-08-06-12-00-00",
        f"{A}/2023/08/06/13/stedi-firehose-2.gz",
        f"{A}/2023/08/06/14/stedi-firehose-3.gz",
        f"{A}/empty.json",
        f"{A}/exported.json",
        f"{A}/latin1.json",
    ]


def test_every_rule_quarantines_its_line_with_file_line_and_reason(spark: SparkSession, tmp_path: Path) -> None:
    lines = [GOOD, *[line for line, _ in RULES]]
    root = write_files(tmp_path, {f"{A}/rules.json": "\n".join(lines).encode()})
    expected = [(f"{A}/rules.json", number, line, reason) for number, (line, reason) in enumerate(RULES, start=2)]
    assert_same_rows(rejected(ingest(spark, root)), local_frame(spark, expected, REJECTED_SCHEMA))
    accepted_rows = [("ada@stedi.test", 1700000001000, 0.1, 0.2, 0.3)]
    assert_same_rows(
        accepted(ingest(spark, root), ACCELEROMETER), local_frame(spark, accepted_rows, ACCELEROMETER_SCHEMA)
    )


def test_the_fixture_accelerometer_files_are_read_whole(spark: SparkSession, fixtures_landing: str) -> None:
    ingested = ingest(spark, fixtures_landing)
    readings = [
        ("ada@stedi.test", 1700000001000, 0.1, 0.2, 0.3),
        ("ada@stedi.test", 1700000001000, 0.1, 0.2, 0.3),
        ("ada@stedi.test", 1700000002000, 1.0, 0.0, -1.0),
        ("fay@stedi.test", 1700000002000, -0.4, 0.8, 0.0),
        ("bo@stedi.test", 1700000001000, 0.0, 0.0, 0.0),
        ("gus@stedi.test", 1700000002000, 0.3, 0.3, 0.3),
        ("ada@stedi.test", 1700000003000, 0.5, 0.5, 0.5),
        ("di@stedi.test", 1700000004000, 1.0, 2.0, 3.0),
        ("cy@stedi.test", 1700000005000, 0.9, 0.9, 0.9),
        ("ada@stedi.test", 1700000006000, -1.0, -1.0, -1.0),
    ]
    assert_same_rows(accepted(ingested, ACCELEROMETER), local_frame(spark, readings, ACCELEROMETER_SCHEMA))
    assert_same_rows(rejected(ingested), local_frame(spark, EXPECTED["accelerometer_rejected"], REJECTED_SCHEMA))


def test_no_files_give_an_empty_table(spark: SparkSession) -> None:
    assert_same_rows(
        read_files(spark, "unused", [], ACCELEROMETER), local_frame(spark, [], ingested_schema(ACCELEROMETER))
    )
