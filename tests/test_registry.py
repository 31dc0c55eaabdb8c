"""The table registry: a table added by one declaration is built and kept up to date, on both engines."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from stedi_transforms import registry
from stedi_transforms.lake import ACCELEROMETER_TRUSTED, Lake, Table
from stedi_transforms.pipeline import JobResult, run
from stedi_transforms.registry import Inputs, TableRule
from stedi_transforms.schemas import USER
from stedi_transforms.transforms import Options
from tests.landing_sets import reading, write_files
from tests.test_incremental import NEW_ROWS_FIRST, A, lines

ORIGINAL = {rule.name: rule for rule in registry.RULES}
"""The registry's rules as the package declares them, whatever a test puts in their place."""


def rule(name: str) -> TableRule:
    return ORIGINAL[name]


def written(results: list[JobResult]) -> set[str]:
    return {name for result in results for name in result.written}


USERS_WITH_READINGS = Table(
    "accelerometer_users", "accelerometer", "users", StructType([StructField(USER, StringType(), True)])
)


def _users(inputs: Inputs, options: Options) -> DataFrame:
    return inputs[ACCELEROMETER_TRUSTED.name].select(USER).distinct()


def _users_added(inputs: Inputs, new: Inputs, table: DataFrame, options: Options) -> DataFrame:
    return new[ACCELEROMETER_TRUSTED.name].select(USER).distinct().subtract(table)


def test_a_table_declared_in_the_registry_alone_is_built_and_kept_up_to_date(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new table, in a job of its own, from the trusted readings: built, then appended to by its own rule when
    dy, who consented, takes a first reading."""
    users = TableRule(USERS_WITH_READINGS, "accelerometer_users", (ACCELEROMETER_TRUSTED,), _users, _users_added)
    monkeypatch.setattr(registry, "RULES", (*registry.RULES, users))
    landing = tmp_path / "landing"
    write_files(landing, NEW_ROWS_FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")

    results = run(spark, str(landing), lake)
    assert (results[-1].name, results[-1].written) == ("accelerometer_users", ["accelerometer_users"])
    expected = spark.createDataFrame([("ada@stedi.test",), ("cy@stedi.test",)], USERS_WITH_READINGS.schema)
    assert_df_equality(lake.read(spark, USERS_WITH_READINGS), expected, ignore_row_order=True)

    write_files(landing, {f"{A}/2023/08/07/readings-3.json": lines(reading("dy@stedi.test", 5))})
    assert "accelerometer_users" in written(run(spark, str(landing), lake))
    rows = [("ada@stedi.test",), ("cy@stedi.test",), ("dy@stedi.test",)]
    assert_df_equality(
        lake.read(spark, USERS_WITH_READINGS),
        spark.createDataFrame(rows, USERS_WITH_READINGS.schema),
        ignore_row_order=True,
    )
    assert DeltaTable(lake.path(USERS_WITH_READINGS)).history(1)[0]["operationParameters"]["mode"] == "Append"
    assert written(run(spark, str(landing), lake)) == set()


def test_a_rule_names_known_options_and_a_job_the_registry_has() -> None:
    with pytest.raises(ValueError, match=r"^customer_trusted: unknown options \['cutoff'\]"):
        replace(rule("customer_trusted"), options=("cutoff",))
    with pytest.raises(ValueError, match=r"^unknown job 'nightly'; choose one of customer_landing_to_trusted, "):
        registry.job_rules("nightly")
