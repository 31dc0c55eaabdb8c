"""The table registry: a table added by one declaration is built, on both engines; a changed rule rebuilds exactly
the tables it reaches, says so, and leaves what a full rebuild leaves; a lake built before rules had fingerprints
is rebuilt once."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from stedi_transforms import cli_lake, pipeline, registry, transforms
from stedi_transforms.cli import main
from stedi_transforms.engines import local_frame
from stedi_transforms.lake import ACCELEROMETER_TRUSTED, INGESTED_TABLES, OUTPUT_TABLES, Lake, Table
from stedi_transforms.ledger import STATE
from stedi_transforms.pipeline import JobResult, run
from stedi_transforms.registry import Inputs, TableRule
from stedi_transforms.schemas import EMAIL, USER
from stedi_transforms.transforms import Options
from tests.conftest import classic_in_integration, only_on
from tests.landing_sets import reading, write_files
from tests.test_incremental import FIRST, NEW_ROWS_FIRST, A, assert_same_lake, lines

DOWNSTREAM_OF_CUSTOMERS = {
    "customer_trusted", "accelerometer_trusted", "customer_curated", "step_trainer_trusted",
    "machine_learning_curated",
}  # fmt: skip


ORIGINAL = {rule.name: rule for rule in registry.RULES}
"""The registry's rules as the package declares them, whatever a test puts in their place."""


def rule(name: str) -> TableRule:
    return ORIGINAL[name]


def with_rule(new: TableRule) -> tuple[TableRule, ...]:
    """The registry's rules with ``new`` in place of the rule of its table."""
    return tuple(new if old.name == new.name else old for old in registry.RULES)


def written(results: list[JobResult]) -> set[str]:
    return {name for result in results for name in result.written}


def rules_changed(results: list[JobResult]) -> list[str]:
    return [name for result in results for name in result.rules_changed]


USERS_WITH_READINGS = Table(
    "accelerometer_users", "accelerometer", "users", StructType([StructField(USER, StringType(), True)])
)


def _users(inputs: Inputs, options: Options) -> DataFrame:
    return inputs[ACCELEROMETER_TRUSTED.name].select(USER).distinct()


def _users_added(inputs: Inputs, new: Inputs, table: DataFrame, options: Options) -> DataFrame:
    return new[ACCELEROMETER_TRUSTED.name].select(USER).distinct().subtract(table)


