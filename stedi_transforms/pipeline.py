"""The five jobs of the original design, wired over a table IO: the local lake here, Glue's sinks on AWS.

Each job reads its inputs, calls the pure transforms and writes its outputs; a downstream job reads what the
upstream one wrote, exactly as the Glue jobs do, so ``stedi run`` and the Glue scripts run the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pyspark.sql import DataFrame, SparkSession

from stedi_transforms import transforms
from stedi_transforms.lake import (
    ACCELEROMETER_REJECTED,
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    CUSTOMER_REJECTED,
    CUSTOMER_TRUSTED,
    MACHINE_LEARNING_CURATED,
    STEP_TRAINER_REJECTED,
    STEP_TRAINER_TRUSTED,
    Table,
    local_path,
)
from stedi_transforms.reader import Landing, landing_path, read_landing
from stedi_transforms.schemas import ACCELEROMETER, CUSTOMER, SOURCES, STEP_TRAINER, Source


class TableIO(Protocol):
    """Where the jobs read and write their tables: :class:`stedi_transforms.lake.Lake` or the Glue adapter."""

    def read(self, spark: SparkSession, table: Table) -> DataFrame: ...

    def write(self, df: DataFrame, table: Table) -> None: ...


class LandingError(ValueError):
    """The landing folder is missing, or holds no files for a source."""


def check_landing(landing_root: str) -> None:
    """Raise LandingError unless every source has landing files (local folders only; S3 is checked by Spark)."""
    root = local_path(landing_root)
    if root is None:
        return
    if not root.is_dir():
        raise LandingError(f"landing folder {landing_root} does not exist")
    for source in SOURCES:
        pattern = Path(landing_path(str(root), source))
        if not any(pattern.parent.glob(pattern.name)):
            raise LandingError(f"no landing files for {source.name}: nothing matches {pattern}")


@contextmanager
def _parsed_once(spark: SparkSession, landing_root: str, source: Source) -> Iterator[Landing]:
    """A source's landing, cached while its job writes both the rejected and the trusted table, so the lines
    are parsed once (classic Spark and Glue cache; Sail has no cache and parses twice, which costs it little)."""
    landing = read_landing(spark, landing_root, source)
    parsed = landing.parsed.persist()
    try:
        yield Landing(source, parsed)
    finally:
        parsed.unpersist()


def customer_landing_to_trusted(spark: SparkSession, landing_root: str, io: TableIO) -> None:
    """customer landing → customer_rejected, customer_trusted."""
    with _parsed_once(spark, landing_root, CUSTOMER) as customers:
        io.write(customers.rejected, CUSTOMER_REJECTED)
        io.write(transforms.customer_trusted(customers.accepted), CUSTOMER_TRUSTED)


def accelerometer_landing_to_trusted(spark: SparkSession, landing_root: str, io: TableIO) -> None:
    """accelerometer landing + customer_trusted → accelerometer_rejected, accelerometer_trusted."""
    with _parsed_once(spark, landing_root, ACCELEROMETER) as readings:
        io.write(readings.rejected, ACCELEROMETER_REJECTED)
        trusted = transforms.accelerometer_trusted(readings.accepted, io.read(spark, CUSTOMER_TRUSTED))
        io.write(trusted, ACCELEROMETER_TRUSTED)


def customer_trusted_to_curated(spark: SparkSession, landing_root: str, io: TableIO) -> None:
    """customer_trusted + accelerometer_trusted → customer_curated."""
    curated = transforms.customer_curated(io.read(spark, CUSTOMER_TRUSTED), io.read(spark, ACCELEROMETER_TRUSTED))
    io.write(curated, CUSTOMER_CURATED)


def step_trainer_trusted(spark: SparkSession, landing_root: str, io: TableIO) -> None:
    """step_trainer landing + customer_curated → step_trainer_rejected, step_trainer_trusted."""
    with _parsed_once(spark, landing_root, STEP_TRAINER) as readings:
        io.write(readings.rejected, STEP_TRAINER_REJECTED)
        trusted = transforms.step_trainer_trusted(readings.accepted, io.read(spark, CUSTOMER_CURATED))
        io.write(trusted, STEP_TRAINER_TRUSTED)


def machine_learning_curated(spark: SparkSession, landing_root: str, io: TableIO) -> None:
    """step_trainer_trusted + accelerometer_trusted → machine_learning_curated."""
    curated = transforms.machine_learning_curated(
        io.read(spark, STEP_TRAINER_TRUSTED), io.read(spark, ACCELEROMETER_TRUSTED)
    )
    io.write(curated, MACHINE_LEARNING_CURATED)


Job = Callable[[SparkSession, str, TableIO], None]

JOBS: tuple[Job, ...] = (
    customer_landing_to_trusted,
    accelerometer_landing_to_trusted,
    customer_trusted_to_curated,
    step_trainer_trusted,
    machine_learning_curated,
)
"""The jobs in dependency order, named as the Glue scripts in ``jobs/`` are."""


@dataclass(frozen=True)
class JobTiming:
    name: str
    seconds: float


def run(
    spark: SparkSession,
    landing_root: str,
    io: TableIO,
    on_job_done: Callable[[JobTiming], None] = lambda timing: None,
) -> list[JobTiming]:
    """Run every job in order; each table is replaced whole, so a re-run gives the same tables.

    >>> run(spark, "fixtures", Lake("lake", "parquet"))  # doctest: +SKIP
    """
    check_landing(landing_root)
    timings = []
    for job in JOBS:
        started = time.perf_counter()
        job(spark, landing_root, io)
        timings.append(JobTiming(job.__name__, time.perf_counter() - started))
        on_job_done(timings[-1])
    return timings
