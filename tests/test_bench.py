"""The benchmark's machinery at a tiny scale, and its two references checked against the library's tables."""

from __future__ import annotations

import json
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from benchmarks import bench_run
from benchmarks.duckdb_reference import run_duckdb
from benchmarks.naive import run_naive
from stedi_transforms.generate import Plan, generate
from stedi_transforms.lake import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    CUSTOMER_TRUSTED,
    MACHINE_LEARNING_CURATED,
    STEP_TRAINER_TRUSTED,
    Lake,
)
from stedi_transforms.pipeline import run
from tests.conftest import only_on

REFERENCE_TABLES = (
    CUSTOMER_TRUSTED,
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    STEP_TRAINER_TRUSTED,
    MACHINE_LEARNING_CURATED,
)

# Records that tie on both dates, which the generator never makes: the one without consent wins Tia's tie (a tie
# never grants consent, whatever the names); Teo's two consenting records tie on consent too, and the earlier name
# wins; Tom's tie on lastUpdateDate goes to the later registration.
TIES = """\
{"customerName": "Tia A", "email": "tia@stedi.test", "serialNumber": "dev-tia", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 9}
{"customerName": "Tia B", "email": "tia@stedi.test", "serialNumber": "dev-tia", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": null}
{"customerName": "Teo B", "email": "teo@stedi.test", "serialNumber": "dev-teo", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 7}
{"customerName": "Teo A", "email": "teo@stedi.test", "serialNumber": "dev-teo", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 7}
{"customerName": "Tom Older", "email": "tom@stedi.test", "serialNumber": "dev-tom", "registrationDate": 4, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": null}
{"customerName": "Tom Newer", "email": "tom@stedi.test", "serialNumber": "dev-tom", "registrationDate": 6, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 6}
"""
TIED_READINGS = """\
{"user":"teo@stedi.test","timestamp":1693526459700,"x":1.0,"y":0.0,"z":0.0}
{"user":"tom@stedi.test","timestamp":1693526459700,"x":0.0,"y":1.0,"z":0.0}
"""


@only_on("sail")  # the references are engine-neutral code; the library's tables are proven on both engines
def test_the_references_build_the_same_tables_as_the_library(spark: SparkSession, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(landing, Plan(scale=0.1, seed=3))  # with later records that revoke and grant consent
    (landing / "customer" / "landing" / "customer-ties.json").write_text(TIES)
    (landing / "accelerometer" / "landing" / "accelerometer-ties.json").write_text(TIED_READINGS)
    library, naive = Lake(str(tmp_path / "library"), "parquet"), Lake(str(tmp_path / "naive"), "parquet")
    run(spark, str(landing), library)
    run_naive(spark, str(landing), naive)
    run_duckdb(str(landing), str(tmp_path / "duckdb"))

    for table in REFERENCE_TABLES:
        expected = library.read(spark, table)
        assert_df_equality(naive.read(spark, table), expected, ignore_row_order=True)
        duckdb = spark.read.schema(table.schema).parquet(str(tmp_path / "duckdb" / table.entity / table.zone))
        assert_df_equality(duckdb, expected, ignore_row_order=True, ignore_nullable=True)
    trusted = {row.email: row.customerName for row in library.read(spark, CUSTOMER_TRUSTED).collect()}
    assert {email: trusted.get(email) for email in ("tia@stedi.test", "teo@stedi.test", "tom@stedi.test")} == {
        "tia@stedi.test": None,
        "teo@stedi.test": "Teo A",
        "tom@stedi.test": "Tom Newer",
    }


def test_the_benchmark_measures_every_process_at_a_tiny_scale(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    argv = ["--scales", "0.01", "--engines", "sail", "--no-real", "--data", str(tmp_path), "--json", str(results)]
    assert bench_run.main(argv) == 0
    rows = json.loads(results.read_text())["rows"]
    assert [(row["data"], row["lines"], row["engine"], row["format"]) for row in rows] == [
        ("scale 0.01", 1_089, "sail", "delta")
    ]
    for kind in bench_run.MEASURED:
        assert 0 < rows[0][kind]["seconds"] < 60
        assert 20 < rows[0][kind]["peak_mb"] < 4_000  # a Python process at least, a machine's memory at most
