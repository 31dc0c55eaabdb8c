"""The landing reader on both engines: what it accepts, what it quarantines and why, and that nothing is lost."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from stedi_transforms.reader import landing_path, parse_lines, read_landing
from stedi_transforms.schemas import ACCELEROMETER, ACCELEROMETER_SCHEMA, REJECTED_SCHEMA, STEP_TRAINER
from tests.fixture_tables import EXPECTED

CANONICAL = '{"user":"ada@stedi.test","timestamp":1700000001000,"x":0.1,"y":0.2,"z":0.3}'
SPACED = '{"user": "ada@stedi.test", "timestamp": 1700000002000, "x": 1, "y": 0.0, "z": -1.5}'


def text(spark: SparkSession, lines: list[str]) -> DataFrame:
    return spark.createDataFrame([(line,) for line in lines], "value string")


def assert_same_rows(actual: DataFrame, expected: DataFrame) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_canonical_and_other_spacings_are_read_alike(spark: SparkSession) -> None:
    landing = parse_lines(text(spark, [CANONICAL, SPACED]), ACCELEROMETER)
    expected = spark.createDataFrame(
        [("ada@stedi.test", 1700000001000, 0.1, 0.2, 0.3), ("ada@stedi.test", 1700000002000, 1.0, 0.0, -1.5)],
        ACCELEROMETER_SCHEMA,
    )
    assert_same_rows(landing.accepted, expected)
    assert_same_rows(landing.rejected, spark.createDataFrame([], REJECTED_SCHEMA))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            '{"user":"ada@stedi.test","timestamp":"abc","x":1.0,"y":1.0,"z":1.0}',
            "timestamp: expected bigint, got string",
        ),
        (
            '{"user":"ada@stedi.test","timestamp":1700000001000,"x":"0.1","y":0.2,"z":0.3}',
            "x: expected double, got string",
        ),
        ('{"timestamp":1700000001000,"x":0.0,"y":0.0,"z":0.0}', "user: missing key field"),
        ('{"user":null,"timestamp":1700000001000,"x":0.0,"y":0.0,"z":0.0}', "user: missing key field"),
        (
            '{"user":"ada@stedi.test","timestamp":1700000001000.5,"x":0,"y":0,"z":0}',
            "timestamp: expected bigint, got number",
        ),
        ('{"user":42,"timestamp":1700000001000,"x":0.0,"y":0.0,"z":0.0}', "user: expected string, got integer"),
        (
            '{"user":"ada@stedi.test","timestamp":true,"x":0.0,"y":0.0,"z":0.0}',
            "timestamp: expected bigint, got boolean",
        ),
        ("user=ada timestamp=1", "malformed JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"user":"ada@stedi.test","timestamp":1700000001000,"x":NaN,"y":0.0,"z":0.0}', "malformed JSON"),
        ('{"user":"ada@stedi.test","timestamp":1700000001000,"x":0.0,"y":Infinity,"z":0.0}', "malformed JSON"),
        ("{'user':'ada@stedi.test','timestamp':1700000001000,'x':0.0,'y':0.0,'z':0.0}", "malformed JSON"),
    ],
)
def test_a_bad_line_is_quarantined_with_its_text_and_reason(spark: SparkSession, line: str, reason: str) -> None:
    landing = parse_lines(text(spark, [CANONICAL, line]), ACCELEROMETER)
    assert_same_rows(landing.rejected, spark.createDataFrame([(line, reason)], REJECTED_SCHEMA))


def test_blank_lines_are_skipped_and_not_counted(spark: SparkSession) -> None:
    landing = parse_lines(text(spark, ["", "   ", "\t \r", CANONICAL]), ACCELEROMETER)
    assert_same_rows(landing.parsed.select("line"), spark.createDataFrame([(CANONICAL,)], "line string"))


def test_unknown_fields_are_dropped_from_accepted_records(spark: SparkSession) -> None:
    line = '{"sensorReadingTime":7,"serialNumber":"dev-ada","distanceFromObject":3,"firmware":"2.1"}'
    landing = parse_lines(text(spark, [line]), STEP_TRAINER)
    expected = spark.createDataFrame([(7, "dev-ada", 3)], STEP_TRAINER.schema)
    assert_same_rows(landing.accepted, expected)


def test_the_landing_table_has_a_row_for_every_line(spark: SparkSession) -> None:
    landing = parse_lines(text(spark, [CANONICAL, "not json", ""]), ACCELEROMETER)
    expected = spark.createDataFrame(
        [("ada@stedi.test", 1700000001000, 0.1, 0.2, 0.3), (None, None, None, None, None)], ACCELEROMETER_SCHEMA
    )
    assert_same_rows(landing.table, expected)


def test_landing_files_are_found_as_in_the_bucket() -> None:
    assert landing_path("s3://stedi-lake/", ACCELEROMETER) == "s3://stedi-lake/accelerometer/landing/*.json"


def test_the_fixture_accelerometer_files_are_read_whole(spark: SparkSession, fixtures_landing: str) -> None:
    landing = read_landing(spark, fixtures_landing, ACCELEROMETER)
    accepted = [
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
    assert_same_rows(landing.accepted, spark.createDataFrame(accepted, ACCELEROMETER_SCHEMA))
    assert_same_rows(landing.rejected, spark.createDataFrame(EXPECTED["accelerometer_rejected"], REJECTED_SCHEMA))
