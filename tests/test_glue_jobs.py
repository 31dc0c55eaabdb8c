"""The five Glue job scripts, run end to end on classic Spark with only the Glue runtime replaced by a double."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark import SparkContext
from pyspark.sql import SparkSession

from stedi_transforms import engines, glue, pipeline
from stedi_transforms.glue import DataQualityError
from stedi_transforms.lake import ACCELEROMETER_TRUSTED, CUSTOMER_REJECTED, CUSTOMER_TRUSTED, Lake
from stedi_transforms.ledger import history
from tests import glue_double
from tests.compare import assert_lake_holds_the_expected_tables
from tests.conftest import LocalS3

JOBS = Path(__file__).resolve().parent.parent / "jobs"
JOB_NAMES = [job.__name__ for job in pipeline.JOBS]

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.parametrize("spark", ["spark"], indirect=True)]


@pytest.fixture(autouse=True)
def glue_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The double in place of Glue's runtime and awsgluedq; no rulesets unless a test brings its own."""
    runtime = (SparkContext, glue_double.GlueContext, glue_double.DynamicFrame, glue_double.Job)
    monkeypatch.setattr(glue, "_runtime", lambda: runtime)
    monkeypatch.setattr(glue, "_data_quality", lambda: glue_double.EvaluateDataQuality)
    monkeypatch.setattr(glue, "RULESETS", tmp_path / "no-rulesets")
    glue_double.JOURNAL.clear()
    glue_double.RULE_OUTCOMES.clear()
    glue_double.EVALUATED.clear()


def run_job(
    name: str, lake: Path | str, table_format: str, landing: str, monkeypatch: pytest.MonkeyPatch, *more: str
) -> None:
    argv = [f"{name}.py", "--JOB_NAME", name, "--LAKE", str(lake), "--DATABASE", "stedi", "--FORMAT", table_format]
    monkeypatch.setattr(sys, "argv", [*argv, "--LANDING", landing, *more])
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
@pytest.mark.integration  # classic Spark's first S3 use loads the AWS SDK: beside the S3 lake test's classic run
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


CUSTOMER_RULES = 'Rules = [ IsComplete "email", IsUnique "email" ]\n'
ACCELEROMETER_RULES = 'Rules = [ ReferentialIntegrity "user" "customer_trusted.email" = 1.0 ]\n'
PUBLISHING = {"enableDataQualityResultsPublishing": True}
ADDITIONAL = {"dataQualityResultsPublishing.strategy": "BEST_EFFORT"}


@pytest.fixture
def rulesets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "dq"
    folder.mkdir()
    (folder / "customer_trusted.dqdl").write_text(CUSTOMER_RULES)
    (folder / "accelerometer_trusted.dqdl").write_text(ACCELEROMETER_RULES)
    monkeypatch.setattr(glue, "RULESETS", folder)
    glue_double.RULE_OUTCOMES["customer_trusted"] = [
        ('IsComplete "email"', "Passed", None),
        ('IsUnique "email"', "Failed", "Value: 0.75 does not meet the constraint requirement!"),
    ]
    glue_double.RULE_OUTCOMES["accelerometer_trusted"] = [
        ('ReferentialIntegrity "user" "customer_trusted.email" = 1.0', "Passed", None)
    ]


@pytest.mark.usefixtures("rulesets")
def test_each_job_evaluates_the_rulesets_of_the_tables_it_wrote_and_warns_of_failed_rules(
    spark: SparkSession,
    fixtures_landing: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = tmp_path / "lake"
    for name in JOB_NAMES[:2]:
        run_job(name, lake, "json", fixtures_landing, monkeypatch)
    evaluations = [entry for entry in glue_double.JOURNAL if entry[0] == "EvaluateDataQuality.process_rows"]
    assert evaluations == [
        (
            "EvaluateDataQuality.process_rows",
            "customer_trusted",
            CUSTOMER_RULES,
            {"dataQualityEvaluationContext": "customer_trusted", **PUBLISHING},
            ADDITIONAL,
            {},
        ),
        (
            "EvaluateDataQuality.process_rows",
            "accelerometer_trusted",
            ACCELEROMETER_RULES,
            {"dataQualityEvaluationContext": "accelerometer_trusted", **PUBLISHING},
            ADDITIONAL,
            {"customer_trusted": "customer_trusted"},  # the table its rule names goes along
        ),
    ]
    assert [entry for entry in glue_double.JOURNAL if entry[0] in ("init", "commit")] == [
        ("init", JOB_NAMES[0]),
        ("commit",),
        ("init", JOB_NAMES[1]),
        ("commit",),
    ]  # warn, the default: the jobs succeed
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("data quality")] == [
        "data quality customer_ingested: no ruleset dq/customer_ingested.dqdl in the package; nothing evaluated",
        "data quality customer_rejected: no ruleset dq/customer_rejected.dqdl in the package; nothing evaluated",
        "data quality customer_trusted: 1 of 2 rules passed",
        'data quality customer_trusted: failed IsUnique "email": Value: 0.75 does not meet the constraint requirement!',
        "data quality accelerometer_ingested: no ruleset dq/accelerometer_ingested.dqdl in the package; nothing "
        "evaluated",
        "data quality accelerometer_rejected: no ruleset dq/accelerometer_rejected.dqdl in the package; nothing "
        "evaluated",
        "data quality accelerometer_trusted: 1 of 1 rules passed",
    ]
    written = Lake(str(lake), "json")
    for table in (CUSTOMER_TRUSTED, ACCELEROMETER_TRUSTED):  # each evaluated as it stands in the lake
        assert_df_equality(
            glue_double.EVALUATED[table.name].dataframe, written.read(spark, table), ignore_row_order=True
        )


@pytest.mark.usefixtures("rulesets")
def test_a_failed_rule_fails_the_job_under_dq_action_fail(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataQualityError) as failed:
        run_job(JOB_NAMES[0], tmp_path / "lake", "json", fixtures_landing, monkeypatch, "--DQ_ACTION", "fail")
    assert str(failed.value) == 'data quality failed (--DQ_ACTION fail): customer_trusted: IsUnique "email"'
    assert ("commit",) not in glue_double.JOURNAL
