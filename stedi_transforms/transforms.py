"""The zone transforms: pure functions, DataFrames in and a DataFrame out.

No reads, writes or actions happen here, and every join names its columns, so each function runs unchanged on
classic Spark, on Spark Connect (Sail) and on AWS Glue. Inputs are the accepted landing records
(see :mod:`stedi_transforms.reader`) or the tables these functions produce.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from stedi_transforms.options import FORMS_BY_NAME
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
_SINCE = "_consent_since"


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


@dataclass(frozen=True)
class Options:
    """Choices for a cleaner training set than the original design gives; the defaults are the original design.

    - ``ml_join``: ``timestamp`` pairs each step-trainer reading with every accelerometer reading taken at the same
      moment, whoever took it; ``owner`` only with those of a customer who owns the device (a curated customer with
      that serialNumber).
    - ``consent_cutoff``: keep only readings taken at or after their customer's shareWithResearchAsOfDate (for a
      step-trainer reading: of a curated customer with that serialNumber).
    """

    ml_join: str = "timestamp"
    consent_cutoff: bool = False

    def __post_init__(self) -> None:
        if self.ml_join not in ML_JOINS:
            raise ValueError(f"unknown ML join {self.ml_join!r}; choose one of {', '.join(ML_JOINS)}")


ML_JOINS = FORMS_BY_NAME["ml_join"].choices


def accelerometer_trusted(
    accelerometer: DataFrame, customers_trusted: DataFrame, consent_cutoff: bool = False
) -> DataFrame:
    """Readings whose ``user`` is the email of a trusted customer (and, with ``consent_cutoff``, taken at or after
    that customer's shareWithResearchAsOfDate); exact duplicates kept once.

    Needs user, timestamp, x, y, z and the trusted customers' email (and shareWithResearchAsOfDate); returns user,
    timestamp, x, y, z.
    """
    _require(accelerometer, ACCELEROMETER_SCHEMA.fieldNames(), "accelerometer")
    if not consent_cutoff:
        _require(customers_trusted, [EMAIL], "customers_trusted")
        kept = accelerometer.join(customers_trusted.select(F.col(EMAIL).alias(USER)), on=USER, how="left_semi")
    else:
        _require(customers_trusted, [EMAIL, SHARE_WITH_RESEARCH_AS_OF_DATE], "customers_trusted")
        consents = customers_trusted.select(
            F.col(EMAIL).alias(USER), F.col(SHARE_WITH_RESEARCH_AS_OF_DATE).alias(_SINCE)
        )
        since_consent = (F.col(f"r.{USER}") == F.col(f"c.{USER}")) & (F.col(f"r.{TIMESTAMP}") >= F.col(f"c.{_SINCE}"))
        kept = accelerometer.alias("r").join(consents.alias("c"), on=since_consent, how="left_semi")
    return kept.select(*ACCELEROMETER_SCHEMA.fieldNames()).distinct()


def customer_curated(customers_trusted: DataFrame, accelerometer_trusted: DataFrame) -> DataFrame:
    """Trusted customers with at least one trusted accelerometer reading; one row each, every customer column.

    Needs the customer columns and the readings' user; returns the customer columns.
    """
    _require(customers_trusted, CUSTOMER_SCHEMA.fieldNames(), "customers_trusted")
    _require(accelerometer_trusted, [USER], "accelerometer_trusted")
    users_with_readings = accelerometer_trusted.select(F.col(USER).alias(EMAIL))
    return customers_trusted.join(users_with_readings, on=EMAIL, how="left_semi").select(*CUSTOMER_SCHEMA.fieldNames())


def step_trainer_trusted(
    step_trainer: DataFrame, customers_curated: DataFrame, consent_cutoff: bool = False
) -> DataFrame:
    """Step-trainer readings whose serialNumber belongs to a curated customer (and, with ``consent_cutoff``, taken
    at or after the shareWithResearchAsOfDate of such a customer); exact duplicates kept once.

    Needs sensorReadingTime, serialNumber, distanceFromObject and the customers' serialNumber (and
    shareWithResearchAsOfDate); returns the first three.
    """
    _require(step_trainer, STEP_TRAINER_SCHEMA.fieldNames(), "step_trainer")
    if not consent_cutoff:
        _require(customers_curated, [SERIAL_NUMBER], "customers_curated")
        kept = step_trainer.join(customers_curated.select(SERIAL_NUMBER), on=SERIAL_NUMBER, how="left_semi")
    else:
        _require(customers_curated, [SERIAL_NUMBER, SHARE_WITH_RESEARCH_AS_OF_DATE], "customers_curated")
        owners = customers_curated.select(SERIAL_NUMBER, F.col(SHARE_WITH_RESEARCH_AS_OF_DATE).alias(_SINCE))
        since_consent = (F.col(f"s.{SERIAL_NUMBER}") == F.col(f"o.{SERIAL_NUMBER}")) & (
            F.col(f"s.{SENSOR_READING_TIME}") >= F.col(f"o.{_SINCE}")
        )
        kept = step_trainer.alias("s").join(owners.alias("o"), on=since_consent, how="left_semi")
    return kept.select(*STEP_TRAINER_SCHEMA.fieldNames()).distinct()


def machine_learning_curated(
    step_trainer_trusted: DataFrame,
    accelerometer_trusted: DataFrame,
    customers_curated: DataFrame | None = None,
    ml_join: str = "timestamp",
) -> DataFrame:
    """Each trusted step-trainer reading joined with the trusted accelerometer readings taken at the same moment
    (sensorReadingTime = timestamp): every one of them, as the original design joins them (``timestamp``), or only
    those of a curated customer who owns the device (``owner``, which needs ``customers_curated``: email and
    serialNumber). Carries no email: the serialNumber groups readings per device.

    Returns sensorReadingTime, serialNumber, distanceFromObject, timestamp, x, y, z.
    """
    _require(step_trainer_trusted, [SENSOR_READING_TIME, SERIAL_NUMBER, DISTANCE_FROM_OBJECT], "step_trainer_trusted")
    _require(
        accelerometer_trusted,
        [USER, TIMESTAMP, X, Y, Z] if ml_join == "owner" else [TIMESTAMP, X, Y, Z],
        "accelerometer_trusted",
    )
    steps = step_trainer_trusted.select(SENSOR_READING_TIME, SERIAL_NUMBER, DISTANCE_FROM_OBJECT)
    if ml_join == "timestamp":
        readings = accelerometer_trusted.select(F.col(TIMESTAMP).alias(SENSOR_READING_TIME), TIMESTAMP, X, Y, Z)
        paired = steps.join(readings, on=SENSOR_READING_TIME, how="inner")
    elif ml_join == "owner":
        if customers_curated is None:
            raise ValueError("the owner join needs customers_curated (email and serialNumber)")
        _require(customers_curated, [EMAIL, SERIAL_NUMBER], "customers_curated")
        owners = customers_curated.select(F.col(EMAIL).alias(USER), SERIAL_NUMBER).distinct()
        readings = accelerometer_trusted.select(USER, F.col(TIMESTAMP).alias(SENSOR_READING_TIME), TIMESTAMP, X, Y, Z)
        paired = steps.join(owners, on=SERIAL_NUMBER, how="inner").join(
            readings, on=[USER, SENSOR_READING_TIME], how="inner"
        )
    else:
        raise ValueError(f"unknown ML join {ml_join!r}; choose one of {', '.join(ML_JOINS)}")
    return paired.select(*MACHINE_LEARNING_CURATED_SCHEMA.fieldNames())
