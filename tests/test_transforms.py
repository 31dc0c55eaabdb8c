"""Each zone transform on inline rows, on both engines."""

from __future__ import annotations

from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from stedi_transforms import transforms
from stedi_transforms.engines import local_frame
from stedi_transforms.schemas import (
    ACCELEROMETER_SCHEMA,
    CUSTOMER_SCHEMA,
    MACHINE_LEARNING_CURATED_SCHEMA,
    STEP_TRAINER_SCHEMA,
)


def customer(
    email: str,
    serial: str,
    registered: int,
    updated: int | None,
    research: int | None,
    name: str = "Ada Lovelace",
) -> tuple[Any, ...]:
    """A customer row; the phone, birthday and public/friends consent dates do not matter to the rules."""
    return (name, email, "5550100", "1990-12-10", serial, registered, updated, research, None, 1)


def frame(spark: SparkSession, rows: list[tuple[Any, ...]], schema: StructType | str) -> DataFrame:
    if isinstance(schema, str):  # a few columns in DDL, for the tests of columns a transform lacks
        return spark.createDataFrame(rows, schema)
    return local_frame(spark, rows, schema)


def assert_same_rows(actual: DataFrame, expected: DataFrame) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# customer_trusted


def test_customer_trusted_keeps_customers_who_consented(spark: SparkSession) -> None:
    customers = frame(
        spark,
        [customer("ada@x", "d1", 10, 10, 10), customer("bo@x", "d2", 10, 10, None), customer("cy@x", "d3", 10, 10, 0)],
        CUSTOMER_SCHEMA,
    )
    expected = frame(spark, [customer("ada@x", "d1", 10, 10, 10), customer("cy@x", "d3", 10, 10, 0)], CUSTOMER_SCHEMA)
    assert_same_rows(transforms.customer_trusted(customers), expected)


def test_a_later_record_revokes_consent(spark: SparkSession) -> None:
    customers = frame(
        spark, [customer("cy@x", "d3", 10, 100, 50), customer("cy@x", "d3", 10, 200, None)], CUSTOMER_SCHEMA
    )
    assert_same_rows(transforms.customer_trusted(customers), frame(spark, [], CUSTOMER_SCHEMA))


def test_a_later_record_grants_consent(spark: SparkSession) -> None:
    customers = frame(
        spark, [customer("di@x", "d4", 10, 300, 250), customer("di@x", "d4", 10, 100, None)], CUSTOMER_SCHEMA
    )
    expected = frame(spark, [customer("di@x", "d4", 10, 300, 250)], CUSTOMER_SCHEMA)
    assert_same_rows(transforms.customer_trusted(customers), expected)


def test_equal_update_dates_are_settled_by_the_latest_registration(spark: SparkSession) -> None:
    customers = frame(
        spark,
        [customer("ed@x", "d5", 20, 400, 400, "Ed New"), customer("ed@x", "d5", 10, 400, None, "Ed Old")],
        CUSTOMER_SCHEMA,
    )
    expected = frame(spark, [customer("ed@x", "d5", 20, 400, 400, "Ed New")], CUSTOMER_SCHEMA)
    assert_same_rows(transforms.customer_trusted(customers), expected)


def test_a_record_without_update_date_is_older_than_any_dated_one(spark: SparkSession) -> None:
    customers = frame(
        spark, [customer("fa@x", "d6", 10, None, None), customer("fa@x", "d6", 10, 5, 5)], CUSTOMER_SCHEMA
    )
    expected = frame(spark, [customer("fa@x", "d6", 10, 5, 5)], CUSTOMER_SCHEMA)
    assert_same_rows(transforms.customer_trusted(customers), expected)


def test_a_full_tie_prefers_the_record_without_consent(spark: SparkSession) -> None:
    customers = frame(
        spark, [customer("gu@x", "d7", 10, 10, 10), customer("gu@x", "d7", 10, 10, None)], CUSTOMER_SCHEMA
    )
    assert_same_rows(transforms.customer_trusted(customers), frame(spark, [], CUSTOMER_SCHEMA))


def test_exact_duplicate_customers_give_one_row(spark: SparkSession) -> None:
    customers = frame(spark, [customer("ha@x", "d8", 10, 10, 10)] * 3, CUSTOMER_SCHEMA)
    expected = frame(spark, [customer("ha@x", "d8", 10, 10, 10)], CUSTOMER_SCHEMA)
    assert_same_rows(transforms.customer_trusted(customers), expected)


def test_customer_trusted_names_the_columns_it_lacks(spark: SparkSession) -> None:
    customers = frame(spark, [("ada@x",)], "email string")
    with pytest.raises(ValueError, match=r"customers lacks columns \['customerName'"):
        transforms.customer_trusted(customers)


