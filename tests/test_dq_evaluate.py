"""The DQDL evaluator on inline rows, on both engines: every supported rule type with Glue's outcomes, failure reasons
and metrics; the row-level outcomes; and the packaged rulesets over the fixture lake's tables, whole and broken."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pyspark.sql import DataFrame, SparkSession

from stedi_transforms.dq.checks import evaluate_tables
from stedi_transforms.dq.dqdl import parse
from stedi_transforms.dq.evaluate import evaluate, row_level_outcomes
from stedi_transforms.engines import local_frame
from stedi_transforms.lake import OUTPUT_TABLES
from tests.fixture_tables import EXPECTED, T

ROWS_SCHEMA = "k string, n bigint, x double, d string, t timestamp"
UNMET = "does not meet the constraint requirement"


def rows(spark: SparkSession) -> DataFrame:
    now = datetime.now()
    return spark.createDataFrame(
        [
            ("a", 1, 1.0, "2024-01-01", now - timedelta(hours=1)),
            ("b", 2, None, "x", now - timedelta(hours=30)),
            ("b", None, 3.0, None, None),
            (None, 4, 4.0, "2020-02-02", now - timedelta(hours=2)),
        ],
        ROWS_SCHEMA,
    )


RULESET = """Rules = [
    RowCount > 3,
    RowCount between 1 and 4 where "n > 1",
    RowCount > 0 labels = ["team" = "lake"],
    IsComplete "k",
    Completeness "x" > 0.5,
    Completeness "x" > 0.5 where "k = 'b'",
    IsUnique "k",
    IsUnique "k" where "n IS NOT NULL",
    Uniqueness "k" >= 0.5,
    IsPrimaryKey "n",
    ColumnValues "n" > 0,
    ColumnValues "n" <= 4 where "n IS NOT NULL",
    ColumnValues "n" between 1 and 4,
    ColumnValues "n" between 0 and 5 with threshold > 0.5,
    ColumnValues "k" in ["a", "b"],
    ColumnValues "k" in ["a", NULL],
    ColumnValues "k" != "b",
    ColumnValues "k" matches "[ab]",
    ColumnValues "d" < now(),
    ColumnExists "k",
    ColumnExists "zz",
    ColumnDataType "d" = "DATE",
    ColumnDataType "n" = "INTEGER" with threshold > 0.7,
    ReferentialIntegrity "k" "ref.k" >= 0.25,
    ReferentialIntegrity "k" "missing.k" = 1.0,
    RowCountMatch "ref" = 2.0,
    DistinctValuesCount "k" = 3,
    Mean "x" between 2 and 3,
    Sum "n" = 7,
    StandardDeviation "x" < 1,
    Mean "nope" > 0,
    CustomSql "select count(*) from primary where n > 1" = 2,
    DataFreshness "t" <= 24 hours,
    (IsComplete "k") or (RowCount > 1),
    (IsComplete "k") and (RowCount > 10),
    IsComplete "k" where "bad syntax (("
]"""


def glue(rule: str, passed: bool, reason: str | None = None, **metrics: float) -> dict[str, object]:
    return {
        "Rule": rule,
        "Outcome": "Passed" if passed else "Failed",
        "FailureReason": reason,
        "EvaluatedMetrics": metrics,
    }


def test_every_rule_type_gives_glues_outcome_reason_and_metrics(spark: SparkSession) -> None:
    ref = spark.createDataFrame([("a",), ("c",)], "k string")
    results = [result.as_glue() for result in evaluate(rows(spark), parse(RULESET), {"ref": ref})]
    m = "EvaluatedMetrics"
    assert results == [
        glue("RowCount > 3", True, **{"Dataset.*.RowCount": 4.0}),
        glue('RowCount between 1 and 4 where "n > 1"', True, **{"Dataset.*.RowCount": 2.0}),
        {
            **glue('RowCount > 0 labels = ["team" = "lake"]', True, **{"Dataset.*.RowCount": 4.0}),
            "Labels": {"team": "lake"},
        },
        glue('IsComplete "k"', False, f"Value: 0.75 {UNMET}!", **{"Column.k.Completeness": 0.75}),
        glue('Completeness "x" > 0.5', True, **{"Column.x.Completeness": 0.75}),
        glue(
            'Completeness "x" > 0.5 where "k = \'b\'"', False, f"Value: 0.5 {UNMET}!", **{"Column.x.Completeness": 0.5}
        ),
        # a, b, b: one value of three occurs once
        glue('IsUnique "k"', False, f"Value: 0.3333333333333333 {UNMET}!", **{"Column.k.Uniqueness": 1 / 3}),
        glue('IsUnique "k" where "n IS NOT NULL"', True, **{"Column.k.Uniqueness": 1.0}),
        glue('Uniqueness "k" >= 0.5', False, f"Value: 0.3333333333333333 {UNMET}!", **{"Column.k.Uniqueness": 1 / 3}),
        {
            **glue('IsPrimaryKey "n"', False, f"Value: 0.75 {UNMET}!"),
            m: {"Column.n.Uniqueness": 1.0, "Column.n.Completeness": 0.75},
        },
        glue('ColumnValues "n" > 0', False, f"Value: NULL {UNMET}!", **{"Column.n.Minimum": 1.0}),
        glue('ColumnValues "n" <= 4 where "n IS NOT NULL"', True, **{"Column.n.Maximum": 4.0}),
        # between excludes its bounds: only 2 is between 1 and 4
        glue(
            'ColumnValues "n" between 1 and 4',
            False,
            f"Value: 0.25 {UNMET}!",
            **{"Column.n.ColumnValues.Compliance": 0.25},
        ),
        glue(
            'ColumnValues "n" between 0 and 5 with threshold > 0.5', True, **{"Column.n.ColumnValues.Compliance": 0.75}
        ),
        glue(
            'ColumnValues "k" in ["a", "b"]',
            False,
            f"Value: 0.75 {UNMET}!",
            **{"Column.k.ColumnValues.Compliance": 0.75},
        ),
        glue(
            'ColumnValues "k" in ["a", NULL]',
            False,
            f"Value: 0.5 {UNMET}!",
            **{"Column.k.ColumnValues.Compliance": 0.5},
        ),
        glue('ColumnValues "k" != "b"', False, f"Value: 0.5 {UNMET}!", **{"Column.k.ColumnValues.Compliance": 0.5}),
        glue('ColumnValues "k" matches "[ab]"', False, f"Value: 0.75 {UNMET}!", **{"Column.k.PatternMatch": 0.75}),
        # "x" is no date and a null is none either
        glue('ColumnValues "d" < now()', False, f"Value: 0.5 {UNMET}!", **{"Column.d.ColumnValues.Compliance": 0.5}),
        glue('ColumnExists "k"', True),
        glue('ColumnExists "zz"', False, "Column zz does not exist"),
        glue(
            'ColumnDataType "d" = "DATE"', False, "50.00% of rows passed", **{"Column.d.ColumnDataType.Compliance": 0.5}
        ),
        glue(
            'ColumnDataType "n" = "INTEGER" with threshold > 0.7', True, **{"Column.n.ColumnDataType.Compliance": 0.75}
        ),
        glue('ReferentialIntegrity "k" "ref.k" >= 0.25', True, **{"Column.ref.ReferentialIntegrity": 0.25}),
        glue('ReferentialIntegrity "k" "missing.k" = 1.0', False, "missing not found in additional sources"),
        glue('RowCountMatch "ref" = 2.0', True, **{"Dataset.ref.RowCountMatch": 2.0}),
        glue('DistinctValuesCount "k" = 3', True, **{"Column.k.DistinctValuesCount": 3.0}),  # a, b and null
        glue('Mean "x" between 2 and 3', True, **{"Column.x.Mean": pytest.approx(8 / 3)}),
        glue('Sum "n" = 7', True, **{"Column.n.Sum": 7.0}),
        # the population's: sqrt(((1 - 8/3)² + (3 - 8/3)² + (4 - 8/3)²) / 3) = sqrt(14/9)
        glue(
            'StandardDeviation "x" < 1',
            False,
            f"Value: 1.247219128924647 {UNMET}!",
            **{"Column.x.StandardDeviation": pytest.approx(1.247219128924647)},
        ),
        glue('Mean "nope" > 0', False, "Column nope does not exist in the dataset"),
        glue('CustomSql "select count(*) from primary where n > 1" = 2', True, **{"Dataset.*.CustomSQL": 2.0}),
        glue(
            'DataFreshness "t" <= 24 hours',
            False,
            "50.00% of rows passed",
            **{"Column.t.DataFreshness.Compliance": 0.5},
        ),
        {
            **glue('(IsComplete "k") or (RowCount > 1)', True),
            m: {"Column.k.Completeness": 0.75, "Dataset.*.RowCount": 4.0},
        },
        {
            **glue('(IsComplete "k") and (RowCount > 10)', False, f"Value: 0.75 {UNMET}!\nValue: 4.0 {UNMET}!"),
            m: {"Column.k.Completeness": 0.75, "Dataset.*.RowCount": 4.0},
        },
        glue('IsComplete "k" where "bad syntax (("', False, "The provided where clause is invalid"),
    ]


def test_each_row_lists_the_rules_it_passes_fails_and_skips(spark: SparkSession) -> None:
    ruleset = parse("""Rules = [
        IsComplete "k",
        ColumnValues "n" > 0 where "k IS NOT NULL",
        RowCount > 0,
        (IsComplete "k") and (IsComplete "x")
    ]""")
    results, marked = row_level_outcomes(rows(spark), ruleset)
    assert [result.outcome for result in results] == ["Failed", "Failed", "Passed", "Failed"]
    k, n, count, both = (
        'IsComplete "k"',
        'ColumnValues "n" > 0 where "k IS NOT NULL"',
        "RowCount > 0",
        ('(IsComplete "k") and (IsComplete "x")'),
    )
    columns = [
        "k",
        "n",
        "DataQualityRulesPass",
        "DataQualityRulesFail",
        "DataQualityRulesSkip",
        "DataQualityEvaluationResult",
    ]

    # whole rows, compared as lists: Sail sorts no array columns, which chispa's ignore_row_order needs
    def in_order(row: tuple[object, ...]) -> tuple[str, int]:
        return (str(row[0]), int(row[1] or 0))  # type: ignore[call-overload]

    assert sorted((tuple(row) for row in marked.select(*columns).collect()), key=in_order) == sorted(
        [
            ("a", 1, [k, n, both], [], [count], "Passed"),
            ("b", 2, [k, n], [both], [count], "Failed"),
            ("b", None, [k, both], [n], [count], "Failed"),
            (None, 4, [], [k, both], [n, count], "Failed"),
        ],
        key=in_order,
    )


def fixture_tables(spark: SparkSession, extra: dict[str, list[tuple[object, ...]]]) -> dict[str, DataFrame]:
    """The output tables of the fixture lake, as the pipeline writes them, with ``extra`` rows added."""
    return {
        table.name: local_frame(spark, EXPECTED[table.name] + extra.get(table.name, []), table.schema)
        for table in OUTPUT_TABLES
    }


def failures(spark: SparkSession, extra: dict[str, list[tuple[object, ...]]]) -> dict[str, list[dict[str, object]]]:
    results = evaluate_tables(fixture_tables(spark, extra))
    failed = {name: [result.as_glue() for result in rows if not result.passed] for name, rows in results.items()}
    return {name: rows for name, rows in failed.items() if rows}


def test_a_broken_lake_fails_exactly_the_rules_it_breaks(spark: SparkSession) -> None:
    """Every other rule of every table passes: the whole lake passes its rulesets in tests/test_pipeline.py (on both
    engines) and in the real-data acceptance test."""
    broken = {
        "customer_trusted": list(EXPECTED["customer_trusted"]),  # every customer twice
        "accelerometer_trusted": [("eve@stedi.test", T + 1000, 0.0, 0.0, 0.0)],  # a reading of no trusted customer
        "machine_learning_curated": [(T + 1000, "dev-ada", 40, T + 5000, 0.0, 0.0, 0.0)],  # paired at another time
    }
    assert failures(spark, broken) == {
        "customer_trusted": [
            {
                **glue('IsPrimaryKey "email"', False, f"Value: 0.0 {UNMET}!"),
                "EvaluatedMetrics": {"Column.email.Uniqueness": 0.0, "Column.email.Completeness": 1.0},
            },
        ],
        "accelerometer_trusted": [
            glue(
                'ReferentialIntegrity "user" "customer_trusted.email" = 1.0',
                False,
                f"Value: {6 / 7} {UNMET}.",
                **{"Column.customer_trusted.ReferentialIntegrity": 6 / 7},
            ),
        ],
        "machine_learning_curated": [
            glue(
                'CustomSql "SELECT COUNT(*) FROM primary WHERE sensorReadingTime <> timestamp" = 0',
                False,
                f"Value: 1.0 {UNMET}!",
                **{"Dataset.*.CustomSQL": 1.0},
            ),
        ],
    }