@classic_in_integration  # three and five runs: half a minute on classic Spark
def test_a_table_declared_in_the_registry_alone_is_built_and_kept_up_to_date(
    spark: SparkSession, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    expected = local_frame(spark, [("ada@stedi.test",), ("cy@stedi.test",)], USERS_WITH_READINGS.schema)
    assert_df_equality(lake.read(spark, USERS_WITH_READINGS), expected, ignore_row_order=True)

    write_files(landing, {f"{A}/2023/08/07/readings-3.json": lines(reading("dy@stedi.test", 5))})
    assert "accelerometer_users" in written(run(spark, str(landing), lake))
    rows = [("ada@stedi.test",), ("cy@stedi.test",), ("dy@stedi.test",)]
    assert_df_equality(
        lake.read(spark, USERS_WITH_READINGS),
        local_frame(spark, rows, USERS_WITH_READINGS.schema),
        ignore_row_order=True,
    )
    assert DeltaTable(lake.path(USERS_WITH_READINGS)).history(1)[0]["operationParameters"]["mode"] == "Append"
    assert written(run(spark, str(landing), lake)) == set()
    out = io.StringIO()  # verify reads the registry too: it counts the new table
    assert main(["verify", "--lake", lake.root, "--engine", engine, "--json"], out=out) == 0
    assert json.loads(out.getvalue())["counts"]["accelerometer_users"] == 3


def _no_cy(inputs: Inputs, options: Options) -> DataFrame:
    """customer_trusted without cy: a rule changed by its user."""
    return rule("customer_trusted").build(inputs, options).filter(F.col(EMAIL) != "cy@stedi.test")


def _ml_distinct(inputs: Inputs, options: Options) -> DataFrame:
    return rule("machine_learning_curated").build(inputs, options).distinct()


@classic_in_integration  # three and five runs: half a minute on classic Spark
def test_a_changed_rule_rebuilds_exactly_the_tables_it_reaches_and_leaves_what_a_full_rebuild_leaves(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, str(landing), lake)

    monkeypatch.setattr(registry, "RULES", with_rule(replace(rule("machine_learning_curated"), build=_ml_distinct)))
    results = run(spark, str(landing), lake)
    assert (written(results), rules_changed(results)) == ({"machine_learning_curated"}, ["machine_learning_curated"])

    monkeypatch.setattr(registry, "RULES", with_rule(replace(rule("customer_trusted"), build=_no_cy)))
    results = run(spark, str(landing), lake)
    assert (written(results), rules_changed(results)) == (DOWNSTREAM_OF_CUSTOMERS, ["customer_trusted"])
    rebuilt = Lake(str(tmp_path / "rebuilt"), "parquet")
    run(spark, str(landing), rebuilt)
    assert_same_lake(spark, lake, rebuilt)
    trusted = [row[EMAIL] for row in lake.read(spark, rule("customer_trusted").table).collect()]
    assert trusted == ["ada@stedi.test"]  # the changed rule is the one that built it
    assert written(run(spark, str(landing), lake)) == set()


@only_on("sail")  # which tables a run rebuilds is the library's own Python; the jobs' code is run()'s
def test_jobs_run_alone_as_on_glue_rebuild_after_a_changed_upstream_rule_what_it_reaches(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Glue job runs alone, with no record of what the jobs before it did: the fingerprints of the rules before
    a table, kept in its inputs' state, are what tell it that customer_trusted's rule changed."""
    landing = tmp_path / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    for name in registry.job_names():
        pipeline.job(name)(spark, str(landing), lake)

    monkeypatch.setattr(registry, "RULES", with_rule(replace(rule("customer_trusted"), build=_no_cy)))
    results = [pipeline.job(name)(spark, str(landing), lake) for name in registry.job_names()]
    assert [(result.name, result.written, result.rules_changed) for result in results] == [
        ("customer_landing_to_trusted", ["customer_trusted"], ["customer_trusted"]),
        ("accelerometer_landing_to_trusted", ["accelerometer_trusted"], []),
        ("customer_trusted_to_curated", ["customer_curated"], []),
        ("step_trainer_trusted", ["step_trainer_trusted"], []),
        ("machine_learning_curated", ["machine_learning_curated"], []),
    ]
    rebuilt = Lake(str(tmp_path / "rebuilt"), "parquet")
    run(spark, str(landing), rebuilt)
    assert_same_lake(spark, lake, rebuilt)


@only_on("sail")  # which tables a run rebuilds is the library's own Python
def test_a_lake_built_before_rules_had_fingerprints_is_rebuilt_once(spark: SparkSession, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_files(landing, FIRST)
    lake = Lake(str(tmp_path / "lake"), "delta")
    run(spark, str(landing), lake)
    state = Path(lake.store.root) / STATE
    raw = json.loads(state.read_text())
    raw["built"] = {
        name: {key: value for key, value in built.items() if not key.startswith("rule:")}
        for name, built in raw["built"].items()
    }
    state.write_text(json.dumps(raw))

    results = run(spark, str(landing), lake)
    derived = [table.name for table in OUTPUT_TABLES]
    assert (written(results), sorted(rules_changed(results))) == (set(derived), sorted(derived))
    assert written(run(spark, str(landing), lake)) == set()


def test_a_rule_s_fingerprint_follows_its_code_the_functions_it_reaches_and_its_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trusted, curated = rule("customer_trusted"), rule("customer_curated")
    before = {name: registry.fingerprint(rule(name)) for name in ("customer_trusted", "customer_curated")}
    assert registry.fingerprint(replace(trusted, version=2)) != before["customer_trusted"]
    assert registry.fingerprint(replace(trusted, build=_no_cy)) != before["customer_trusted"]

    def edited(customers: DataFrame) -> DataFrame:  # a user edits the transform itself
        return transforms.current_customers(customers)

    edited.__module__ = transforms.__name__
    monkeypatch.setattr(transforms, "customer_trusted", edited)
    after = {name: registry.fingerprint(rule(name)) for name in ("customer_trusted", "customer_curated")}
    assert after == {"customer_trusted": after["customer_trusted"], "customer_curated": before["customer_curated"]}
    assert after["customer_trusted"] != before["customer_trusted"]
    assert registry.fingerprint(curated) == before["customer_curated"]


def test_a_rebuild_for_a_changed_rule_is_said_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    cli_lake._progress(
        JobResult("customer_landing_to_trusted", 1.0, written=["customer_trusted"], rules_changed=["customer_trusted"])
    )
    assert capsys.readouterr().err.splitlines() == [
        "  customer_landing_to_trusted            1.00 s  customer_trusted",
        "  customer_trusted: rule changed, rebuilt",
    ]


def test_a_rule_names_known_options_and_a_job_the_registry_has() -> None:
    with pytest.raises(ValueError, match=r"^customer_trusted: unknown options \['cutoff'\]"):
        replace(rule("customer_trusted"), options=("cutoff",))
    with pytest.raises(ValueError, match=r"^unknown job 'nightly'; choose one of customer_landing_to_trusted, "):
        registry.job_rules("nightly")


def test_the_registry_declares_every_table_the_lake_lists_after_the_ingested_ones_in_dependency_order() -> None:
    assert [rule.name for rule in ORIGINAL.values()] == [
        "customer_rejected", "customer_trusted", "accelerometer_rejected", "accelerometer_trusted",
        "customer_curated", "step_trainer_rejected", "step_trainer_trusted", "machine_learning_curated",
    ]  # fmt: skip
    assert {rule.table for rule in ORIGINAL.values()} == set(OUTPUT_TABLES)
    built: set[str] = {table.name for table in INGESTED_TABLES}
    for declared in ORIGINAL.values():
        assert {table.name for table in declared.inputs} <= built, declared.name
        built.add(declared.name)
