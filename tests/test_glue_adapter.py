"""The Glue adapter without Spark: argument parsing with the real getResolvedOptions, and the double's fidelity."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from awsglue.context import GlueContext
from awsglue.data_sink import DataSink
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import GlueArgumentError

from stedi_transforms import pipeline
from stedi_transforms.glue import JobArguments, resolve_arguments
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


@pytest.mark.parametrize(
    ("double", "real", "method"),
    [
        (glue_double.GlueContext, GlueContext, "__init__"),
        (glue_double.GlueContext, GlueContext, "getSink"),
        (glue_double.GlueContext, GlueContext, "purge_s3_path"),
        (glue_double.DynamicFrame, DynamicFrame, "fromDF"),
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


def test_every_job_script_calls_the_pipeline_job_of_its_name() -> None:
    assert sorted(path.stem for path in JOBS.glob("*.py")) == sorted(JOB_NAMES)
    for name in JOB_NAMES:
        assert f"run_glue_job(pipeline.{name})" in (JOBS / f"{name}.py").read_text()
