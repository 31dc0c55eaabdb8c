"""The zone transforms: pure functions, DataFrames in and a DataFrame out.

No reads, writes or actions happen here, and every join names its columns, so each function runs unchanged on
classic Spark, on Spark Connect (Sail) and on AWS Glue. Inputs are the accepted landing records
(see :mod:`stedi_transforms.reader`) or the tables these functions produce.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from stedi_transforms.schemas import (
    ACCELEROMETER_SCHEMA,
    CUSTOMER_SCHEMA,
    DISTANCE_FROM_OBJECT,
    EMAIL,
    LAST_UPDATE_DATE,
    MACHINE_LEARNING_CURATED_SCHEMA,
    REGISTRATION_DATE,
    SENSOR_READING_TIME,
    SERIAL_NUMBER,
    SHARE_WITH_RESEARCH_AS_OF_DATE,
    STEP_TRAINER_SCHEMA,
    TIMESTAMP,
    USER,
    X,
    Y,
    Z,
)

_RANK = "_rank"


def _require(df: DataFrame, columns: list[str], role: str) -> None:
    missing = [name for name in columns if name not in df.columns]
    if missing:
        raise ValueError(f"{role} lacks columns {missing}; it has {df.columns}")


def current_customers(customers: DataFrame) -> DataFrame:
    """One row per email: the record with the latest lastUpdateDate, then the latest registrationDate.

    Needs and returns the customer landing columns. Records that still tie are ordered by consent date (the one
    without consent, or the earlier grant, first) and then by every other column, so the choice is deterministic.
    """
    _require(customers, CUSTOMER_SCHEMA.fieldNames(), "customers")
    latest_first = [
        F.col(LAST_UPDATE_DATE).desc_nulls_last(),
        F.col(REGISTRATION_DATE).desc_nulls_last(),
        F.col(SHARE_WITH_RESEARCH_AS_OF_DATE).asc_nulls_first(),
        *[F.col(name).asc_nulls_first() for name in CUSTOMER_SCHEMA.fieldNames()],
    ]
    ranked = customers.withColumn(_RANK, F.row_number().over(Window.partitionBy(EMAIL).orderBy(*latest_first)))
    return ranked.filter(F.col(_RANK) == 1).select(*CUSTOMER_SCHEMA.fieldNames())


def customer_trusted(customers: DataFrame) -> DataFrame:
    """Customers who consented to research: each email's current record, kept when its
    shareWithResearchAsOfDate is not null (a later record can grant or revoke consent).

    Needs and returns the customer landing columns.

    >>> customer_trusted(landing.accepted)  # doctest: +SKIP
    """
    current = current_customers(customers)
    return current.filter(F.col(SHARE_WITH_RESEARCH_AS_OF_DATE).isNotNull())


def accelerometer_trusted(accelerometer: DataFrame, customers_trusted: DataFrame) -> DataFrame:
    """Readings whose ``user`` is the email of a trusted customer; exact duplicates kept once.

    Needs user, timestamp, x, y, z and the trusted customers' email; returns user, timestamp, x, y, z.
    """
    _require(accelerometer, ACCELEROMETER_SCHEMA.fieldNames(), "accelerometer")
    _require(customers_trusted, [EMAIL], "customers_trusted")
    consenting_users = customers_trusted.select(F.col(EMAIL).alias(USER))
    return (
        accelerometer.join(consenting_users, on=USER, how="left_semi")
        .select(*ACCELEROMETER_SCHEMA.fieldNames())
        .distinct()
    )


def customer_curated(customers_trusted: DataFrame, accelerometer_trusted: DataFrame) -> DataFrame:
    """Trusted customers with at least one trusted accelerometer reading; one row each, every customer column.

    Needs the customer columns and the readings' user; returns the customer columns.
    """
    _require(customers_trusted, CUSTOMER_SCHEMA.fieldNames(), "customers_trusted")
    _require(accelerometer_trusted, [USER], "accelerometer_trusted")
    users_with_readings = accelerometer_trusted.select(F.col(USER).alias(EMAIL))
    return customers_trusted.join(users_with_readings, on=EMAIL, how="left_semi").select(*CUSTOMER_SCHEMA.fieldNames())


def step_trainer_trusted(step_trainer: DataFrame, customers_curated: DataFrame) -> DataFrame:
    """Step-trainer readings whose serialNumber belongs to a curated customer; exact duplicates kept once.

    Needs sensorReadingTime, serialNumber, distanceFromObject and the customers' serialNumber; returns the first three.
    """
    _require(step_trainer, STEP_TRAINER_SCHEMA.fieldNames(), "step_trainer")
    _require(customers_curated, [SERIAL_NUMBER], "customers_curated")
    curated_devices = customers_curated.select(SERIAL_NUMBER)
    return (
        step_trainer.join(curated_devices, on=SERIAL_NUMBER, how="left_semi")
        .select(*STEP_TRAINER_SCHEMA.fieldNames())
        .distinct()
    )


def machine_learning_curated(step_trainer_trusted: DataFrame, accelerometer_trusted: DataFrame) -> DataFrame:
    """Each trusted step-trainer reading joined with every trusted accelerometer reading taken at the same
    moment (sensorReadingTime = timestamp, as the original design joins them). Carries no email: the
    serialNumber groups readings per device.

    Returns sensorReadingTime, serialNumber, distanceFromObject, timestamp, x, y, z.
    """
    _require(step_trainer_trusted, [SENSOR_READING_TIME, SERIAL_NUMBER, DISTANCE_FROM_OBJECT], "step_trainer_trusted")
    _require(accelerometer_trusted, [TIMESTAMP, X, Y, Z], "accelerometer_trusted")
    readings = accelerometer_trusted.select(F.col(TIMESTAMP).alias(SENSOR_READING_TIME), TIMESTAMP, X, Y, Z)
    steps = step_trainer_trusted.select(SENSOR_READING_TIME, SERIAL_NUMBER, DISTANCE_FROM_OBJECT)
    return steps.join(readings, on=SENSOR_READING_TIME, how="inner").select(
        *MACHINE_LEARNING_CURATED_SCHEMA.fieldNames()
    )
