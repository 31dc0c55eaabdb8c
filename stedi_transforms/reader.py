"""Read a landing source: every line is either accepted into the schema or quarantined with its reason.

Lines are read as text and parsed by :func:`stedi_transforms.records.parse_line`, the same way on classic Spark,
Spark Connect (Sail) and Glue. Blank lines are skipped; every other line is counted once, so
landing lines = accepted + rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from stedi_transforms.records import parse_line
from stedi_transforms.schemas import LINE, REASON, Source

_PARSED = "_parsed"
BLANK_LINE = r"^[ \t\r\n]*$"
"""A line of JSON whitespace only; the same pattern in Java's, Rust's and Python's regular expressions."""


def landing_path(landing_root: str, source: Source) -> str:
    """The glob of a source's landing files: ``<root>/<source>/landing/*.json``, as in the S3 bucket."""
    return f"{landing_root.rstrip('/')}/{source.name}/landing/*.json"


def _parse(line: Column, source: Source) -> Column:
    parsed_type = StructType([*source.schema.fields, StructField(REASON, StringType())])
    # Built per call: a UDF made at import time would be bound to whichever engine kind was active then.
    return F.udf(lambda text: parse_line(text, source), parsed_type)(line)


@dataclass(frozen=True)
class Landing:
    """A source's landing lines, parsed. ``parsed`` holds every non-blank line: the schema's fields (null when
    rejected), the raw ``line`` and the ``reason`` it was rejected (null when accepted)."""

    source: Source
    parsed: DataFrame

    @property
    def table(self) -> DataFrame:
        """The landing table as Athena's JSON SerDe shows it: one row per line, the schema's columns."""
        return self.parsed.select(*self.source.schema.fieldNames())

    @property
    def accepted(self) -> DataFrame:
        """The accepted records, with exactly the schema's columns."""
        return self.parsed.filter(F.col(REASON).isNull()).select(*self.source.schema.fieldNames())

    @property
    def rejected(self) -> DataFrame:
        """The quarantine: columns ``line`` (the raw text) and ``reason``."""
        return self.parsed.filter(F.col(REASON).isNotNull()).select(LINE, REASON)


def non_blank_lines(text: DataFrame) -> DataFrame:
    """The lines of ``text`` (one string column ``value``, as ``spark.read.text`` gives) that are not blank,
    as one column ``line``."""
    return text.filter(~F.col("value").rlike(BLANK_LINE)).select(F.col("value").alias(LINE))


def parse_lines(text: DataFrame, source: Source) -> Landing:
    """Parse landing text (one string column ``value``, as ``spark.read.text`` gives); blank lines are skipped.

    Most lines are already in canonical form: the engine's own JSON parser reads them into the schema and writes
    them back out byte for byte, so every field has the schema's JSON type and the rules are settled without
    Python. Only the other lines (nulls, other spacing, wrong types, malformed text) go through
    :func:`stedi_transforms.records.parse_line`; both paths give the same answer, the fast one only sooner.
    """
    names = source.schema.fieldNames()
    typed = F.from_json(F.col(LINE), source.schema)
    canonical = F.to_json(typed) == F.col(LINE)
    for key in source.key_fields:
        canonical = canonical & typed.getField(key).isNotNull()
    accepted_as_is = F.struct(
        *[typed.getField(name).alias(name) for name in names], F.lit(None).cast("string").alias(REASON)
    )
    parsed = (
        non_blank_lines(text)
        .withColumn(
            _PARSED, F.when(F.coalesce(canonical, F.lit(False)), accepted_as_is).otherwise(_parse(F.col(LINE), source))
        )
        .select(*[F.col(f"{_PARSED}.{name}").alias(name) for name in [*names, REASON]], LINE)
    )
    return Landing(source, parsed)


def read_landing(spark: SparkSession, landing_root: str, source: Source) -> Landing:
    """Read ``<landing_root>/<source>/landing/*.json`` (a local folder or an ``s3://`` prefix).

    >>> landing = read_landing(spark, "s3://stedi-lake", CUSTOMER)  # doctest: +SKIP
    >>> landing.accepted, landing.rejected  # doctest: +SKIP
    """
    return parse_lines(read_text(spark, landing_root, source), source)


def read_text(spark: SparkSession, landing_root: str, source: Source) -> DataFrame:
    """A source's landing files as text, one row per line (column ``value``)."""
    return spark.read.text(landing_path(landing_root, source))
