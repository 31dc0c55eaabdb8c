"""Deploy the Glue side with boto3: the wheel and job scripts on S3, the database, the landing tables, the five jobs
and the tables' Data Quality rulesets; start the jobs in order; and tear it all down again. Nothing here runs Spark.

A deployment has a name (its bucket, or ``--name``) that its jobs carry and its artifacts' prefix holds, and everything
it creates carries the tag ``stedi:deployment=<name>`` (the database and tables as a parameter, since the Data Catalog
does not tag them): teardown removes only what carries its own, and never a database it did not create. Everything
deploy and teardown do is first written as a plan (``--dry-run`` prints it), then carried out step by step.
"""

from __future__ import annotations

import contextlib
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stedi_transforms import glue as glue_adapter
from stedi_transforms.errors import StediError
from stedi_transforms.glue import DQ_ACTIONS, GLUE_FORMATS
from stedi_transforms.lake import INGESTED_TABLES, OUTPUT_TABLES, TABLE_NAMES, Lake
from stedi_transforms.options import FORMS
from stedi_transforms.pipeline import JOBS
from stedi_transforms.queries import DEFAULT_DATABASE
from stedi_transforms.schemas import SOURCES, Source
from stedi_transforms.transforms import Options

GLUE_VERSIONS = ("6.0", "5.1")
ARTIFACTS = "glue"  # s3://<bucket>/glue/<deployment>/: the wheel and the job scripts
TAG = "stedi:deployment"
"""The tag (a parameter on the database and tables) naming the deployment that created a resource."""
DELETE_BATCH = 1000  # the most keys one S3 DeleteObjects takes
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,62}")  # fits a bucket, a job name's prefix, a tag value and an S3 key
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
DELTA_CONF = (
    "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension"
    " --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"
)
FAILED_STATES = ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")
CATALOG_TABLES = (*TABLE_NAMES, *(table.name for table in INGESTED_TABLES))
"""The tables a deployment may have in the Data Catalog: the landing tables deploy makes, those the jobs' sinks make."""


class DeployError(StediError, RuntimeError):
    """A deployment or a job run failed; the message names the step and AWS's reason."""


@dataclass(frozen=True)
class GlueSettings:
    bucket: str
    role: str
    database: str = DEFAULT_DATABASE
    glue_version: str = GLUE_VERSIONS[0]
    table_format: str = "json"
    options: Options = field(default_factory=Options)
    name: str = ""  # the deployment's name; default: the bucket
    dq_action: str = DQ_ACTIONS[0]  # what the jobs do when a table fails its ruleset: warn or fail

    def __post_init__(self) -> None:
        if self.glue_version not in GLUE_VERSIONS:
            raise ValueError(f"unknown Glue version {self.glue_version!r}; choose one of {', '.join(GLUE_VERSIONS)}")
        if self.table_format not in GLUE_FORMATS:
            raise ValueError(f"unknown format {self.table_format!r}; choose one of {', '.join(GLUE_FORMATS)}")
        if self.dq_action not in DQ_ACTIONS:
            raise ValueError(f"unknown data quality action {self.dq_action!r}; choose one of {', '.join(DQ_ACTIONS)}")
        if not _NAME.fullmatch(self.deployment):
            raise ValueError(
                f"deployment name {self.deployment!r}: 1 to 63 lower-case letters, digits, dots and hyphens; "
                "give one with --name"
            )

    @property
    def deployment(self) -> str:
        """The name the deployment's jobs, artifacts and tags carry."""
        return self.name or self.bucket

    @property
    def tags(self) -> dict[str, str]:
        return {TAG: self.deployment}

    @property
    def lake(self) -> str:
        return f"s3://{self.bucket}"

    @property
    def artifacts(self) -> str:
        """The S3 prefix, in the bucket, of the deployment's wheel and scripts."""
        return f"{ARTIFACTS}/{self.deployment}/"

    def script_key(self, job_name: str) -> str:
        return f"{self.artifacts}jobs/{job_name}.py"

    def job_name(self, job_name: str) -> str:
        """The Glue job of a pipeline job in this deployment: ``<deployment>-<job>``."""
        return f"{self.deployment}-{job_name}"

    def job_names(self) -> list[str]:
        return [self.job_name(name) for name in job_names()]

    def owns(self, parameters: dict[str, str] | None) -> bool:
        return (parameters or {}).get(TAG) == self.deployment


