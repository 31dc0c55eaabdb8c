"""A test double of the Glue runtime: GlueContext, DynamicFrame, DataSink and Job, over a local SparkSession.

Only what the jobs use, with the real classes' signatures (tests/test_glue.py checks them against awsglue). Every
call is written to ``JOURNAL`` so a test can assert what a job purged, wrote and registered. Like the real
catalog-updating sink, ``writeFrame`` appends.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

JOURNAL: list[tuple[Any, ...]] = []

_SPARK_FORMATS = {"json": "json", "glueparquet": "parquet"}


class DynamicFrame:
    def __init__(self, dataframe: DataFrame, name: str) -> None:
        self.dataframe = dataframe
        self.name = name

    @staticmethod
    def fromDF(dataframe: DataFrame, glue_ctx: Any, name: str = "") -> DynamicFrame:
        return DynamicFrame(dataframe, name)


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
