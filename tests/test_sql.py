"""The packaged SQL: the Athena DDL matches the library's schemas and layout; the validation queries parse in Athena's
and Spark's dialects; `stedi sql` fills in the bucket and database."""

from __future__ import annotations

import io

import pytest
import sqlglot
from sqlglot import exp

from stedi_transforms.cli import main
from stedi_transforms.lake import OUTPUT_TABLES, Lake
from stedi_transforms.queries import named_queries, render, sql_files, validation_queries
from stedi_transforms.schemas import SOURCES, Source

HIVE_TYPES = {"string": "STRING", "bigint": "BIGINT", "double": "DOUBLE"}


def test_the_package_ships_every_sql_file() -> None:
    assert sql_files() == [
        "accelerometer_landing.sql",
        "customer_landing.sql",
        "delta_tables.sql",
        "step_trainer_landing.sql",
        "validation.sql",
        "validation_consent_cutoff.sql",
        "validation_owner_join.sql",
    ]


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.name)
def test_the_landing_ddl_has_the_schema_columns_and_location(source: Source) -> None:
    create = sqlglot.parse_one(render(f"{source.name}_landing.sql", "stedi-bucket", "stedi_db"), read="hive")
    columns = [(column.name, column.args["kind"].sql("hive")) for column in create.find_all(exp.ColumnDef)]
    assert columns == [(field.name.lower(), HIVE_TYPES[field.dataType.simpleString()]) for field in source.schema]
    assert create.this.this.sql("hive") == f"`stedi_db`.`{source.name}_landing`"
    location = create.find(exp.LocationProperty)
    assert location is not None
    assert location.this.name == f"s3://stedi-bucket/{source.name}/landing/"


def test_the_delta_ddl_registers_every_output_table_where_the_lake_writes_it() -> None:
    statements = sqlglot.parse(render("delta_tables.sql", "stedi-bucket", "stedi_db"), read="athena")
    registered = {}
    for statement in statements:
        assert statement is not None
        location = statement.find(exp.LocationProperty)
        assert location is not None
        registered[statement.this.name] = location.this.name
    lake = Lake("s3://stedi-bucket")
    assert registered == {table.name: lake.path(table) + "/" for table in OUTPUT_TABLES}


@pytest.mark.parametrize("dialect", ["athena", "spark"])
def test_the_validation_queries_parse_in_athena_and_spark(dialect: str) -> None:
    for name in ("validation.sql", "validation_owner_join.sql", "validation_consent_cutoff.sql"):
        for query in validation_queries(name):
            assert sqlglot.parse_one(query.sql, read=dialect) is not None, f"{name}: {query.name}"


def test_validation_sql_is_split_into_named_blocks() -> None:
    text = "-- count: a\nSELECT 1;\n\n-- check: b\nSELECT 2 AS violations;\n"
    assert [(q.kind, q.name, q.sql) for q in named_queries(text)] == [
        ("count", "a", "SELECT 1"),
        ("check", "b", "SELECT 2 AS violations"),
    ]


def test_stedi_sql_prints_a_file_with_the_placeholders_filled() -> None:
    out = io.StringIO()
    assert main(["sql", "delta_tables.sql", "--bucket", "my-bucket", "--database", "analytics"], out=out) == 0
    text = out.getvalue()
    assert "${" not in text
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS `analytics`.`machine_learning_curated`" in text
    assert "LOCATION 's3://my-bucket/step_trainer/curated/'" in text


def test_stedi_sql_names_an_unknown_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "nope.sql"]) == 2
    assert capsys.readouterr().err.startswith("stedi: error: no SQL file 'nope.sql'")