def jobs_folder() -> Path:
    """The Glue job scripts: inside an installed wheel, or ``jobs/`` of a source checkout."""
    packaged = Path(__file__).resolve().parent / "jobs"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "jobs"


def job_names() -> list[str]:
    return [job.__name__ for job in JOBS]


def job_definition(settings: GlueSettings, job_name: str, wheel_name: str) -> dict[str, Any]:
    """The arguments of ``glue.create_job`` for one job."""
    arguments = {
        "--additional-python-modules": f"s3://{settings.bucket}/{settings.artifacts}{wheel_name}",
        "--LAKE": settings.lake,
        "--DATABASE": settings.database,
        "--FORMAT": settings.table_format,
        "--enable-glue-datacatalog": "true",
        "--job-language": "python",
    }
    for form in FORMS:
        if (text := form.to_glue(getattr(settings.options, form.name))) is not None:
            arguments[f"--{form.argument}"] = text
    if settings.dq_action != DQ_ACTIONS[0]:
        arguments["--DQ_ACTION"] = settings.dq_action
    if settings.table_format == "delta":
        arguments |= {"--datalake-formats": "delta", "--conf": DELTA_CONF}
    return {
        "Name": settings.job_name(job_name),
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
        "Parameters": {"classification": "json", **settings.tags},
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
    """What deploy will do, in order: uploads, the database, tables, jobs and Data Quality rulesets."""

    uploads: list[tuple[Path, str]] = field(default_factory=list)  # (local file, S3 key)
    database: str = ""
    tables: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    rulesets: list[dict[str, Any]] = field(default_factory=list)

    def lines(self, bucket: str) -> Iterable[str]:
        for local, key in self.uploads:
            yield f"upload   {local.name} → s3://{bucket}/{key}"
        yield f"database {self.database} (create or update)"
        for table in self.tables:
            yield f"table    {self.database}.{table['Name']} → {table['StorageDescriptor']['Location']}"
        for job in self.jobs:
            arguments = " ".join(f"{name} {value}" for name, value in job["DefaultArguments"].items())
            yield f"job      {job['Name']} (Glue {job['GlueVersion']}): {arguments}"
        for ruleset in self.rulesets:
            target = ruleset["TargetTable"]
            yield f"ruleset  {ruleset['Name']} → {target['DatabaseName']}.{target['TableName']}"


def data_quality_ruleset(settings: GlueSettings, table_name: str, text: str) -> dict[str, Any]:
    """The arguments of ``glue.create_data_quality_ruleset`` (less its tags) for a table's ruleset."""
    return {
        "Name": f"{settings.deployment}-{table_name}",
        "Description": f"dq/{table_name}.dqdl of stedi-transforms, for deployment {settings.deployment}",
        "Ruleset": text,
        "TargetTable": {"TableName": table_name, "DatabaseName": settings.database},
    }


def plan(settings: GlueSettings, wheel: Path) -> Plan:
    return Plan(
        uploads=[(wheel, f"{settings.artifacts}{wheel.name}")]
        + [(jobs_folder() / f"{name}.py", settings.script_key(name)) for name in job_names()],
        database=settings.database,
        tables=[landing_table(settings, source) for source in SOURCES],
        jobs=[job_definition(settings, name, wheel.name) for name in job_names()],
        rulesets=[
            data_quality_ruleset(settings, name, text)
            for name in CATALOG_TABLES
            if (text := glue_adapter.ruleset(name)) is not None
        ],
    )


def _get(call: Callable[..., dict[str, Any]], missing: type[Exception], key: str, **arguments: Any) -> Any:
    """``call(**arguments)[key]``, or None when the resource does not exist."""
    try:
        return call(**arguments)[key]
    except missing:
        return None


def _owned_jobs(settings: GlueSettings, glue: Any) -> list[str]:
    """The names of the jobs that carry this deployment's tag."""
    names: list[str] = []
    arguments: dict[str, Any] = {"Tags": settings.tags}
    while True:
        page = glue.list_jobs(**arguments)
        names += page.get("JobNames", [])
        if not page.get("NextToken"):
            return names
        arguments["NextToken"] = page["NextToken"]


def _owned_rulesets(settings: GlueSettings, glue: Any) -> list[str]:
    """The names of the Data Quality rulesets that carry this deployment's tag."""
    names: list[str] = []
    arguments: dict[str, Any] = {"Tags": settings.tags}
    while True:
        page = glue.list_data_quality_rulesets(**arguments)
        names += [ruleset["Name"] for ruleset in page.get("Rulesets", [])]
        if not page.get("NextToken"):
            return names
        arguments["NextToken"] = page["NextToken"]


def check_ownership(settings: GlueSettings, the_plan: Plan, glue: Any) -> None:
    """Refuse, before anything changes, a deployment that would take over what another made: a database created by
    another deployment, a table of another deployment or lake, a job of the same name without this one's tag."""
    missing = glue.exceptions.EntityNotFoundException
    database = _get(glue.get_database, missing, "Database", Name=settings.database)
    if database is not None:
        owner = (database.get("Parameters") or {}).get(TAG)
        if owner not in (None, settings.deployment):
            raise DeployError(
                f"database {settings.database} belongs to deployment {owner}; "
                f"give deployment {settings.deployment} its own with --database"
            )
        for table in the_plan.tables:
            found = _get(glue.get_table, missing, "Table", DatabaseName=settings.database, Name=table["Name"])
            location = table["StorageDescriptor"]["Location"]
            if found is None or settings.owns(found.get("Parameters")):
                continue
            if (found.get("Parameters") or {}).get(TAG) or found.get("StorageDescriptor", {}).get(
                "Location"
            ) != location:
                raise DeployError(
                    f"table {settings.database}.{table['Name']} exists and is not deployment {settings.deployment}'s; "
                    "choose another --database"
                )
    owned = set(_owned_jobs(settings, glue))
    for job in the_plan.jobs:
        if job["Name"] not in owned and _get(glue.get_job, missing, "Job", JobName=job["Name"]) is not None:
            raise DeployError(f"job {job['Name']} exists without the tag {TAG}={settings.deployment}; not touching it")
    owned = set(_owned_rulesets(settings, glue)) if the_plan.rulesets else set()
    for ruleset in the_plan.rulesets:
        name = ruleset["Name"]
        if name not in owned and _get(glue.get_data_quality_ruleset, missing, "Name", Name=name) is not None:
            raise DeployError(f"ruleset {name} exists without the tag {TAG}={settings.deployment}; not touching it")


def deploy(settings: GlueSettings, wheel: Path, s3: Any, glue: Any) -> Plan:
    """Carry out the plan: upload, then create or update the database, the landing tables and the jobs, each tagged
    with the deployment; refuse (:class:`DeployError`) before any change if any of them is another's."""
    the_plan = plan(settings, wheel)
    check_ownership(settings, the_plan, glue)
    tagging = urllib.parse.urlencode(settings.tags)
    for local, key in the_plan.uploads:
        s3.upload_file(str(local), settings.bucket, key, ExtraArgs={"Tagging": tagging})
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):  # ours, or one that was there: teardown keeps it
        glue.create_database(DatabaseInput={"Name": settings.database, "Parameters": settings.tags})
    for table in the_plan.tables:
        try:
            glue.create_table(DatabaseName=settings.database, TableInput=table)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=settings.database, TableInput=table)
    for job in the_plan.jobs:
        try:
            glue.create_job(**job, Tags=settings.tags)
        except (glue.exceptions.AlreadyExistsException, glue.exceptions.IdempotentParameterMismatchException):
            update = {key: value for key, value in job.items() if key != "Name"}  # the plan stays whole for printing
            glue.update_job(JobName=job["Name"], JobUpdate=update)
    for ruleset in the_plan.rulesets:
        try:
            glue.create_data_quality_ruleset(**ruleset, Tags=settings.tags)
        except glue.exceptions.AlreadyExistsException:
            glue.update_data_quality_ruleset(
                Name=ruleset["Name"], Description=ruleset["Description"], Ruleset=ruleset["Ruleset"]
            )
    return the_plan


