"""The AWS Glue adapter: job arguments, the Glue context, and table IO through Glue's sinks and the Data Catalog.

The only module that touches ``awsglue`` and ``awsgluedq``, and only inside functions, so the rest of the package
never needs them. The job scripts in ``jobs/`` are a few lines over :func:`glue_job`; the zone logic is the pipeline's
own. After its writes a job evaluates each written table's Glue Data Quality ruleset, ``dq/<table>.dqdl`` in the
package, with Glue's ``EvaluateDataQuality``, and publishes the results as Glue does.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from stedi_transforms import pipeline, registry
from stedi_transforms.lake import Lake, Table
from stedi_transforms.ledger import now, record_run
from stedi_transforms.lock import lake_lock, new_run_id
from stedi_transforms.options import FORMS
from stedi_transforms.pipeline import JobResult, Settings, run_record
from stedi_transforms.storage import Store
from stedi_transforms.transforms import Options

GLUE_FORMATS = ("json", "glueparquet", "delta")
"""json and glueparquet go through the catalog-updating sink (Glue Studio's way); delta through the DataFrame API."""
_LAKE_FORMATS = {"json": "json", "glueparquet": "parquet", "delta": "delta"}

REQUIRED_ARGUMENTS = ("JOB_NAME", "LAKE", "DATABASE", "FORMAT")
OPTIONAL_ARGUMENTS = ("LANDING", "FULL_REFRESH", *(form.argument for form in FORMS), "DQ_ACTION")
DQ_ACTIONS = ("warn", "fail")
"""What a job does when a table fails a rule of its ruleset: say so in its log, or fail after its writes."""

RULESETS: Traversable = files("stedi_transforms") / "dq"
"""The Glue Data Quality rulesets, one DQDL file per lake table: ``dq/<table>.dqdl``."""
_QUOTED_NAME = re.compile(r'"([A-Za-z0-9_]+)[".]')  # "customer_trusted" or "customer_trusted.email" in a rule


def ruleset(table_name: str) -> str | None:
    """The DQDL text of a table's ruleset, or None when the package has none for it."""
    path = RULESETS / f"{table_name}.dqdl"
    return path.read_text(encoding="utf-8") if path.is_file() else None


class DataQualityError(RuntimeError):
    """A table failed rules of its ruleset under ``--DQ_ACTION fail``; the message names the tables and rules."""


@dataclass(frozen=True)
class JobArguments:
    """A job's arguments: ``--JOB_NAME``, ``--LAKE s3://bucket/prefix``, ``--DATABASE``, ``--FORMAT`` and
    optionally ``--LANDING`` (default: the lake itself), ``--FULL_REFRESH true``, and the ML table's options
    ``--ML_JOIN timestamp|owner`` and ``--CONSENT_CUTOFF true``, and ``--DQ_ACTION warn|fail`` (default warn)."""

    job_name: str
    lake: str
    database: str
    table_format: str
    landing: str
    settings: Settings = field(default_factory=Settings)
    dq_action: str = "warn"

    def __post_init__(self) -> None:
        if self.table_format not in GLUE_FORMATS:
            raise ValueError(f"unknown --FORMAT {self.table_format!r}; choose one of {', '.join(GLUE_FORMATS)}")
        if self.dq_action not in DQ_ACTIONS:
            raise ValueError(f"unknown --DQ_ACTION {self.dq_action!r}; choose one of {', '.join(DQ_ACTIONS)}")


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
            options=Options(**{form.name: form.from_glue(options.get(form.argument)) for form in FORMS}),  # type: ignore[arg-type]
        ),
        dq_action=options.get("DQ_ACTION", "warn").lower(),
    )


