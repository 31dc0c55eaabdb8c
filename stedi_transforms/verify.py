"""The local version of the Athena checks: row counts of every table and the named checks, over a lake.

The queries are the packaged ``validation.sql``, run on temporary views named as the Data Catalog tables. One
more check needs the reader and so has no Athena twin: every landing line is either accepted or rejected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from stedi_transforms.lake import OUTPUT_TABLES, TABLE_NAMES, Lake, rejected_table
from stedi_transforms.queries import Query, validation_queries
from stedi_transforms.reader import Landing, read_landing
from stedi_transforms.schemas import SOURCES


@dataclass(frozen=True)
class Check:
    name: str
    violations: int

    @property
    def passed(self) -> bool:
        return self.violations == 0


@dataclass(frozen=True)
class Report:
    counts: dict[str, int]
    checks: list[Check]
    info: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "checks": [{**asdict(check), "passed": check.passed} for check in self.checks],
            "info": self.info,
            "passed": self.passed,
        }


def _register_views(spark: SparkSession, landing_root: str, lake: Lake) -> dict[str, Landing]:
    landings = {source.name: read_landing(spark, landing_root, source) for source in SOURCES}
    for name, landing in landings.items():
        landing.table.createOrReplaceTempView(f"{name}_landing")
    for table in OUTPUT_TABLES:
        lake.read(spark, table).createOrReplaceTempView(table.name)
    return landings


def _row_counts(spark: SparkSession, query: Query) -> dict[str, int]:
    rows = {row["table_name"]: int(row["row_count"]) for row in spark.sql(query.sql).collect()}
    return {name: rows[name] for name in TABLE_NAMES}


def count_tables(spark: SparkSession, landing_root: str, lake: Lake) -> dict[str, int]:
    """Rows of every table, landing to curated, by the ``row_counts`` query of ``validation.sql``."""
    _register_views(spark, landing_root, lake)
    (query,) = [query for query in validation_queries() if query.kind == "count"]
    return _row_counts(spark, query)


def verify(spark: SparkSession, landing_root: str, lake: Lake) -> Report:
    """Count every table and run every check over the lake's tables and the landing files they came from."""
    landings = _register_views(spark, landing_root, lake)
    counts: dict[str, int] = {}
    checks: list[Check] = []
    info: dict[str, int] = {}
    for query in validation_queries():
        if query.kind == "count":
            counts = _row_counts(spark, query)
        elif query.kind == "check":
            checks.append(Check(query.name, int(spark.sql(query.sql).collect()[0]["violations"])))
        else:
            info[query.name] = int(spark.sql(query.sql).collect()[0][0])

    for source in SOURCES:
        accepted = landings[source.name].accepted.count()
        unaccounted = counts[f"{source.name}_landing"] - accepted - counts[rejected_table(source).name]
        checks.append(Check(f"{source.name}_landing_accepted_or_rejected", abs(unaccounted)))
    return Report(counts, checks, info)
