"""The evaluator against what AWS's DQDL documentation says its examples do, on both engines.

The reference this was to be compared with, Deequ's DQDL module (``com.amazon.deequ:deequ``, the line for Spark 3.5),
is not served by the package registry this project can reach, and PyDeequ needs that same jar: so the examples of
the DQDL reference and their documented behaviour are written here, each with its page. Where the documentation is
silent (``between`` excludes its bounds), the rule follows awslabs/dqdl's own evaluation, which Glue runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

from stedi_transforms.dq.dqdl import parse
from stedi_transforms.dq.evaluate import evaluate

COLUMN_VALUES = "https://docs.aws.amazon.com/glue/latest/dg/dqdl-rule-types-ColumnValues.html"
IS_COMPLETE = "https://docs.aws.amazon.com/glue/latest/dg/dqdl-rule-types-IsComplete.html"
DQDL = "https://docs.aws.amazon.com/glue/latest/dg/dqdl.html"
UNMET = "does not meet the constraint requirement!"


def outcomes(results: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(row["Rule"], row["Outcome"], row["FailureReason"]) for row in results]


def test_column_values_null_behaviour_as_documented(spark: SparkSession) -> None:
    """COLUMN_VALUES, "Null behavior": every ColumnValues rule but ``!=`` and ``not in`` fails NULL rows, with the
    reason "Value: NULL does not meet the constraint requirement!"; ``!= NULL`` and ``not in [..., NULL]`` fail them
    explicitly."""
    ages = spark.createDataFrame([(25,), (30,), (None,)], "Age bigint")
    ruleset = parse("""Rules = [
        ColumnValues "Age" > 21,
        ColumnValues "Age" != 21,
        ColumnValues "Age" not in [21, 22, 23],
        (ColumnValues "Age" != 21) AND (ColumnValues "Age" != NULL),
        ColumnValues "Age" not in [21, 22, 23, NULL]
    ]""")
    assert outcomes([result.as_glue() for result in evaluate(ages, ruleset)]) == [
        ('ColumnValues "Age" > 21', "Failed", f"Value: NULL {UNMET}"),
        ('ColumnValues "Age" != 21', "Passed", None),
        ('ColumnValues "Age" not in [21, 22, 23]', "Passed", None),
        ('(ColumnValues "Age" != 21) AND (ColumnValues "Age" != NULL)', "Failed", f"Value: 0.6666666666666666 {UNMET}"),
        ('ColumnValues "Age" not in [21, 22, 23, NULL]', "Failed", f"Value: 0.6666666666666666 {UNMET}"),
    ]


def test_the_reference_pages_examples_check_what_they_are_documented_to_check(spark: SparkSession) -> None:
    today = datetime.now(UTC).date()
    table = spark.createDataFrame(
        [
            (1, "US", "F", 5, "Ada", 1, "a@x.test", 1, 1, today),
            (2, "", "M", 12, "Bo", 20, None, None, 0, today - timedelta(days=1)),
            (3, "  ", "X", 20, "C3po", 2000, "c@x.test", 2, 2, None),
            (3, None, "M", 8, "", 15, "d@x.test", 3, 1, today - timedelta(days=10)),
        ],
        "`order-id` bigint, Country string, gender string, weightinkgs bigint, First_Name string, Customer_ID bigint, "
        "Email string, passenger_count bigint, payment_type bigint, Load_Date date",
    )
    ruleset = parse("""Rules = [
        IsComplete "order-id", IsUnique "order-id",
        ColumnValues "Country" in [ "US", "CA", "UK", NULL, EMPTY, WHITESPACES_ONLY ],
        ColumnValues "gender" in ["F", "M"] where "weightinkgs < 10",
        ColumnValues "First_Name" matches "[a-zA-Z]*",
        ColumnValues "Load_Date" > (now() - 3 days),
        ColumnValues "Customer_ID" between 1 and 2000,
        IsComplete "Email",
        IsComplete "Email" where "Customer_ID between 1 and 50",
        IsComplete "Customer_ID"  where "Customer_ID < 16 and Customer_ID != 12",
        IsComplete "passenger_count" where "payment_type<>0"
    ]""")
    results = [(row["Rule"], row["Outcome"], row["EvaluatedMetrics"]) for row in
               (result.as_glue() for result in evaluate(table, ruleset))]  # fmt: skip
    assert results == [
        # DQDL's first example: a column whose name needs quoting; 3 occurs twice, so two rows of four are unique
        ('IsComplete "order-id"', "Passed", {"Column.order-id.Completeness": 1.0}),
        ('IsUnique "order-id"', "Failed", {"Column.order-id.Uniqueness": 0.5}),
        # COLUMN_VALUES, "Allowed values": null, empty and whitespace-only strings are allowed when named
        ('ColumnValues "Country" in [ "US", "CA", "UK", NULL, EMPTY, WHITESPACES_ONLY ]', "Passed",
         {"Column.Country.ColumnValues.Compliance": 1.0}),
        # only the rows the where clause keeps are checked: the X is a row of 20 kg
        ('ColumnValues "gender" in ["F", "M"] where "weightinkgs < 10"', "Passed",
         {"Column.gender.ColumnValues.Compliance": 1.0}),
        # "Regular expression": the whole value must match; "C3po" does not, the empty name does
        ('ColumnValues "First_Name" matches "[a-zA-Z]*"', "Failed", {"Column.First_Name.PatternMatch": 0.75}),
        # "Date values": today and yesterday are within 3 days; ten days ago and a null are not
        ('ColumnValues "Load_Date" > (now() - 3 days)', "Failed", {"Column.Load_Date.ColumnValues.Compliance": 0.5}),
        # "Numeric values", with awslabs/dqdl's between, which excludes its bounds: 20 and 15 are in, 1 and 2000 not
        ('ColumnValues "Customer_ID" between 1 and 2000', "Failed",
         {"Column.Customer_ID.ColumnValues.Compliance": 0.5}),
        # IS_COMPLETE, "Null values", its where clauses being Spark SQL (between there includes its bounds)
        ('IsComplete "Email"', "Failed", {"Column.Email.Completeness": 0.75}),
        ('IsComplete "Email" where "Customer_ID between 1 and 50"', "Failed",
         {"Column.Email.Completeness": 2 / 3}),
        ('IsComplete "Customer_ID" where "Customer_ID < 16 and Customer_ID != 12"', "Passed",
         {"Column.Customer_ID.Completeness": 1.0}),
        ('IsComplete "passenger_count" where "payment_type<>0"', "Passed",
         {"Column.passenger_count.Completeness": 1.0}),
    ]  # fmt: skip
