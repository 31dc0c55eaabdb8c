"""``stedi dq check``: a lake table's ruleset, or any DQDL file, evaluated and printed as Glue's result rows.

Sail only: the command is the library's own Python over the evaluator, which tests/test_dq_evaluate.py runs on both
engines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms.cli import main
from stedi_transforms.lake import OUTPUT_TABLES, Lake
from tests.conftest import only_on
from tests.fixture_tables import expected_table

UNMET = "does not meet the constraint requirement"


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def fixture_lake(spark: SparkSession, root: Path) -> str:
    """The output tables of the fixture lake, written as the pipeline writes them (Parquet)."""
    lake = Lake(str(root), "parquet")
    for table in OUTPUT_TABLES:
        lake.write(expected_table(spark, table), table)
    return lake.root


@only_on("sail")
def test_dq_check_evaluates_every_table_and_a_ruleset_file_as_glue_result_rows(
    spark: SparkSession, engine: str, tmp_path: Path
) -> None:
    lake = fixture_lake(spark, tmp_path / "lake")
    code, out = stedi("dq", "check", "--lake", lake, "--engine", engine, "--json")
    assert code == 0
    results = json.loads(out)
    assert sorted(results) == sorted(table.name for table in OUTPUT_TABLES)
    assert [row["Outcome"] for rows in results.values() for row in rows] == ["Passed"] * 44

    ruleset = tmp_path / "trial.dqdl"
    ruleset.write_text('Rules = [\n  RowCount > 3,\n  ColumnValues "birthDay" > "1990-01-01"\n]\n')
    code, out = stedi(
        "dq",
        "check",
        "--lake",
        lake,
        "--engine",
        engine,
        "--table",
        "customer_trusted",
        "--ruleset",
        str(ruleset),
        "--json",
    )
    assert (code, json.loads(out)) == (
        1,
        {
            "customer_trusted": [
                {
                    "Rule": "RowCount > 3",
                    "Outcome": "Passed",
                    "FailureReason": None,
                    "EvaluatedMetrics": {"Dataset.*.RowCount": 4.0},
                },
                # Ed was born in 1969
                {
                    "Rule": 'ColumnValues "birthDay" > "1990-01-01"',
                    "Outcome": "Failed",
                    "FailureReason": f"Value: 0.75 {UNMET}!",
                    "EvaluatedMetrics": {"Column.birthDay.ColumnValues.Compliance": 0.75},
                },
            ]
        },
    )

    code, out = stedi(
        "dq", "check", "--lake", lake, "--engine", engine, "--table", "customer_trusted", "--ruleset", str(ruleset)
    )
    assert [line.rstrip() for line in out.splitlines()] == [
        "table             outcome  rule                                    failure reason / metrics",
        "customer_trusted  Passed   RowCount > 3                            Dataset.*.RowCount = 4",
        f'customer_trusted  Failed   ColumnValues "birthDay" > "1990-01-01"  Value: 0.75 {UNMET}!',
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--table", "customer_trusted", "--ruleset", "{ruleset}"],
            "stedi: error: {ruleset}: line 2, column 14: unexpected ']'; expected",
        ),
        (["--ruleset", "{ruleset}"], "stedi: error: --ruleset needs --table: the table the ruleset checks"),
        (
            ["--table", "customer_landing"],
            "stedi: error: no ruleset for table 'customer_landing'; the rulesets are for accelerometer_rejected, ",
        ),
        (["--table", "customer_trusted", "--ruleset", "{missing}"], "stedi: error: cannot read ruleset {missing}: "),
        (
            ["--table", "customer_trusted", "--ruleset", "{unsupported}"],
            "stedi: error: {unsupported}: line 1, column 25: rule type Entropy is not supported here (supported: ",
        ),
    ],
)
def test_a_bad_ruleset_or_table_is_one_line_before_any_engine_starts(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ruleset = tmp_path / "bad.dqdl"
    ruleset.write_text("Rules = [\n  RowCount > ]\n")
    unsupported = tmp_path / "entropy.dqdl"
    unsupported.write_text('Rules = [ RowCount > 0, Entropy "email" > 1 ]\n')
    names = {"ruleset": str(ruleset), "missing": str(tmp_path / "missing.dqdl"), "unsupported": str(unsupported)}
    code, _ = stedi("dq", "check", "--lake", str(tmp_path), *[argument.format(**names) for argument in arguments])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message.format(**names))
    assert err.count("\n") == 1
