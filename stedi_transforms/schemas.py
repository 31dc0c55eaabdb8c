"""The landing schemas and the column names every other module uses.

The landing files are newline-delimited JSON with camelCase keys; the schemas here are the contract for them.
Joins, checks, the Athena DDL and the docs all refer to these constants instead of spelling names again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

# Spelled once, in a module without Spark for the generator's sake; the rest of the package imports them from here.
from stedi_transforms.fields import (
    BIRTH_DAY,
    CUSTOMER_NAME,
    DISTANCE_FROM_OBJECT,
    EMAIL,
    LAST_UPDATE_DATE,
    PHONE,
    REGISTRATION_DATE,
    SENSOR_READING_TIME,
    SERIAL_NUMBER,
    SHARE_WITH_FRIENDS_AS_OF_DATE,
    SHARE_WITH_PUBLIC_AS_OF_DATE,
    SHARE_WITH_RESEARCH_AS_OF_DATE,
    TIMESTAMP,
    USER,
    X,
    Y,
    Z,
)

# provenance and quarantine
FILE = "file"
LINE_NUMBER = "line_number"
LINE = "line"
REASON = "reason"


def _struct(*fields: tuple[str, StringType | LongType | DoubleType]) -> StructType:
    return StructType([StructField(name, data_type, nullable=True) for name, data_type in fields])


CUSTOMER_SCHEMA = _struct(
    (CUSTOMER_NAME, StringType()),
    (EMAIL, StringType()),
    (PHONE, StringType()),
    (BIRTH_DAY, StringType()),
    (SERIAL_NUMBER, StringType()),
    (REGISTRATION_DATE, LongType()),
    (LAST_UPDATE_DATE, LongType()),
    (SHARE_WITH_RESEARCH_AS_OF_DATE, LongType()),
    (SHARE_WITH_PUBLIC_AS_OF_DATE, LongType()),
    (SHARE_WITH_FRIENDS_AS_OF_DATE, LongType()),
)

ACCELEROMETER_SCHEMA = _struct(
    (USER, StringType()),
    (TIMESTAMP, LongType()),
    (X, DoubleType()),
    (Y, DoubleType()),
    (Z, DoubleType()),
)

STEP_TRAINER_SCHEMA = _struct(
    (SENSOR_READING_TIME, LongType()),
    (SERIAL_NUMBER, StringType()),
    (DISTANCE_FROM_OBJECT, LongType()),
)

REJECTED_SCHEMA = _struct((FILE, StringType()), (LINE_NUMBER, LongType()), (LINE, StringType()), (REASON, StringType()))

MACHINE_LEARNING_CURATED_SCHEMA = _struct(
    (SENSOR_READING_TIME, LongType()),
    (SERIAL_NUMBER, StringType()),
    (DISTANCE_FROM_OBJECT, LongType()),
    (TIMESTAMP, LongType()),
    (X, DoubleType()),
    (Y, DoubleType()),
    (Z, DoubleType()),
)


@dataclass(frozen=True)
class Source:
    """One landing source: its entity name (the S3 folder), its schema and the fields a record cannot lack."""

    name: str
    schema: StructType
    key_fields: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = set(self.key_fields) - set(self.schema.fieldNames())
        if unknown:
            raise ValueError(f"key fields {sorted(unknown)} are not in the {self.name} schema")


CUSTOMER = Source("customer", CUSTOMER_SCHEMA, (EMAIL,))
ACCELEROMETER = Source("accelerometer", ACCELEROMETER_SCHEMA, (USER, TIMESTAMP))
STEP_TRAINER = Source("step_trainer", STEP_TRAINER_SCHEMA, (SERIAL_NUMBER, SENSOR_READING_TIME))

SOURCES = (CUSTOMER, ACCELEROMETER, STEP_TRAINER)


def ingested_schema(source: Source) -> StructType:
    """A source's landing lines as the lake keeps them, each parsed once: ``file`` (relative to the landing root)
    and ``line_number`` (1-based, in the decompressed file), the schema's fields (null when the line was rejected),
    then ``line`` (the raw text) and ``reason``, both null when it was accepted."""
    return StructType(
        [
            StructField(FILE, StringType()),
            StructField(LINE_NUMBER, LongType()),
            *source.schema.fields,
            StructField(LINE, StringType()),
            StructField(REASON, StringType()),
        ]
    )
