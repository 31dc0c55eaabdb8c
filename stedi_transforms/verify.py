"""The local version of the Athena checks: row counts of every table and the named checks, over a lake.

The queries are the packaged ``validation.sql``, run on temporary views named as the Data Catalog tables; the
landing tables are the lake's ingested tables, so nothing here reads the landing JSON again. Two more checks per
source have no Athena twin: every ingested line is either accepted or rejected, and (when the landing is at hand)
every landing file has been ingested as it is now. Then each output table's DQDL ruleset (:mod:`stedi_transforms.dq`),
as Glue Data Quality evaluates it in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi_transforms import registry
from stedi_transforms.dq.checks import evaluate_tables
from stedi_transforms.dq.evaluate import RuleResult
from stedi_transforms.engines import reused
from stedi_transforms.lake import (
    TABLE_NAMES,
    Lake,
    Table,
    TableReader,
    ingested_table,
    rejected_table,
)
from stedi_transforms.ledger import compare, load_state, recorded_options
from stedi_transforms.options import checks_for
from stedi_transforms.queries import Query, validation_queries
from stedi_transforms.reader import accepted, landing_files, landing_table
from stedi_transforms.schemas import FILE, REASON, SOURCES


@dataclass(frozen=True)
class Check:
    name: str
    violations: int

    @property
    def passed(self) -> bool:
        return self.violations == 0


@dataclass(frozen=True)
class FileCounts:
    source: str
    file: str
    lines: int
    accepted: int
    rejected: int


@dataclass(frozen=True)
class Report:
    counts: dict[str, int]
    checks: list[Check]
    info: dict[str, int] = field(default_factory=dict)
    files: list[FileCounts] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    rules: dict[str, list[RuleResult]] = field(default_factory=dict)
    """The outcomes of each table's DQDL ruleset (``stedi_transforms/dq/<table>.dqdl``), as Glue gives them."""

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks) and all(
            result.passed for results in self.rules.values() for result in results
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "checks": [{**asdict(check), "passed": check.passed} for check in self.checks],
            "info": self.info,
            "files": [asdict(entry) for entry in self.files],
            "options": self.options,
            "rules": {table: [result.as_glue() for result in results] for table, results in self.rules.items()},
            "passed": self.passed,
        }


def read_tables(spark: SparkSession, lake: TableReader) -> dict[Table, DataFrame]:
    """Every table of the lake that the registry declares, ingested to curated, as DataFrames (nothing is read until
    they are used)."""
    return {table: lake.read(spark, table) for table in registry.tables()}


def register_views(tables: Mapping[Table, DataFrame]) -> None:
    """Temporary views named as the Data Catalog tables: the landing tables (from the ingested tables, one row per
    landing line, as Athena's JSON SerDe shows them) and every other table but the ingested ones."""
    for source in SOURCES:
        landing_table(tables[ingested_table(source)], source).createOrReplaceTempView(f"{source.name}_landing")
    for table, frame in tables.items():
        if table.zone != "ingested":
            frame.createOrReplaceTempView(table.name)


def _row_counts(spark: SparkSession, query: Query, tables: Mapping[Table, DataFrame]) -> dict[str, int]:
    """The tables of Athena's ``row_counts`` query, by it, then any other table the registry declares."""
    rows = {row["table_name"]: int(row["row_count"]) for row in spark.sql(query.sql).collect()}
    counts = {name: rows[name] for name in TABLE_NAMES}
    for table, frame in tables.items():
        if table.zone != "ingested" and table.name not in counts:
            counts[table.name] = frame.count()
    return counts


def count_tables(spark: SparkSession, lake: TableReader) -> dict[str, int]:
    """Rows of every table, landing to curated, by the ``row_counts`` query of ``validation.sql`` (and of any
    table the registry adds to it)."""
    tables = read_tables(spark, lake)
    register_views(tables)
    (query,) = [query for query in validation_queries() if query.kind == "count"]
    return _row_counts(spark, query, tables)


def lines_by_file(tables: Mapping[Table, DataFrame]) -> list[FileCounts]:
    """Per landing file: its non-blank lines, and how many were accepted and rejected."""
    counts = []
    for source in SOURCES:
        per_file = tables[ingested_table(source)].groupBy(FILE)
        rows = per_file.agg(F.count(F.lit(1)).alias("lines"), F.count(REASON).alias("rejected")).collect()
        counts += [
            FileCounts(source.name, row[FILE], row["lines"], row["lines"] - row["rejected"], row["rejected"])
            for row in rows
        ]
    return sorted(counts, key=lambda entry: (entry.source, entry.file))


def verify(spark: SparkSession, lake: Lake, landing_root: str | None = None, by_file: bool = False) -> Report:
    """Count every table and run every check over the lake's tables; with the landing root, also check that every
    landing file has been ingested as it is now."""
    with reused(read_tables(spark, lake)) as tables:
        register_views(tables)
        counts: dict[str, int] = {}
        checks: list[Check] = []
        info: dict[str, int] = {}
        state = load_state(lake.store, lake.table_format)
        options = recorded_options(state)
        queries = validation_queries()
        for sql in checks_for(options):
            queries += validation_queries(sql)
        for query in queries:
            if query.kind == "count":
                counts = _row_counts(spark, query, tables)
            elif query.kind == "check":
                checks.append(Check(query.name, int(spark.sql(query.sql).collect()[0]["violations"])))
            else:
                info[query.name] = int(spark.sql(query.sql).collect()[0][0])

        for source in SOURCES:
            accepted_lines = accepted(tables[ingested_table(source)], source).count()
            unaccounted = counts[f"{source.name}_landing"] - accepted_lines - counts[rejected_table(source).name]
            checks.append(Check(f"{source.name}_landing_accepted_or_rejected", abs(unaccounted)))
            if landing_root is not None:
                changes = compare(landing_files(landing_root, source), state.ledger(source.name))
                stale = len(changes.new) + len(changes.changed) + len(changes.removed)
                checks.append(Check(f"{source.name}_landing_files_ingested", stale))
        files = lines_by_file(tables) if by_file else []
        rules = evaluate_tables({table.name: df for table, df in tables.items()})
    return Report(counts, checks, info, files, options, rules)
