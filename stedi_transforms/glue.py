"""The AWS Glue adapter: job arguments, the Glue context, and table IO through Glue's sinks and the Data Catalog.

The only module that touches ``awsglue``, and only inside functions, so the rest of the package never needs it.
The job scripts in ``jobs/`` are a few lines over :func:`glue_job`; the zone logic is the pipeline's own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from stedi_transforms.lake import Lake, Table
from stedi_transforms.ledger import RunRecord, load_state, now, record_run
from stedi_transforms.lock import lake_lock, new_run_id
from stedi_transforms.pipeline import Job, JobResult, Settings
from stedi_transforms.storage import Store
from stedi_transforms.transforms import Options

GLUE_FORMATS = ("json", "glueparquet", "delta")
"""json and glueparquet go through the catalog-updating sink (Glue Studio's way); delta through the DataFrame API."""
_LAKE_FORMATS = {"json": "json", "glueparquet": "parquet", "delta": "delta"}

REQUIRED_ARGUMENTS = ("JOB_NAME", "LAKE", "DATABASE", "FORMAT")
OPTIONAL_ARGUMENTS = ("LANDING", "FULL_REFRESH", "ML_JOIN", "CONSENT_CUTOFF")


@dataclass(frozen=True)
class JobArguments:
    """A job's arguments: ``--JOB_NAME``, ``--LAKE s3://bucket/prefix``, ``--DATABASE``, ``--FORMAT`` and
    optionally ``--LANDING`` (default: the lake itself), ``--FULL_REFRESH true``, and the ML table's options
    ``--ML_JOIN timestamp|owner`` and ``--CONSENT_CUTOFF true``."""

    job_name: str
    lake: str
    database: str
    table_format: str
    landing: str
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        if self.table_format not in GLUE_FORMATS:
            raise ValueError(f"unknown --FORMAT {self.table_format!r}; choose one of {', '.join(GLUE_FORMATS)}")


def resolve_arguments(argv: Sequence[str]) -> JobArguments:
    """Parse the job's arguments with Glue's own ``getResolvedOptions``.

    It makes every name it is given required, so the optional ``--LANDING`` is resolved only when present.
    """
    from awsglue.utils import getResolvedOptions

    present = [name for name in OPTIONAL_ARGUMENTS if f"--{name}" in argv]
    options = getResolvedOptions(list(argv), [*REQUIRED_ARGUMENTS, *present])
    return JobArguments(
        job_name=options["JOB_NAME"],
        lake=options["LAKE"],
        database=options["DATABASE"],
        table_format=options["FORMAT"],
        landing=options.get("LANDING") or options["LAKE"],
        settings=Settings(
            full_refresh=options.get("FULL_REFRESH", "false").lower() == "true",
            options=Options(
                ml_join=options.get("ML_JOIN", "timestamp"),
                consent_cutoff=options.get("CONSENT_CUTOFF", "false").lower() == "true",
            ),
        ),
    )


class GlueTableIO:
    """Reads tables from the lake's S3 paths and writes them so that each run replaces the last one.

    json and glueparquet: purge the table's path, then write with the sink that creates the Data Catalog table and
    updates its schema (it appends, so without the purge every re-run would duplicate the table). delta: a Delta
    overwrite, one commit; register the table for Athena with the DDL in ``sql/``.
    """

    def __init__(self, glue_context: Any, dynamic_frame: Any, arguments: JobArguments) -> None:
        self._glue_context = glue_context
        self._dynamic_frame = dynamic_frame
        self._arguments = arguments
        self._lake = Lake(arguments.lake, _LAKE_FORMATS[arguments.table_format])  # the local lake's layout and reads

    @property
    def table_format(self) -> str:
        return self._lake.table_format

    @property
    def settings(self) -> Settings:
        return self._arguments.settings

    @property
    def incremental(self) -> bool:
        """Delta tables are kept up to date file by file; the catalog-updating sinks rewrite whole tables."""
        return self._lake.incremental

    @property
    def store(self) -> Store:
        return self._lake.store

    def exists(self, table: Table) -> bool:
        return self._lake.exists(table)

    def read(self, spark: SparkSession, table: Table) -> DataFrame:
        return self._lake.read(spark, table)

    def append(self, df: DataFrame, table: Table) -> None:
        self._lake.append(df, table)

    def replace_files(self, df: DataFrame, table: Table, files: Sequence[str]) -> None:
        self._lake.replace_files(df, table, files)

    def write(self, df: DataFrame, table: Table) -> int | None:
        if self._arguments.table_format == "delta":
            return self._lake.write(df, table)
        df = df.select(*table.schema.fieldNames())
        path = self._lake.path(table)
        self._glue_context.purge_s3_path(path, {"retentionPeriod": 0})
        sink = self._glue_context.getSink(
            connection_type="s3",
            path=path,
            enableUpdateCatalog=True,
            updateBehavior="UPDATE_IN_DATABASE",
            partitionKeys=[],
        )
        sink.setCatalogInfo(catalogDatabase=self._arguments.database, catalogTableName=table.name)
        sink.setFormat(self._arguments.table_format)
        sink.writeFrame(self._dynamic_frame.fromDF(df, self._glue_context, table.name))
        return None


def _runtime() -> tuple[Any, Any, Any, Any]:
    """Glue's classes: SparkContext, GlueContext, DynamicFrame and Job (imported here, on Glue only)."""
    from awsglue.context import GlueContext
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.job import Job
    from pyspark import SparkContext

    return SparkContext, GlueContext, DynamicFrame, Job


@contextmanager
def glue_job(argv: Sequence[str] | None = None) -> Iterator[tuple[SparkSession, str, GlueTableIO]]:
    """Resolve the arguments, build the Glue context and ``job.init``; hold the lake's lock and yield the session,
    the landing root and the table IO; ``job.commit`` when the body succeeds.

    >>> with glue_job() as (spark, landing, io):  # doctest: +SKIP
    ...     pipeline.customer_landing_to_trusted(spark, landing, io)
    """
    arguments = resolve_arguments(sys.argv if argv is None else argv)
    spark_context_type, glue_context_type, dynamic_frame_type, job_type = _runtime()
    glue_context = glue_context_type(spark_context_type.getOrCreate())
    job = job_type(glue_context)
    job.init(arguments.job_name, {"JOB_NAME": arguments.job_name})
    with lake_lock(arguments.lake, new_run_id(), arguments.job_name) as lease:
        arguments = replace(arguments, settings=replace(arguments.settings, lease=lease))
        yield glue_context.spark_session, arguments.landing, GlueTableIO(glue_context, dynamic_frame_type, arguments)
    job.commit()


def run_glue_job(job: Job, argv: Sequence[str] | None = None) -> JobResult:
    """Run one pipeline job as a Glue job script does, and record it in the lake's run history.

    >>> run_glue_job(pipeline.customer_landing_to_trusted)  # doctest: +SKIP
    """
    started_at, started = now(), time.perf_counter()
    with glue_job(argv) as (spark, landing, io):
        result = job(spark, landing, io, io.settings)
        written = load_state(io.store, io.table_format).rows  # as recorded when each table was written
        record = RunRecord(
            run_id=new_run_id(),
            job=job.__name__,
            started=started_at,
            seconds=round(time.perf_counter() - started, 3),
            engine="glue",
            table_format=io.table_format,
            landing=landing,
            files={name: changes.as_json() for name, changes in result.files.items()},
            lines_ingested=result.lines_parsed,
            rows_written={name: written[name] for name in result.written},
            full_refresh=io.settings.full_refresh,
            options=asdict(io.settings.options),
        )
        if io.settings.lease is not None:
            io.settings.lease.check()
        record_run(io.store, record)
    return result
