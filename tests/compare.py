"""Whole tables compared at once: the tables of a lake against those of another lake, or against what the fixtures
must give."""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi_transforms.lake import INGESTED_TABLES, OUTPUT_TABLES, Lake, Table
from tests.fixture_tables import expected_table

LAKE_TABLES = (*INGESTED_TABLES, *OUTPUT_TABLES)
"""What a lake holds: the ingested tables (rejected rows included) and the zones built from them."""


def assert_same_tables(pairs: Iterable[tuple[Table, DataFrame, DataFrame]]) -> None:
    """Each pair of DataFrames (what a table holds, what it should hold) has the same columns of the same types,
    nullability aside, and the same rows in any order, duplicates counted.

    The rows of every table are compared in one chispa comparison, each row as JSON beside its table's name: the
    engine runs one query per side, not one per table (on classic Spark each is several jobs), and a difference
    shows the table it is in."""
    pairs = list(pairs)
    for table, actual, expected in pairs:
        assert _columns(actual) == _columns(expected), f"{table.name}: other columns"

    def as_rows(tables: list[tuple[Table, DataFrame]]) -> DataFrame:
        return reduce(
            DataFrame.unionByName,
            [
                df.select(F.lit(table.name).alias("table"), F.to_json(F.struct(*df.columns)).alias("row"))
                for table, df in tables
            ],
        )

    actual, expected = (
        as_rows([(table, df) for table, df, _ in pairs]),
        as_rows([(table, df) for table, _, df in pairs]),
    )
    assert_df_equality(actual, expected, ignore_row_order=True)


def _columns(df: DataFrame) -> list[tuple[str, str]]:
    return [(field.name, field.dataType.simpleString()) for field in df.schema.fields]


def assert_lake_holds_the_expected_tables(
    spark: SparkSession, lake: Lake, tables: Iterable[Table] = OUTPUT_TABLES
) -> None:
    """Every table of ``lake`` (of ``tables``) holds exactly what the pipeline must give on ``fixtures/``."""
    assert_same_tables((table, lake.read(spark, table), expected_table(spark, table)) for table in tables)


def assert_same_lakes(spark: SparkSession, lake: Lake, reference: Lake, tables: Iterable[Table] = LAKE_TABLES) -> None:
    """Every table of ``lake`` (of ``tables``: by default the ingested, rejected and output ones) holds what it
    holds in ``reference``."""
    assert_same_tables((table, lake.read(spark, table), reference.read(spark, table)) for table in tables)