def test_accelerometer_trusted_names_the_columns_it_lacks(spark: SparkSession) -> None:
    readings = frame(spark, [(1000, 0.1, 0.2, 0.3)], "timestamp bigint, x double, y double, z double")
    with pytest.raises(ValueError, match=r"accelerometer lacks columns \['user'\]"):
        transforms.accelerometer_trusted(readings, frame(spark, [], CUSTOMER_SCHEMA))


def test_customer_curated_names_the_columns_it_lacks(spark: SparkSession) -> None:
    readings = frame(spark, [("ada@x",)], "email string")
    with pytest.raises(ValueError, match=r"accelerometer_trusted lacks columns \['user'\]"):
        transforms.customer_curated(frame(spark, [], CUSTOMER_SCHEMA), readings)


def test_step_trainer_trusted_names_the_columns_it_lacks(spark: SparkSession) -> None:
    customers = frame(spark, [("ada@x",)], "email string")
    with pytest.raises(ValueError, match=r"customers_curated lacks columns \['serialNumber'\]"):
        transforms.step_trainer_trusted(frame(spark, STEPS, STEP_TRAINER_SCHEMA), customers)


def test_machine_learning_curated_names_the_columns_it_lacks(spark: SparkSession) -> None:
    readings = frame(spark, [("ada@x", 0.1, 0.2, 0.3)], "user string, x double, y double, z double")
    with pytest.raises(ValueError, match=r"accelerometer_trusted lacks columns \['timestamp'\]"):
        transforms.machine_learning_curated(frame(spark, [(1000, "d1", 40)], STEP_TRAINER_SCHEMA), readings)


def test_records_without_any_dates_tie_and_the_one_without_consent_wins(spark: SparkSession) -> None:
    customers = frame(
        spark, [customer("hu@x", "d9", None, None, 7), customer("hu@x", "d9", None, None, None)], CUSTOMER_SCHEMA
    )
    assert_same_rows(transforms.customer_trusted(customers), frame(spark, [], CUSTOMER_SCHEMA))


# accelerometer_trusted

READINGS = [
    ("ada@x", 1000, 0.1, 0.2, 0.3),
    ("ada@x", 1000, 0.1, 0.2, 0.3),
    ("ada@x", 2000, 1.0, 0.0, -1.0),
    ("bo@x", 1000, 0.0, 0.0, 0.0),
    ("ADA@x", 3000, 0.5, 0.5, 0.5),
]


def test_accelerometer_trusted_keeps_readings_of_trusted_customers_once(spark: SparkSession) -> None:
    trusted = frame(spark, [customer("ada@x", "d1", 10, 10, 10)], CUSTOMER_SCHEMA)
    expected = frame(spark, [("ada@x", 1000, 0.1, 0.2, 0.3), ("ada@x", 2000, 1.0, 0.0, -1.0)], ACCELEROMETER_SCHEMA)
    actual = transforms.accelerometer_trusted(frame(spark, READINGS, ACCELEROMETER_SCHEMA), trusted)
    assert_same_rows(actual, expected)


def test_accelerometer_trusted_is_empty_without_trusted_customers(spark: SparkSession) -> None:
    trusted = frame(spark, [], CUSTOMER_SCHEMA)
    actual = transforms.accelerometer_trusted(frame(spark, READINGS, ACCELEROMETER_SCHEMA), trusted)
    assert_same_rows(actual, frame(spark, [], ACCELEROMETER_SCHEMA))


# customer_curated


def test_customer_curated_is_empty_without_readings(spark: SparkSession) -> None:
    trusted = frame(spark, [customer("ada@x", "d1", 10, 10, 10)], CUSTOMER_SCHEMA)
    readings = frame(spark, [("bo@x", 1000, 0.0, 0.0, 0.0)], ACCELEROMETER_SCHEMA)
    assert_same_rows(transforms.customer_curated(trusted, readings), frame(spark, [], CUSTOMER_SCHEMA))


def test_customer_curated_keeps_customers_with_readings_once(spark: SparkSession) -> None:
    trusted = frame(spark, [customer("ada@x", "d1", 10, 10, 10), customer("ed@x", "d5", 10, 10, 10)], CUSTOMER_SCHEMA)
    readings = frame(spark, [("ada@x", 1000, 0.1, 0.2, 0.3), ("ada@x", 2000, 1.0, 0.0, -1.0)], ACCELEROMETER_SCHEMA)
    expected = frame(spark, [customer("ada@x", "d1", 10, 10, 10)], CUSTOMER_SCHEMA)
    assert_same_rows(transforms.customer_curated(trusted, readings), expected)


