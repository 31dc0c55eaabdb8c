"""What every table must hold when the pipeline runs on ``fixtures/``, written out by hand from the fixture files.

Customers: Ada and Fay consent; Bo and Gus never do; Cy's later record revokes, Di's later record grants; Ed's two
records tie on lastUpdateDate and the later registration (with consent) wins. Ed has no readings, so he is trusted
but not curated. Fay and Gus share the device ``dev-shared``. Ada's and Fay's readings share a timestamp.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from stedi_transforms import lake
from stedi_transforms.engines import local_frame

T = 1_700_000_000_000  # every fixture time is T plus an offset, in epoch milliseconds

CUSTOMER_FILE = "customer/landing/customer-1700000000000.json"
ACCELEROMETER_FILES = (
    "accelerometer/landing/accelerometer-1700000000000.json",
    "accelerometer/landing/accelerometer-1700000003000.json",
)
STEP_TRAINER_FILE = "step_trainer/landing/step_trainer-1700000000000.json"

ADA = ("Ada Lovelace", "ada@stedi.test", "5550100", "1990-12-10", "dev-ada", T, T, T, None, T)
DI = ("Di Granted", "di@stedi.test", "5550103", "2001-01-01", "dev-di", T, T + 300_000, T + 250_000, None, None)
ED = ("Ed Tied", "ed@stedi.test", "5550104", "1969-02-02", "dev-ed", T + 100_000, T + 400_000, T + 400_000, None, None)
FAY = ("Fay Shared", "fay@stedi.test", "5550105", "1995-05-05", "dev-shared", T, T, T, None, None)

EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "customer_rejected": [
        (CUSTOMER_FILE, 13, '{"customerName": "Broken Record", "email": "broken@stedi.test"', "malformed JSON"),
        (
            CUSTOMER_FILE,
            14,
            '{"customerName":"Ivy Wrongtype","email":"ivy@stedi.test","serialNumber":"dev-ivy",'
            '"registrationDate":"yesterday","lastUpdateDate":1700000000000,"shareWithResearchAsOfDate":1700000000000}',
            "registrationDate: expected bigint, got string",
        ),
        (
            CUSTOMER_FILE,
            15,
            '{"customerName":"No Email","serialNumber":"dev-none","registrationDate":1700000000000,'
            '"lastUpdateDate":1700000000000,"shareWithResearchAsOfDate":1700000000000}',
            "email: missing key field",
        ),
        (
            CUSTOMER_FILE,
            16,
            '{"customerName":"Null Email","email":null,"serialNumber":"dev-null",'
            '"shareWithResearchAsOfDate":1700000000000}',
            "email: missing key field",
        ),
        (CUSTOMER_FILE, 17, "[1, 2, 3]", "not a JSON object"),
        (
            CUSTOMER_FILE,
            18,
            '{"customerName":"Numeric Email","email":12345,"serialNumber":"dev-num",'
            '"shareWithResearchAsOfDate":1700000000000}',
            "email: expected string, got integer",
        ),
    ],
    "accelerometer_rejected": [
        (
            ACCELEROMETER_FILES[0],
            6,
            '{"user":"ada@stedi.test","timestamp":"abc","x":1.0,"y":1.0,"z":1.0}',
            "timestamp: expected bigint, got string",
        ),
        (ACCELEROMETER_FILES[0], 7, '{"timestamp":1700000001000,"x":0.0,"y":0.0,"z":0.0}', "user: missing key field"),
        (
            ACCELEROMETER_FILES[1],
            5,
            '{"user":"ada@stedi.test","timestamp":1700000007000,"x":"0.1","y":0.0,"z":0.0}',
            "x: expected double, got string",
        ),
        (
            ACCELEROMETER_FILES[1],
            6,
            '{"user":"fay@stedi.test","timestamp":null,"x":0.0,"y":0.0,"z":0.0}',
            "timestamp: missing key field",
        ),
        (ACCELEROMETER_FILES[1], 7, "user=ada@stedi.test timestamp=1700000008000", "malformed JSON"),
    ],
    "step_trainer_rejected": [
        (
            STEP_TRAINER_FILE,
            11,
            '{"sensorReadingTime":1700000005000,"distanceFromObject":20}',
            "serialNumber: missing key field",
        ),
        (
            STEP_TRAINER_FILE,
            12,
            '{"sensorReadingTime":null,"serialNumber":"dev-ada","distanceFromObject":1}',
            "sensorReadingTime: missing key field",
        ),
        (
            STEP_TRAINER_FILE,
            13,
            '{"sensorReadingTime":1700000005000,"serialNumber":"dev-ada","distanceFromObject":12.5}',
            "distanceFromObject: expected bigint, got number",
        ),
        (
            STEP_TRAINER_FILE,
            14,
            '{"sensorReadingTime": 1700000005000, "serialNumber": "dev-ada", "distanceFromObject": 5,}',
            "malformed JSON",
        ),
    ],
    "customer_trusted": [ADA, DI, ED, FAY],
    "accelerometer_trusted": [
        ("ada@stedi.test", T + 1000, 0.1, 0.2, 0.3),
        ("ada@stedi.test", T + 2000, 1.0, 0.0, -1.0),
        ("ada@stedi.test", T + 3000, 0.5, 0.5, 0.5),
        ("ada@stedi.test", T + 6000, -1.0, -1.0, -1.0),
        ("fay@stedi.test", T + 2000, -0.4, 0.8, 0.0),
        ("di@stedi.test", T + 4000, 1.0, 2.0, 3.0),
    ],
    "customer_curated": [ADA, DI, FAY],
    "step_trainer_trusted": [
        (T + 1000, "dev-ada", 40),
        (T + 2000, "dev-ada", 38),
        (T + 2000, "dev-shared", 55),
        (T + 3000, "dev-ada", 36),
        (T + 4000, "dev-di", 12),
        (T + 9000, "dev-di", 10),
    ],
    "machine_learning_curated": [
        (T + 1000, "dev-ada", 40, T + 1000, 0.1, 0.2, 0.3),
        (T + 2000, "dev-ada", 38, T + 2000, 1.0, 0.0, -1.0),
        (T + 2000, "dev-ada", 38, T + 2000, -0.4, 0.8, 0.0),
        (T + 2000, "dev-shared", 55, T + 2000, 1.0, 0.0, -1.0),
        (T + 2000, "dev-shared", 55, T + 2000, -0.4, 0.8, 0.0),
        (T + 3000, "dev-ada", 36, T + 3000, 0.5, 0.5, 0.5),
        (T + 4000, "dev-di", 12, T + 4000, 1.0, 2.0, 3.0),
    ],
}

EXPECTED_COUNTS = {
    "customer_landing": 16,
    "accelerometer_landing": 15,
    "step_trainer_landing": 13,
    **{name: len(rows) for name, rows in EXPECTED.items()},
}


def expected_table(spark: SparkSession, table: lake.Table) -> DataFrame:
    return local_frame(spark, EXPECTED[table.name], table.schema)


OWNER_JOIN = [
    (T + 1000, "dev-ada", 40, T + 1000, 0.1, 0.2, 0.3),
    (T + 2000, "dev-ada", 38, T + 2000, 1.0, 0.0, -1.0),
    (T + 2000, "dev-shared", 55, T + 2000, -0.4, 0.8, 0.0),
    (T + 3000, "dev-ada", 36, T + 3000, 0.5, 0.5, 0.5),
    (T + 4000, "dev-di", 12, T + 4000, 1.0, 2.0, 3.0),
]
"""machine_learning_curated with the owner join: Fay's reading no longer pairs with Ada's device, nor Ada's with
the device Fay shares with Gus (who never consents)."""

CONSENT_CUTOFF: dict[str, list[tuple[Any, ...]]] = {
    # Di granted consent at T + 250 s, after her only reading (T + 4 s): it goes, and with it her curated record
    # and her device's readings.
    "accelerometer_trusted": [row for row in EXPECTED["accelerometer_trusted"] if row[0] != "di@stedi.test"],
    "customer_curated": [ADA, FAY],
    "step_trainer_trusted": [row for row in EXPECTED["step_trainer_trusted"] if row[1] != "dev-di"],
    "machine_learning_curated": [row for row in EXPECTED["machine_learning_curated"] if row[1] != "dev-di"],
}
"""What the consent cutoff changes on the fixtures (every other table is as in EXPECTED)."""

BOTH_OPTIONS_MACHINE_LEARNING = [row for row in OWNER_JOIN if row[1] != "dev-di"]
