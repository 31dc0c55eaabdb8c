"""The lake's layout and all table IO: where each table lives, and how it is written and read.

Tables live under ``<lake>/<entity>/<zone>``, as in the S3 bucket of the original design. Every write replaces the
whole table in one step, so a re-run never duplicates rows and a failed write leaves the previous table as it was:
Delta commits a new version of the table; Parquet and JSON are written beside the table and swapped in.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
from pyspark.sql.types import StructType

from stedi_transforms.engines import counted
from stedi_transforms.schemas import (
    ACCELEROMETER,
    ACCELEROMETER_SCHEMA,
    CUSTOMER,
    CUSTOMER_SCHEMA,
    FILE,
    MACHINE_LEARNING_CURATED_SCHEMA,
    REASON,
    REJECTED_SCHEMA,
    SENSOR_READING_TIME,
    STEP_TRAINER,
    STEP_TRAINER_SCHEMA,
    TIMESTAMP,
    Source,
    ingested_schema,
)
from stedi_transforms.storage import Store, open_store

FORMATS = ("delta", "parquet", "json")
DEFAULT_FORMAT = "delta"


@dataclass(frozen=True)
class Table:
    """A table of the lake: its name in the Data Catalog, its folder (``entity/zone``) and its schema.

    ``stats`` names the columns whose minimum, maximum and null count a Delta table keeps for every file, to skip
    files when it is read with a filter on them; empty means Delta's default (its first 32 columns). Collecting
    them is part of every write: the big tables keep them only where they help, on the columns they are read by.
    A table keeps the choice it was made with.
    """

    name: str
    entity: str
    zone: str
    schema: StructType
    stats: tuple[str, ...] = ()


def ingested_table(source: Source) -> Table:
    """Every landing line of a source, parsed once, with its file and line: ``<source>/ingested``. The lake reads it
    by file (replacing a changed file's rows) and by reason (the quarantine): its statistics are of those two."""
    return Table(f"{source.name}_ingested", source.name, "ingested", ingested_schema(source), (FILE, REASON))


def rejected_table(source: Source) -> Table:
    """The quarantine table of a landing source: ``<source>/rejected``."""
    return Table(f"{source.name}_rejected", source.name, "rejected", REJECTED_SCHEMA)


CUSTOMER_INGESTED = ingested_table(CUSTOMER)
ACCELEROMETER_INGESTED = ingested_table(ACCELEROMETER)
STEP_TRAINER_INGESTED = ingested_table(STEP_TRAINER)
CUSTOMER_REJECTED = rejected_table(CUSTOMER)
ACCELEROMETER_REJECTED = rejected_table(ACCELEROMETER)
STEP_TRAINER_REJECTED = rejected_table(STEP_TRAINER)
CUSTOMER_TRUSTED = Table("customer_trusted", "customer", "trusted", CUSTOMER_SCHEMA)
# The tables of readings are read by time, the moment a reading was taken (landing files come in time order).
ACCELEROMETER_TRUSTED = Table("accelerometer_trusted", "accelerometer", "trusted", ACCELEROMETER_SCHEMA, (TIMESTAMP,))
STEP_TRAINER_TRUSTED = Table(
    "step_trainer_trusted", "step_trainer", "trusted", STEP_TRAINER_SCHEMA, (SENSOR_READING_TIME,)
)
CUSTOMER_CURATED = Table("customer_curated", "customer", "curated", CUSTOMER_SCHEMA)
MACHINE_LEARNING_CURATED = Table(
    "machine_learning_curated", "step_trainer", "curated", MACHINE_LEARNING_CURATED_SCHEMA, (SENSOR_READING_TIME,)
)

OUTPUT_TABLES = (
    CUSTOMER_REJECTED,
    ACCELEROMETER_REJECTED,
    STEP_TRAINER_REJECTED,
    CUSTOMER_TRUSTED,
    ACCELEROMETER_TRUSTED,
    STEP_TRAINER_TRUSTED,
    CUSTOMER_CURATED,
    MACHINE_LEARNING_CURATED,
)

INGESTED_TABLES = (CUSTOMER_INGESTED, ACCELEROMETER_INGESTED, STEP_TRAINER_INGESTED)
REJECTED_TABLES = (CUSTOMER_REJECTED, ACCELEROMETER_REJECTED, STEP_TRAINER_REJECTED)

TABLE_NAMES = (
    *[f"{source.name}_landing" for source in (CUSTOMER, ACCELEROMETER, STEP_TRAINER)],
    *[table.name for table in OUTPUT_TABLES],
)
"""Every table of the lake, landing to curated, in the order reports list them."""


class TableReader(Protocol):
    """Anything that reads the lake's tables: the :class:`Lake` itself or the Glue adapter."""

    def read(self, spark: SparkSession, table: Table) -> DataFrame: ...


def check_format(table_format: str) -> str:
    """Return ``table_format`` if it is one of :data:`FORMATS`, else raise ValueError naming them."""
    if table_format not in FORMATS:
        raise ValueError(f"unknown format {table_format!r}; choose one of {', '.join(FORMATS)}")
    return table_format


def local_path(path: str) -> Path | None:
    """The local folder behind a path, or None for a remote one (``s3://…``)."""
    if path.startswith("file:"):
        return Path(path.removeprefix("file:").removeprefix("//"))
    return None if "://" in path else Path(path)


DELTA_VERSION = re.compile(r"\d{20}\.(json|checkpoint(\.[^/]+)?\.(parquet|json))")
"""The name of a file in ``_delta_log`` that makes a version of the table: a commit, or a checkpoint of it (classic,
in parts, or V2)."""


def detect_format(path: str) -> str | None:
    """The format of the local table at ``path``: ``delta`` when it has a ``_delta_log``, else by its files.

    A ``_delta_log`` without a version (a first commit killed) is still Delta here, unlike for :meth:`Lake.exists`:
    this tells :meth:`Lake.write` how to replace the folder, and a Delta write over such a log makes the table."""
    folder = local_path(path)
    if folder is None or not folder.is_dir():
        return None
    if (folder / "_delta_log").is_dir():
        return "delta"
    for table_format in ("parquet", "json"):
        if any(folder.glob(f"*.{table_format}")):
            return table_format
    return None


@dataclass(frozen=True)
class Lake:
    """A lake root (a local folder or an ``s3://`` prefix) and the format its tables are written in.

    >>> lake = Lake("lake", "parquet")
    >>> lake.path(CUSTOMER_TRUSTED)
    'lake/customer/trusted'
    """

    root: str
    table_format: str = DEFAULT_FORMAT

    def __post_init__(self) -> None:
        check_format(self.table_format)

    @property
    def incremental(self) -> bool:
        """Delta tables take rows file by file (:meth:`append`, :meth:`replace_files`); the others are rewritten."""
        return self.table_format == "delta"

    @cached_property
    def store(self) -> Store:
        """Where the lake keeps its own records (``_stedi/``) beside the tables."""
        return open_store(self.root)

    def exists(self, table: Table) -> bool:
        """Whether ``table`` has been written (with this lake's format). A Delta table exists from its first commit:
        a run killed while making it can leave a ``_delta_log`` folder that holds none (only the engine's
        unfinished commit file). The listing stops at the first version: on S3 that is the first request, as the
        versions' names (digits) sort before the log's other files and folders (``_last_checkpoint``, ``_sidecars``)."""
        if self.table_format != "delta":
            return self.store.exists(f"{table.entity}/{table.zone}")
        log = self.store.names(f"{table.entity}/{table.zone}/_delta_log")
        return any(DELTA_VERSION.fullmatch(name) for name in log)

    def path(self, table: Table) -> str:
        return f"{self.root.rstrip('/')}/{table.entity}/{table.zone}"

    def write(self, df: DataFrame, table: Table) -> int | None:
        """Replace ``table`` with ``df`` (columns in the table's order) in one step; return the rows written,
        where the engine counts them on the way (:func:`stedi_transforms.engines.counted`)."""
        df, rows = counted(df.select(*table.schema.fieldNames()))
        target = self.path(table)
        folder = local_path(target)
        if folder is None or (
            self.table_format == "delta" and (not folder.exists() or detect_format(target) == "delta")
        ):
            # Delta's overwrite is one commit that keeps the previous version in the table's history, and a new
            # Delta table is made by its first commit, an append: an overwrite first looks for the files it
            # replaces, on classic Spark one more query over the table's log for each table a fresh lake makes. A
            # remote path gets the engine's own overwrite (the Glue jobs purge their catalog-updating sinks
            # themselves).
            writer = df.write.format(self.table_format).mode("overwrite")
            if self.table_format == "delta" and self.exists(table):
                writer = _stats(writer.option("overwriteSchema", "true"), table)
            elif self.table_format == "delta":
                writer = _stats(writer.mode("append"), table)
            writer.save(target)
        else:
            _swap_in(df, self.table_format, folder)
        return rows()

    def append(self, df: DataFrame, table: Table) -> None:
        """Add ``df``'s rows to a Delta table in one commit (making the table if it is new)."""
        _stats(df.select(*table.schema.fieldNames()).write.format("delta").mode("append"), table).save(self.path(table))

    def replace_files(self, df: DataFrame, table: Table, files: Sequence[str]) -> None:
        """Replace, in one Delta commit, the rows of ``files`` (the ``file`` column) with ``df``'s rows."""
        listed = ", ".join(sql_string(name) for name in sorted(files))
        writer = df.select(*table.schema.fieldNames()).write.format("delta").mode("overwrite")
        writer.option("replaceWhere", f"{FILE} IN ({listed})").save(self.path(table))

    def read(self, spark: SparkSession, table: Table) -> DataFrame:
        """Read ``table`` in this lake's format, with its schema (never inferred)."""
        reader = spark.read.format(self.table_format)
        if self.table_format != "delta":
            reader = reader.schema(table.schema)
        return reader.load(self.path(table))


def sql_string(value: str) -> str:
    r"""``value`` as a SQL string literal that Spark 3.5 (Glue 5), Spark 4 and Sail all read back as it is: every
    backslash and quote escaped by a backslash. (Spark 4 reads ``''`` as a quote, but Spark 3.5 as two literals run
    together, and every version reads a lone backslash as an escape.)

    >>> print(sql_string("O'Brien\\x"))
    'O\'Brien\\x'
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stats(writer: DataFrameWriter, table: Table) -> DataFrameWriter:
    """A Delta writer that makes ``table``, if it is new, with statistics of its :attr:`Table.stats` columns."""
    return writer.option("delta.dataSkippingStatsColumns", ",".join(table.stats)) if table.stats else writer


def _swap_in(df: DataFrame, table_format: str, folder: Path) -> None:
    """Write ``df`` into a hidden folder beside ``folder``, then rename it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    staging = folder.with_name(f".{folder.name}.staging-{token}")
    retired = folder.with_name(f".{folder.name}.retired-{token}")
    try:
        df.write.format(table_format).mode("error").save(str(staging))
        staging.mkdir(exist_ok=True)  # Sail writes no folder at all for an empty table
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if folder.exists():
        os.rename(folder, retired)
    os.rename(staging, folder)
    shutil.rmtree(retired, ignore_errors=True)