def run_jobs(
    glue: Any,
    settings: GlueSettings,
    on_state: Callable[[str, str], None] = lambda job, state: None,
    poll_seconds: float = 15.0,
) -> None:
    """Start the deployment's jobs in dependency order, wait for each, stop at the first that does not succeed."""
    for name in settings.job_names():
        try:
            run_id = glue.start_job_run(JobName=name)["JobRunId"]
        except glue.exceptions.EntityNotFoundException as error:
            raise DeployError(f"job {name} does not exist: deploy {settings.deployment} first") from error
        while True:
            run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
            state = run["JobRunState"]
            on_state(name, state)
            if state == "SUCCEEDED":
                break
            if state in FAILED_STATES:
                raise DeployError(f"job {name} {state.lower()}: {run.get('ErrorMessage', 'no message from Glue')}")
            time.sleep(poll_seconds)


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _tables(glue: Any, database: str) -> Iterator[dict[str, Any]]:
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        yield from page.get("TableList", [])


@dataclass
class Teardown:
    """What teardown removes, in order, and what it keeps that a user might expect it to remove."""

    jobs: list[str] = field(default_factory=list)
    rulesets: list[str] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)  # (database, table)
    databases: list[str] = field(default_factory=list)
    objects: dict[str, list[str]] = field(default_factory=dict)  # S3 prefix → its keys
    kept: list[str] = field(default_factory=list)

    def lines(self, bucket: str, done: bool) -> list[str]:
        verb = "removed " if done else "would remove "
        lines = [f"{verb}job      {name}" for name in self.jobs]
        lines += [f"{verb}ruleset  {name}" for name in self.rulesets]
        lines += [f"{verb}table    {database}.{name}" for database, name in self.tables]
        lines += [f"{verb}database {name}" for name in self.databases]
        lines += [
            f"{verb}s3://{bucket}/{prefix} ({len(keys)} objects)" for prefix, keys in self.objects.items() if keys
        ]
        return lines + [f"kept     {item}" for item in self.kept]