# step_trainer_trusted

STEPS = [
    (1000, "d1", 40),
    (1000, "d1", 40),
    (2000, "shared", 55),
    (1000, "d2", 70),
    (2000, "d1", 38),
]


def test_step_trainer_trusted_keeps_readings_of_curated_devices_once(spark: SparkSession) -> None:
    curated = frame(
        spark,
        [customer("ada@x", "d1", 10, 10, 10), customer("fay@x", "shared", 10, 10, 10)],
        CUSTOMER_SCHEMA,
    )
    expected = frame(spark, [(1000, "d1", 40), (2000, "shared", 55), (2000, "d1", 38)], STEP_TRAINER_SCHEMA)
    actual = transforms.step_trainer_trusted(frame(spark, STEPS, STEP_TRAINER_SCHEMA), curated)
    assert_same_rows(actual, expected)


def test_a_device_shared_by_two_curated_customers_keeps_its_readings_once(spark: SparkSession) -> None:
    curated = frame(
        spark,
        [customer("fay@x", "shared", 10, 10, 10), customer("gus@x", "shared", 10, 10, 10)],
        CUSTOMER_SCHEMA,
    )
    expected = frame(spark, [(2000, "shared", 55)], STEP_TRAINER_SCHEMA)
    actual = transforms.step_trainer_trusted(frame(spark, STEPS, STEP_TRAINER_SCHEMA), curated)
    assert_same_rows(actual, expected)


def test_step_trainer_trusted_is_empty_without_curated_customers(spark: SparkSession) -> None:
    actual = transforms.step_trainer_trusted(
        frame(spark, STEPS, STEP_TRAINER_SCHEMA), frame(spark, [], CUSTOMER_SCHEMA)
    )
    assert_same_rows(actual, frame(spark, [], STEP_TRAINER_SCHEMA))


# machine_learning_curated


def test_machine_learning_curated_is_empty_when_no_moment_matches(spark: SparkSession) -> None:
    steps = frame(spark, [(1000, "d1", 40)], STEP_TRAINER_SCHEMA)
    readings = frame(spark, [("ada@x", 1001, 0.1, 0.2, 0.3)], ACCELEROMETER_SCHEMA)
    expected = frame(spark, [], MACHINE_LEARNING_CURATED_SCHEMA)
    assert_same_rows(transforms.machine_learning_curated(steps, readings), expected)


def test_machine_learning_curated_joins_readings_taken_at_the_same_moment(spark: SparkSession) -> None:
    steps = frame(spark, [(1000, "d1", 40), (2000, "d1", 38), (9000, "d1", 10)], STEP_TRAINER_SCHEMA)
    readings = frame(
        spark,
        [("ada@x", 1000, 0.1, 0.2, 0.3), ("ada@x", 2000, 1.0, 0.0, -1.0), ("fay@x", 2000, -0.4, 0.8, 0.0)],
        ACCELEROMETER_SCHEMA,
    )
    expected = frame(
        spark,
        [
            (1000, "d1", 40, 1000, 0.1, 0.2, 0.3),
            (2000, "d1", 38, 2000, 1.0, 0.0, -1.0),
            (2000, "d1", 38, 2000, -0.4, 0.8, 0.0),
        ],
        MACHINE_LEARNING_CURATED_SCHEMA,
    )
    assert_same_rows(transforms.machine_learning_curated(steps, readings), expected)


def test_machine_learning_curated_carries_no_email(spark: SparkSession) -> None:
    steps = frame(spark, [(1000, "d1", 40)], STEP_TRAINER_SCHEMA)
    readings = frame(spark, [("ada@x", 1000, 0.1, 0.2, 0.3)], ACCELEROMETER_SCHEMA)
    assert transforms.machine_learning_curated(steps, readings).columns == [
        "sensorReadingTime",
        "serialNumber",
        "distanceFromObject",
        "timestamp",
        "x",
        "y",
        "z",
    ]


# the ML table's options


