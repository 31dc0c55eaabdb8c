"""engines.local_frame: rows of this process as a DataFrame, the same on both engines, held in the plan itself."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from stedi_transforms.engines import local_frame
from tests.conftest import only_on

SCHEMA = StructType(
    [StructField("user", StringType()), StructField("timestamp", LongType()), StructField("x", DoubleType())]
)
ROWS = [("ada@stedi.test", 1_700_000_000_000, 0.5), ("bo@stedi.test", -1, -0.25), (None, None, None)]


def test_the_rows_come_back_as_given_in_the_schema(spark: SparkSession) -> None:
    frame = local_frame(spark, ROWS, SCHEMA)
    assert (frame.schema, sorted(map(tuple, frame.collect()), key=str)) == (SCHEMA, sorted(ROWS, key=str))


def test_no_rows_give_an_empty_frame_of_the_schema(spark: SparkSession) -> None:
    frame = local_frame(spark, [], SCHEMA)
    assert (frame.schema, frame.collect()) == (SCHEMA, [])


@only_on("spark")  # a Spark Connect engine gets every list as a local relation: PySpark sends it as Arrow
def test_classic_spark_holds_the_rows_in_a_local_relation_that_needs_no_python_worker(spark: SparkSession) -> None:
    """PySpark makes a list into an RDD of pickled rows, which each action sends through Python workers."""
    plan = local_frame(spark, ROWS, SCHEMA)._jdf.queryExecution().analyzed()
    assert plan.nodeName() == "LocalRelation"
