"""The Glue adapter without Spark: argument parsing with the real getResolvedOptions, and the double's fidelity."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from awsglue.context import GlueContext
from awsglue.data_sink import DataSink
from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection
from awsglue.job import Job
from awsglue.utils import GlueArgumentError

from stedi_transforms import glue, pipeline
from stedi_transforms.glue import GlueTableIO, JobArguments, resolve_arguments
from stedi_transforms.pipeline import Settings
from stedi_transforms.transforms import Options
from tests import glue_double

JOBS = Path(__file__).resolve().parent.parent / "jobs"
JOB_NAMES = [job.__name__ for job in pipeline.JOBS]
BASE = ["job.py", "--JOB_NAME", "j", "--LAKE", "s3://stedi/lake", "--DATABASE", "stedi", "--FORMAT", "json"]


def test_the_landing_defaults_to_the_lake() -> None:
    assert resolve_arguments(BASE) == JobArguments("j", "s3://stedi/lake", "stedi", "json", "s3://stedi/lake")


def test_a_separate_landing_root_a_full_refresh_and_the_ml_options_are_taken() -> None:
    arguments = resolve_arguments(
        [
            *BASE,
            "--LANDING",
            "s3://raw/landing",
            "--FULL_REFRESH",
            "true",
            "--ML_JOIN",
            "owner",
            "--CONSENT_CUTOFF",
            "true",
        ]
    )
    assert (arguments.landing, arguments.settings) == (
        "s3://raw/landing",
        Settings(full_refresh=True, options=Options(ml_join="owner", consent_cutoff=True)),
    )


def test_a_missing_required_argument_stops_the_job() -> None:
    with pytest.raises(GlueArgumentError, match="the following arguments are required: --FORMAT"):
        resolve_arguments(BASE[:-2])


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown --FORMAT 'csv'"):
        resolve_arguments([*BASE[:-1], "csv"])


def test_the_data_quality_action_is_taken_and_checked() -> None:
    assert resolve_arguments([*BASE, "--DQ_ACTION", "FAIL"]).dq_action == "fail"
    with pytest.raises(ValueError, match=r"^unknown --DQ_ACTION 'stop'; choose one of warn, fail$"):
        resolve_arguments([*BASE, "--DQ_ACTION", "stop"])


def test_a_table_without_a_ruleset_or_a_runtime_without_awsgluedq_is_said_and_evaluates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "customer_trusted.dqdl").write_text('Rules = [ IsComplete "email" ]\n')
    monkeypatch.setattr(glue, "RULESETS", tmp_path)
    arguments = JobArguments("j", str(tmp_path / "lake"), "stedi", "json", str(tmp_path), dq_action="fail")
    log: list[str] = []
    GlueTableIO(None, glue_double.DynamicFrame, arguments, None).check_quality(
        None,  # type: ignore[arg-type]  # nothing is read: there is nothing to evaluate
        ["customer_ingested", "customer_trusted"],
        log.append,
    )
    assert log == [
        "data quality customer_ingested: no ruleset dq/customer_ingested.dqdl in the package; nothing evaluated",
        "data quality customer_trusted: awsgluedq is not installed here; ruleset not evaluated",
    ]


def test_the_rulesets_are_read_from_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "customer_trusted.dqdl").write_text("Rules = [ RowCount > 0 ]\n")
    monkeypatch.setattr(glue, "RULESETS", tmp_path)
    assert (glue.ruleset("customer_trusted"), glue.ruleset("customer_curated")) == ("Rules = [ RowCount > 0 ]\n", None)


@pytest.mark.parametrize(
    ("double", "real", "method"),
    [
        (glue_double.GlueContext, GlueContext, "__init__"),
        (glue_double.GlueContext, GlueContext, "getSink"),
        (glue_double.GlueContext, GlueContext, "purge_s3_path"),
        (glue_double.DynamicFrame, DynamicFrame, "fromDF"),
        (glue_double.DynamicFrame, DynamicFrame, "toDF"),
        (glue_double.DynamicFrameCollection, DynamicFrameCollection, "__init__"),
        (glue_double.DynamicFrameCollection, DynamicFrameCollection, "select"),
        (glue_double.DataSink, DataSink, "setCatalogInfo"),
        (glue_double.DataSink, DataSink, "setFormat"),
        (glue_double.DataSink, DataSink, "writeFrame"),
        (glue_double.Job, Job, "__init__"),
        (glue_double.Job, Job, "init"),
        (glue_double.Job, Job, "commit"),
    ],
)
def test_the_double_has_the_real_signatures(double: type, real: type, method: str) -> None:
    def shape(function: object) -> list[tuple[str, object, object]]:
        parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        return [(p.name, p.kind, p.default) for p in parameters]

    assert shape(getattr(double, method)) == shape(getattr(real, method))


def test_the_data_quality_double_takes_the_real_arguments() -> None:
    """awsgluedq ships only inside Glue's runtime (AWSGlueDataplanePython, the real awsglue, lacks it), so this runs
    where it is installed; elsewhere the double follows the keyword arguments of AWS's examples."""
    transforms = pytest.importorskip("awsgluedq.transforms")
    real = inspect.signature(transforms.EvaluateDataQuality.process_rows).parameters
    double = inspect.signature(glue_double.EvaluateDataQuality.process_rows).parameters
    assert set(double) <= set(real)


def test_every_job_script_calls_the_pipeline_job_of_its_name() -> None:
    assert sorted(path.stem for path in JOBS.glob("*.py")) == sorted(JOB_NAMES)
    for name in JOB_NAMES:
        assert f'run_glue_job("{name}")' in (JOBS / f"{name}.py").read_text()
