"""A test double of the Glue runtime: GlueContext, DynamicFrame, DynamicFrameCollection, DataSink and Job, over a
local SparkSession, and awsgluedq's EvaluateDataQuality.

Only what the jobs use, with the real classes' signatures (tests/test_glue_adapter.py checks them against awsglue).
Every call is written to ``JOURNAL`` so a test can assert what a job purged, wrote, registered and evaluated. Like the
real catalog-updating sink, ``writeFrame`` appends. ``EvaluateDataQuality`` cannot evaluate DQDL: it answers each
evaluation context with the rule outcomes a test put in ``RULE_OUTCOMES`` (none by default) and keeps the frames it
was given in ``EVALUATED``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

JOURNAL: list[tuple[Any, ...]] = []
RULE_OUTCOMES: dict[str, list[tuple[str, str, str | None]]] = {}  # evaluation context → (Rule, Outcome, FailureReason)
EVALUATED: dict[str, DynamicFrame] = {}  # evaluation context → the frame evaluated

RULE_OUTCOMES_SCHEMA = "Rule string, Outcome string, FailureReason string, EvaluatedMetrics map<string, double>"

_SPARK_FORMATS = {"json": "json", "glueparquet": "parquet"}


class DynamicFrame:
    def __init__(self, dataframe: DataFrame, name: str) -> None:
        self.dataframe = dataframe
        self.name = name

    @staticmethod
    def fromDF(dataframe: DataFrame, glue_ctx: Any, name: str = "") -> DynamicFrame:
        return DynamicFrame(dataframe, name)

    def toDF(self, options: Any = None) -> DataFrame:
        return self.dataframe


class DynamicFrameCollection:
    def __init__(self, dynamic_frames: dict[str, DynamicFrame], glue_ctx: Any) -> None:
        self.dynamic_frames = dynamic_frames

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        return self.dynamic_frames[key]


class EvaluateDataQuality:
    """awsgluedq is not published (Glue's own images have it), so its signature follows AWS's examples:
    ``EvaluateDataQuality().process_rows(frame=, ruleset=, publishing_options=, additional_options=,
    additional_data_sources=)``, returning a collection of ``ruleOutcomes`` and ``rowLevelOutcomes``."""

    def process_rows(
        self,
        frame: DynamicFrame,
        ruleset: str,
        publishing_options: dict[str, Any] = {},
        additional_options: dict[str, Any] = {},
        additional_data_sources: dict[str, DynamicFrame] = {},
    ) -> DynamicFrameCollection:
        context = publishing_options.get("dataQualityEvaluationContext", "default_context")
        JOURNAL.append(
            (
                "EvaluateDataQuality.process_rows",
                frame.name,
                ruleset,
                publishing_options,
                additional_options,
                {alias: source.name for alias, source in additional_data_sources.items()},
            )
        )
        EVALUATED[context] = frame
        session = frame.dataframe.sparkSession
        outcomes = [(*outcome, {}) for outcome in RULE_OUTCOMES.get(context, [])]
        rule_outcomes = DynamicFrame(session.createDataFrame(outcomes, RULE_OUTCOMES_SCHEMA), "ruleOutcomes")
        return DynamicFrameCollection({"ruleOutcomes": rule_outcomes, "rowLevelOutcomes": frame}, None)


class DataSink:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.format: str | None = None

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId: str = "") -> None:
        JOURNAL.append(("setCatalogInfo", catalogDatabase, catalogTableName))

    def setFormat(self, format: str, **options: Any) -> None:
        self.format = format
        JOURNAL.append(("setFormat", format))

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> None:
        assert self.format is not None, "setFormat must come before writeFrame"
        path = self.options["path"]
        dynamic_frame.dataframe.write.mode("append").format(_SPARK_FORMATS[self.format]).save(path)
        JOURNAL.append(("writeFrame", path, dynamic_frame.name))


class GlueContext:
    def __init__(self, sparkContext: Any = None, **options: Any) -> None:
        session = SparkSession.getActiveSession()
        assert session is not None, "the test starts the classic SparkSession first"
        self.spark_session = session

    def getSink(
        self, connection_type: str, format: Any = None, transformation_ctx: str = "", **options: Any
    ) -> DataSink:
        JOURNAL.append(("getSink", connection_type, options))
        return DataSink({"connection_type": connection_type, **options})

    def purge_s3_path(self, s3_path: str, options: Any = {}, transformation_ctx: str = "") -> None:
        shutil.rmtree(Path(s3_path), ignore_errors=True)
        JOURNAL.append(("purge_s3_path", s3_path, options))


class Job:
    def __init__(self, glue_context_or_spark_session: Any) -> None:
        self.glue_context = glue_context_or_spark_session

    def init(self, job_name: str, args: Any = {}) -> None:
        JOURNAL.append(("init", job_name))

    def commit(self) -> None:
        JOURNAL.append(("commit",))