def _databases(settings: GlueSettings, glue: Any, jobs: list[str]) -> list[str]:
    """``settings.database`` and the ``--DATABASE`` of each of the deployment's jobs."""
    databases = [settings.database]
    for name in jobs:
        database = glue.get_job(JobName=name)["Job"].get("DefaultArguments", {}).get("--DATABASE")
        if database and database not in databases:
            databases.append(database)
    return databases


def _earlier_jobs(settings: GlueSettings, glue: Any) -> list[str]:
    """The jobs an earlier version's deploy made for this bucket, before deployments had names: named as the pipeline's
    jobs, untagged, for this bucket's lake and run from its ``glue/jobs/``."""
    if settings.deployment != settings.bucket:
        return []
    found = []
    for name in job_names():
        job = _get(glue.get_job, glue.exceptions.EntityNotFoundException, "Job", JobName=name) or {}
        script = f"s3://{settings.bucket}/{ARTIFACTS}/jobs/{name}.py"
        if (
            job.get("DefaultArguments", {}).get("--LAKE") == settings.lake
            and job["Command"].get("ScriptLocation") == script
        ):
            found.append(name)
    return found


def _earlier_artifacts(settings: GlueSettings, s3: Any) -> list[str]:
    """The keys an earlier version's deploy uploaded: ``glue/<wheel>`` and ``glue/jobs/<job>.py``."""
    if settings.deployment != settings.bucket:
        return []
    scripts = {f"{ARTIFACTS}/jobs/{name}.py" for name in job_names()}
    wheels = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=settings.bucket, Prefix=f"{ARTIFACTS}/", Delimiter="/"
        )
        for item in page.get("Contents", [])
        if item["Key"].endswith(".whl")
    ]
    return sorted(wheels) + [key for key in _keys(s3, settings.bucket, f"{ARTIFACTS}/jobs/") if key in scripts]