class GlueTableIO:
    """Reads tables from the lake's S3 paths and writes them so that each run replaces the last one.

    json and glueparquet: purge the table's path, then write with the sink that creates the Data Catalog table and
    updates its schema (it appends, so without the purge every re-run would duplicate the table). delta: a Delta
    overwrite, one commit; register the table for Athena with the DDL in ``sql/``.
    """

    def __init__(
        self, glue_context: Any, dynamic_frame: Any, arguments: JobArguments, evaluate_data_quality: Any = None
    ) -> None:
        self._glue_context = glue_context
        self._dynamic_frame = dynamic_frame
        self._arguments = arguments
        self._evaluate_data_quality = evaluate_data_quality  # awsgluedq's EvaluateDataQuality, None where it is missing
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

    def check_quality(self, spark: SparkSession, table_names: Sequence[str], say: Callable[[str], None]) -> None:
        """Evaluate each table's ruleset with Glue's ``EvaluateDataQuality``, publishing the results under the table's
        name as evaluation context; tables a rule names (``"customer_trusted.email"``) go along as additional data
        sources. ``say`` gets a line per table (how many rules passed, or why nothing was evaluated) and one per rule
        whose outcome is not Passed; under ``--DQ_ACTION fail`` any such rule raises :class:`DataQualityError` once
        every table has been evaluated."""
        failures: list[str] = []
        lake_tables = {table.name: table for table in registry.tables()}
        for name in table_names:
            text = ruleset(name)
            if text is None:
                say(f"data quality {name}: no ruleset dq/{name}.dqdl in the package; nothing evaluated")
                continue
            if self._evaluate_data_quality is None:
                say(f"data quality {name}: awsgluedq is not installed here; ruleset not evaluated")
                continue
            frame = self._dynamic_frame.fromDF(self.read(spark, lake_tables[name]), self._glue_context, name)
            references = {
                other: self._dynamic_frame.fromDF(self.read(spark, lake_tables[other]), self._glue_context, other)
                for other in dict.fromkeys(_QUOTED_NAME.findall(text))
                if other != name and other in lake_tables and self.exists(lake_tables[other])
            }
            results = self._evaluate_data_quality().process_rows(
                frame=frame,
                ruleset=text,
                publishing_options={
                    "dataQualityEvaluationContext": name,
                    "enableDataQualityResultsPublishing": True,
                },
                additional_options={"dataQualityResultsPublishing.strategy": "BEST_EFFORT"},
                additional_data_sources=references,
            )
            outcomes = results.select("ruleOutcomes").toDF().select("Rule", "Outcome", "FailureReason").collect()
            failed = [row for row in outcomes if row["Outcome"] != "Passed"]
            say(f"data quality {name}: {len(outcomes) - len(failed)} of {len(outcomes)} rules passed")
            for row in failed:
                say(f"data quality {name}: {row['Outcome'].lower()} {row['Rule']}: {row['FailureReason']}")
                failures.append(f"{name}: {row['Rule']}")
        if failures and self._arguments.dq_action == "fail":
            raise DataQualityError(f"data quality failed (--DQ_ACTION fail): {'; '.join(failures)}")


def _data_quality() -> Any:
    """Glue's ``EvaluateDataQuality`` transform, or None where ``awsgluedq`` is missing (Glue's local images)."""
    try:
        from awsgluedq.transforms import EvaluateDataQuality
    except ImportError:
        return None
    return EvaluateDataQuality


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
    ...     pipeline.job("customer_landing_to_trusted")(spark, landing, io)
    """
    arguments = resolve_arguments(sys.argv if argv is None else argv)
    spark_context_type, glue_context_type, dynamic_frame_type, job_type = _runtime()
    glue_context = glue_context_type(spark_context_type.getOrCreate())
    job = job_type(glue_context)
    job.init(arguments.job_name, {"JOB_NAME": arguments.job_name})
    with lake_lock(arguments.lake, new_run_id(), arguments.job_name) as lease:
        arguments = replace(arguments, settings=replace(arguments.settings, lease=lease))
        io = GlueTableIO(glue_context, dynamic_frame_type, arguments, _data_quality())
        yield glue_context.spark_session, arguments.landing, io
    job.commit()


def run_glue_job(name: str, argv: Sequence[str] | None = None) -> JobResult:
    """Run the pipeline's job ``name`` (:data:`stedi_transforms.registry.RULES` names the jobs) as a Glue job
    script does, and record it in the lake's run history; a table rebuilt because its rule changed is said in the
    job's log.

    >>> run_glue_job("customer_landing_to_trusted")  # doctest: +SKIP
    """
    job = pipeline.job(name)  # an unknown name stops here, before Glue is touched
    started_at, started = now(), time.perf_counter()
    with glue_job(argv) as (spark, landing, io):
        result = job(spark, landing, io, io.settings)
        for table in result.rules_changed:
            print(f"{table}: rule changed, rebuilt", flush=True)
        record = run_record(
            io,
            landing,
            io.settings,
            [result],
            job=name,
            run_id=new_run_id(),
            started_at=started_at,
            seconds=time.perf_counter() - started,
            engine="glue",
        )
        if io.settings.lease is not None:
            io.settings.lease.check()
        record_run(io.store, record)
        io.check_quality(spark, result.written, say=lambda line: print(line, flush=True))  # the job's output log
    return result