def test_the_owner_join_pairs_a_device_only_with_its_owners_readings(spark: SparkSession) -> None:
    """Ada owns d1; Fay and Gus share d2, but Gus is not curated. At 2000 Ada's and Fay's phones both record."""
    curated = frame(spark, [customer("ada@x", "d1", 1, 1, 1), customer("fay@x", "d2", 1, 1, 1)], CUSTOMER_SCHEMA)
    steps = frame(spark, [(1000, "d1", 40), (2000, "d1", 38), (2000, "d2", 55), (3000, "d2", 50)], STEP_TRAINER_SCHEMA)
    readings = frame(
        spark,
        [
            ("ada@x", 1000, 0.1, 0.2, 0.3),
            ("ada@x", 2000, 1.0, 0.0, -1.0),
            ("fay@x", 2000, -0.4, 0.8, 0.0),
            ("gus@x", 3000, 0.5, 0.5, 0.5),
        ],
        ACCELEROMETER_SCHEMA,
    )
    expected = frame(
        spark,
        [
            (1000, "d1", 40, 1000, 0.1, 0.2, 0.3),
            (2000, "d1", 38, 2000, 1.0, 0.0, -1.0),
            (2000, "d2", 55, 2000, -0.4, 0.8, 0.0),
        ],
        MACHINE_LEARNING_CURATED_SCHEMA,
    )
    assert_same_rows(transforms.machine_learning_curated(steps, readings, curated, ml_join="owner"), expected)


def test_a_device_shared_by_two_curated_owners_pairs_with_both_of_their_readings(spark: SparkSession) -> None:
    curated = frame(spark, [customer("fay@x", "d2", 1, 1, 1), customer("gus@x", "d2", 1, 1, 1)], CUSTOMER_SCHEMA)
    steps = frame(spark, [(2000, "d2", 55)], STEP_TRAINER_SCHEMA)
    readings = frame(
        spark,
        [("fay@x", 2000, -0.4, 0.8, 0.0), ("gus@x", 2000, 0.5, 0.5, 0.5), ("ada@x", 2000, 1.0, 1.0, 1.0)],
        ACCELEROMETER_SCHEMA,
    )
    expected = frame(
        spark,
        [(2000, "d2", 55, 2000, -0.4, 0.8, 0.0), (2000, "d2", 55, 2000, 0.5, 0.5, 0.5)],
        MACHINE_LEARNING_CURATED_SCHEMA,
    )
    assert_same_rows(transforms.machine_learning_curated(steps, readings, curated, ml_join="owner"), expected)


def test_the_owner_join_needs_the_curated_customers(spark: SparkSession) -> None:
    steps = frame(spark, [(1000, "d1", 40)], STEP_TRAINER_SCHEMA)
    readings = frame(spark, [("ada@x", 1000, 0.1, 0.2, 0.3)], ACCELEROMETER_SCHEMA)
    with pytest.raises(ValueError, match="the owner join needs customers_curated"):
        transforms.machine_learning_curated(steps, readings, ml_join="owner")
    with pytest.raises(ValueError, match="unknown ML join 'email'; choose one of timestamp, owner"):
        transforms.Options(ml_join="email")


def test_the_consent_cutoff_keeps_readings_taken_from_consent_on(spark: SparkSession) -> None:
    """Ada consented at 2000: her reading at 1999 goes, the one at 2000 stays; Bo is not trusted at all."""
    trusted = frame(spark, [customer("ada@x", "d1", 1, 1, 2000)], CUSTOMER_SCHEMA)
    readings = frame(
        spark,
        [
            ("ada@x", 1999, 0.0, 0.0, 0.0),
            ("ada@x", 2000, 1.0, 0.0, 0.0),
            ("ada@x", 2000, 1.0, 0.0, 0.0),
            ("bo@x", 3000, 1.0, 1.0, 1.0),
        ],
        ACCELEROMETER_SCHEMA,
    )
    expected = frame(spark, [("ada@x", 2000, 1.0, 0.0, 0.0)], ACCELEROMETER_SCHEMA)
    assert_same_rows(transforms.accelerometer_trusted(readings, trusted, consent_cutoff=True), expected)


def test_the_consent_cutoff_keeps_a_devices_readings_from_its_first_owners_consent_on(spark: SparkSession) -> None:
    """d2 is shared by Fay (consent at 5000) and Gus (at 3000): from 3000 on its readings have a consenting owner."""
    curated = frame(
        spark,
        [customer("ada@x", "d1", 1, 1, 2000), customer("fay@x", "d2", 1, 1, 5000), customer("gus@x", "d2", 1, 1, 3000)],
        CUSTOMER_SCHEMA,
    )
    steps = frame(
        spark,
        [(1999, "d1", 1), (2000, "d1", 2), (2999, "d2", 3), (3000, "d2", 4), (9000, "d3", 5)],
        STEP_TRAINER_SCHEMA,
    )
    expected = frame(spark, [(2000, "d1", 2), (3000, "d2", 4)], STEP_TRAINER_SCHEMA)
    assert_same_rows(transforms.step_trainer_trusted(steps, curated, consent_cutoff=True), expected)