def teardown_plan(settings: GlueSettings, s3: Any, glue: Any, outputs: bool = False) -> Teardown:
    """What teardown would remove: the jobs and Data Quality rulesets that carry the deployment's tag; in the jobs'
    database (``--DATABASE``) and in ``settings.database``, the tables that carry it and the catalog entries the jobs'
    sinks made for the lake's tables in this lake; a database only if this deployment created it and nothing else is
    left in it; the artifacts; the zone outputs (rejected, trusted, curated) only when ``outputs`` is set; and what an
    earlier version's deploy made for the bucket, before deployments had names. Landing data is never touched."""
    the_plan = Teardown(
        jobs=_owned_jobs(settings, glue) + _earlier_jobs(settings, glue), rulesets=_owned_rulesets(settings, glue)
    )
    for name in _databases(settings, glue, the_plan.jobs):
        database = _get(glue.get_database, glue.exceptions.EntityNotFoundException, "Database", Name=name)
        if database is None:
            continue
        others = []
        for table in _tables(glue, name):
            location = table.get("StorageDescriptor", {}).get("Location", "").rstrip("/")
            made_by_a_job = TAG not in (table.get("Parameters") or {}) and table["Name"] in CATALOG_TABLES
            if settings.owns(table.get("Parameters")) or (made_by_a_job and location.startswith(f"{settings.lake}/")):
                the_plan.tables.append((name, table["Name"]))
            else:
                others.append(table["Name"])
        if not settings.owns(database.get("Parameters")):
            if any(database_name == name for database_name, _ in the_plan.tables):
                the_plan.kept.append(f"database {name} (not created by this deployment)")
        elif others:
            the_plan.kept.append(f"database {name} (it holds others' tables: {', '.join(others)})")
        else:
            the_plan.databases.append(name)
    prefixes = [settings.artifacts]
    if outputs:
        lake = Lake(settings.lake)
        prefixes += [lake.path(table).removeprefix(f"{settings.lake}/") + "/" for table in OUTPUT_TABLES]
    the_plan.objects = {prefix: _keys(s3, settings.bucket, prefix) for prefix in prefixes}
    the_plan.objects[f"{ARTIFACTS}/jobs/*.py, {ARTIFACTS}/*.whl"] = _earlier_artifacts(settings, s3)
    return the_plan


def teardown(settings: GlueSettings, s3: Any, glue: Any, outputs: bool = False, dry_run: bool = False) -> list[str]:
    """Remove what :func:`teardown_plan` finds (nothing when ``dry_run``); one line for each thing removed or kept.
    S3 keys go in batches of 1,000, the most one request takes."""
    the_plan = teardown_plan(settings, s3, glue, outputs)
    if not dry_run:
        for name in the_plan.jobs:
            glue.delete_job(JobName=name)
        for name in the_plan.rulesets:
            glue.delete_data_quality_ruleset(Name=name)
        for database, name in the_plan.tables:
            glue.delete_table(DatabaseName=database, Name=name)
        for database in the_plan.databases:
            glue.delete_database(Name=database)
        for keys in the_plan.objects.values():
            for start in range(0, len(keys), DELETE_BATCH):
                batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
                s3.delete_objects(Bucket=settings.bucket, Delete={"Objects": batch, "Quiet": True})
    return the_plan.lines(settings.bucket, done=not dry_run)
