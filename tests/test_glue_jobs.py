"""The five Glue job scripts, run end to end on classic Spark with only the Glue runtime replaced by a double."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
from pyspark import SparkContext
from pyspark.sql import SparkSession

from stedi_transforms import engines, glue, pipeline
from stedi_transforms.lake import CUSTOMER_REJECTED, CUSTOMER_TRUSTED, Lake
from stedi_transforms.ledger import history
from tests import glue_double
from tests.compare import assert_lake_holds_the_expected_tables
from tests.conftest import LocalS3

JOBS = Path(__file__).resolve().parent.parent / "jobs"
JOB_NAMES = [job.__name__ for job in pipeline.JOBS]

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.parametrize("spark", ["spark"], indirect=True)]


@pytest.fixture(autouse=True)
def glue_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = (SparkContext, glue_double.GlueContext, glue_double.DynamicFrame, glue_double.Job)
    monkeypatch.setattr(glue, "_runtime", lambda: runtime)
    glue_double.JOURNAL.clear()


def run_job(name: str, lake: Path | str, table_format: str, landing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = [f"{name}.py", "--JOB_NAME", name, "--LAKE", str(lake), "--DATABASE", "stedi", "--FORMAT", table_format]
    monkeypatch.setattr(sys, "argv", [*argv, "--LANDING", landing])
    runpy.run_path(str(JOBS / f"{name}.py"), run_name="__main__")


WRITES = {
    "customer_landing_to_trusted": [
        ("customer/ingested", "customer_ingested"),
        ("customer/rejected", "customer_rejected"),
        ("customer/trusted", "customer_trusted"),
    ],
    "accelerometer_landing_to_trusted": [
        ("accelerometer/ingested", "accelerometer_ingested"),
        ("accelerometer/rejected", "accelerometer_rejected"),
        ("accelerometer/trusted", "accelerometer_trusted"),
    ],
    "customer_trusted_to_curated": [("customer/curated", "customer_curated")],
    "step_trainer_trusted": [
        ("step_trainer/ingested", "step_trainer_ingested"),
        ("step_trainer/rejected", "step_trainer_rejected"),
        ("step_trainer/trusted", "step_trainer_trusted"),
    ],
    "machine_learning_curated": [("step_trainer/curated", "machine_learning_curated")],
}


def test_each_job_purges_then_writes_through_the_catalog_updating_sink_and_a_rerun_replaces_its_tables(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    for name in JOB_NAMES:
        run_job(name, lake, "glueparquet", fixtures_landing, monkeypatch)
    sink_options = {"enableUpdateCatalog": True, "updateBehavior": "UPDATE_IN_DATABASE", "partitionKeys": []}
    expected: list[tuple[object, ...]] = []
    for name, writes in WRITES.items():
        expected.append(("init", name))
        for folder, table in writes:
            path = str(lake / folder)
            expected += [
                ("purge_s3_path", path, {"retentionPeriod": 0}),
                ("getSink", "s3", {"path": path, **sink_options}),
                ("setCatalogInfo", "stedi", table),
                ("setFormat", "glueparquet"),
                ("writeFrame", path, table),
            ]
        expected.append(("commit",))
    assert expected == glue_double.JOURNAL
    run_job(JOB_NAMES[0], lake, "glueparquet", fixtures_landing, monkeypatch)  # its sinks append: it must purge
    assert_lake_holds_the_expected_tables(spark, Lake(str(lake), "parquet"))


def test_a_failing_job_does_not_commit(spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Exception, match=r"PATH_NOT_FOUND|Path does not exist"):
        run_job("customer_trusted_to_curated", tmp_path / "empty-lake", "json", str(tmp_path), monkeypatch)
    assert glue_double.JOURNAL == [("init", "customer_trusted_to_curated")]


@pytest.mark.s3
def test_a_job_keeps_its_delta_tables_in_s3_and_records_its_run_there(
    spark: SparkSession, s3: LocalS3, fixtures_landing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One job through S3 (all five run locally above): its ledger, lock and history live in the S3 lake too."""
    s3.client.create_bucket(Bucket="stedi-glue")
    landing = s3.upload(fixtures_landing, "stedi-glue", "landing")
    lake = "s3://stedi-glue/lake"
    engines.use_s3(spark)
    run_job(JOB_NAMES[0], lake, "delta", landing, monkeypatch)
    assert_lake_holds_the_expected_tables(spark, Lake(lake), (CUSTOMER_REJECTED, CUSTOMER_TRUSTED))
    (record,) = history(Lake(lake).store)
    assert (record.job, record.table_format, record.rows_written) == (
        JOB_NAMES[0],
        "delta",
        {"customer_ingested": 16, "customer_rejected": 6, "customer_trusted": 4},
    )
