"""Deploy the Glue side with boto3: the wheel and job scripts on S3, the database, the landing tables and the five
jobs; start the jobs in order; and tear it all down again. Nothing here runs Spark.

Everything deploy does is first written as a plan (``--dry-run`` prints it), then carried out step by step.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stedi_transforms.glue import GLUE_FORMATS
from stedi_transforms.lake import OUTPUT_TABLES, Lake
from stedi_transforms.pipeline import JOBS
from stedi_transforms.queries import DEFAULT_DATABASE
from stedi_transforms.schemas import SOURCES, Source
from stedi_transforms.transforms import Options

GLUE_VERSIONS = ("6.0", "5.1")
ARTIFACTS = "glue"  # s3://<bucket>/glue/: the wheel and the job scripts
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
DELTA_CONF = (
    "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension"
    " --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"
)
FAILED_STATES = ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")


class DeployError(RuntimeError):
    """A deployment or a job run failed; the message names the step and AWS's reason."""


@dataclass(frozen=True)
class GlueSettings:
    bucket: str
    role: str
    database: str = DEFAULT_DATABASE
    glue_version: str = GLUE_VERSIONS[0]
    table_format: str = "json"
    options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        if self.glue_version not in GLUE_VERSIONS:
            raise ValueError(f"unknown Glue version {self.glue_version!r}; choose one of {', '.join(GLUE_VERSIONS)}")
        if self.table_format not in GLUE_FORMATS:
            raise ValueError(f"unknown format {self.table_format!r}; choose one of {', '.join(GLUE_FORMATS)}")

    @property
    def lake(self) -> str:
        return f"s3://{self.bucket}"

    def script_key(self, job_name: str) -> str:
        return f"{ARTIFACTS}/jobs/{job_name}.py"


def jobs_folder() -> Path:
    """The Glue job scripts: inside an installed wheel, or ``jobs/`` of a source checkout."""
    packaged = Path(__file__).resolve().parent / "jobs"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "jobs"


def job_names() -> list[str]:
    return [job.__name__ for job in JOBS]


def job_definition(settings: GlueSettings, job_name: str, wheel_name: str) -> dict[str, Any]:
    """The arguments of ``glue.create_job`` for one job."""
    arguments = {
        "--additional-python-modules": f"s3://{settings.bucket}/{ARTIFACTS}/{wheel_name}",
        "--LAKE": settings.lake,
        "--DATABASE": settings.database,
        "--FORMAT": settings.table_format,
        "--enable-glue-datacatalog": "true",
        "--job-language": "python",
    }
    if settings.options.ml_join != Options().ml_join:
        arguments["--ML_JOIN"] = settings.options.ml_join
    if settings.options.consent_cutoff:
        arguments["--CONSENT_CUTOFF"] = "true"
    if settings.table_format == "delta":
        arguments |= {"--datalake-formats": "delta", "--conf": DELTA_CONF}
    return {
        "Name": job_name,
        "Role": settings.role,
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": f"s3://{settings.bucket}/{settings.script_key(job_name)}",
            "PythonVersion": "3",
        },
        "GlueVersion": settings.glue_version,
        "DefaultArguments": arguments,
        "WorkerType": "G.1X",
        "NumberOfWorkers": 2,
    }


def landing_table(settings: GlueSettings, source: Source) -> dict[str, Any]:
    """The Data Catalog ``TableInput`` of a landing table: the same table ``<source>_landing.sql`` creates."""
    return {
        "Name": f"{source.name}_landing",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "json"},
        "StorageDescriptor": {
            "Columns": [{"Name": f.name.lower(), "Type": f.dataType.simpleString()} for f in source.schema],
            "Location": f"s3://{settings.bucket}/{source.name}/landing/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": JSON_SERDE,
                "Parameters": {"ignore.malformed.json": "true", "case.insensitive": "true"},
            },
        },
    }


@dataclass
class Plan:
    """What deploy will do, in order: uploads, the database, tables and jobs."""

    uploads: list[tuple[Path, str]] = field(default_factory=list)  # (local file, S3 key)
    database: str = ""
    tables: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def lines(self, bucket: str) -> Iterable[str]:
        for local, key in self.uploads:
            yield f"upload   {local.name} → s3://{bucket}/{key}"
        yield f"database {self.database} (create or update)"
        for table in self.tables:
            yield f"table    {self.database}.{table['Name']} → {table['StorageDescriptor']['Location']}"
        for job in self.jobs:
            arguments = " ".join(f"{name} {value}" for name, value in job["DefaultArguments"].items())
            yield f"job      {job['Name']} (Glue {job['GlueVersion']}): {arguments}"


def plan(settings: GlueSettings, wheel: Path) -> Plan:
    return Plan(
        uploads=[(wheel, f"{ARTIFACTS}/{wheel.name}")]
        + [(jobs_folder() / f"{name}.py", settings.script_key(name)) for name in job_names()],
        database=settings.database,
        tables=[landing_table(settings, source) for source in SOURCES],
        jobs=[job_definition(settings, name, wheel.name) for name in job_names()],
    )


def deploy(settings: GlueSettings, wheel: Path, s3: Any, glue: Any) -> Plan:
    """Carry out the plan: upload, then create or update the database, the landing tables and the jobs."""
    the_plan = plan(settings, wheel)
    for local, key in the_plan.uploads:
        s3.upload_file(str(local), settings.bucket, key)
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": settings.database})
    for table in the_plan.tables:
        try:
            glue.create_table(DatabaseName=settings.database, TableInput=table)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=settings.database, TableInput=table)
    for job in the_plan.jobs:
        try:
            glue.create_job(**job)
        except (glue.exceptions.AlreadyExistsException, glue.exceptions.IdempotentParameterMismatchException):
            update = {key: value for key, value in job.items() if key != "Name"}  # the plan stays whole for printing
            glue.update_job(JobName=job["Name"], JobUpdate=update)
    return the_plan


def run_jobs(
    glue: Any,
    on_state: Callable[[str, str], None] = lambda job, state: None,
    poll_seconds: float = 15.0,
) -> None:
    """Start the jobs in dependency order, wait for each, stop at the first that does not succeed."""
    for name in job_names():
        run_id = glue.start_job_run(JobName=name)["JobRunId"]
        while True:
            run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
            state = run["JobRunState"]
            on_state(name, state)
            if state == "SUCCEEDED":
                break
            if state in FAILED_STATES:
                raise DeployError(f"job {name} {state.lower()}: {run.get('ErrorMessage', 'no message from Glue')}")
            time.sleep(poll_seconds)


def teardown(settings: GlueSettings, s3: Any, glue: Any, outputs: bool = False) -> list[str]:
    """Remove what deploy created: the jobs, the database with its tables, the uploaded artifacts; the zone outputs
    (rejected, trusted, curated) only when ``outputs`` is set. Landing data is never touched."""
    removed = []
    for name in job_names():
        glue.delete_job(JobName=name)
        removed.append(f"job {name}")
    try:
        glue.delete_database(Name=settings.database)
        removed.append(f"database {settings.database}")
    except glue.exceptions.EntityNotFoundException:
        pass
    prefixes = [f"{ARTIFACTS}/"]
    if outputs:
        lake = Lake(settings.lake)
        prefixes += [lake.path(table).removeprefix(f"{settings.lake}/") + "/" for table in OUTPUT_TABLES]
    for prefix in prefixes:
        keys = [
            {"Key": item["Key"]}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        if keys:
            s3.delete_objects(Bucket=settings.bucket, Delete={"Objects": keys})
            removed.append(f"s3://{settings.bucket}/{prefix} ({len(keys)} objects)")
    return removed
