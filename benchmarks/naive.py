"""The naive reference: the same engine reading the landing files with ``spark.read.json`` and the schema, then the
same five transforms writing the same tables, as the pipeline's jobs do, but with no quarantine. Beside the
library's strict reader it shows what strictness costs.

    python -m benchmarks.naive --landing DIR --lake DIR [--engine sail|spark] [--format delta|parquet|json]
"""

from __future__ import annotations

import argparse

from pyspark.sql import DataFrame, SparkSession

from stedi_transforms import transforms
from stedi_transforms.engines import DEFAULT_ENGINE, ENGINES, get_session
from stedi_transforms.lake import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    CUSTOMER_TRUSTED,
    DEFAULT_FORMAT,
    FORMATS,
    MACHINE_LEARNING_CURATED,
    STEP_TRAINER_TRUSTED,
    Lake,
    Table,
)
from stedi_transforms.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER, Source


def read_naively(spark: SparkSession, landing_root: str, source: Source) -> DataFrame:
    """A source's flat landing files as the engine's JSON reader takes them: whatever does not fit becomes null."""
    return spark.read.json(f"{landing_root.rstrip('/')}/{source.name}/landing/*.json", schema=source.schema)


def run_naive(spark: SparkSession, landing_root: str, lake: Lake) -> None:
    """The five jobs, each reading the tables the ones before it wrote."""

    def table(name: Table) -> DataFrame:
        return lake.read(spark, name)

    lake.write(transforms.customer_trusted(read_naively(spark, landing_root, CUSTOMER)), CUSTOMER_TRUSTED)
    accelerometer = read_naively(spark, landing_root, ACCELEROMETER)
    lake.write(transforms.accelerometer_trusted(accelerometer, table(CUSTOMER_TRUSTED)), ACCELEROMETER_TRUSTED)
    lake.write(transforms.customer_curated(table(CUSTOMER_TRUSTED), table(ACCELEROMETER_TRUSTED)), CUSTOMER_CURATED)
    step_trainer = read_naively(spark, landing_root, STEP_TRAINER)
    lake.write(transforms.step_trainer_trusted(step_trainer, table(CUSTOMER_CURATED)), STEP_TRAINER_TRUSTED)
    curated = transforms.machine_learning_curated(table(STEP_TRAINER_TRUSTED), table(ACCELEROMETER_TRUSTED))
    lake.write(curated, MACHINE_LEARNING_CURATED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE)
    parser.add_argument("--format", choices=FORMATS, default=DEFAULT_FORMAT)
    args = parser.parse_args()
    run_naive(get_session(args.engine), args.landing, Lake(args.lake, args.format))


if __name__ == "__main__":
    main()
