"""Glue Data Quality, locally: DQDL rulesets (one per lake table, ``<table>.dqdl`` beside this module), their
parser (:mod:`.dqdl`) and an evaluator on Spark DataFrames with Glue's semantics (:mod:`.evaluate`).

Nothing in the Glue jobs' path imports this package: Glue evaluates DQDL itself (``EvaluateDataQuality``), and the
parser needs lark, which only the ``local`` extra installs.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

from pyspark.sql import DataFrame

from stedi_transforms.dq.dqdl import DQDLError, Ruleset, parse
from stedi_transforms.dq.evaluate import RuleResult, evaluate, evaluate_many

__all__ = [
    "DQDLError",
    "RuleResult",
    "Ruleset",
    "evaluate",
    "evaluate_tables",
    "load_ruleset",
    "parse",
    "ruleset_names",
    "ruleset_text",
]


def ruleset_names() -> list[str]:
    """The tables that have a packaged ruleset, by name (``customer_trusted``, …)."""
    folder = resources.files("stedi_transforms.dq")
    return sorted(entry.name.removesuffix(".dqdl") for entry in folder.iterdir() if entry.name.endswith(".dqdl"))


def ruleset_text(table: str) -> str:
    """The packaged DQDL ruleset of the lake table ``table``."""
    if table not in ruleset_names():
        raise DQDLError(f"no ruleset for table {table!r}; the rulesets are for {', '.join(ruleset_names())}")
    return (resources.files("stedi_transforms.dq") / f"{table}.dqdl").read_text(encoding="utf-8")


def load_ruleset(table: str) -> Ruleset:
    """The packaged ruleset of ``table``, parsed."""
    text = ruleset_text(table)
    try:
        return parse(text)
    except DQDLError as error:
        raise DQDLError(f"{table}.dqdl: {error}") from None


def evaluate_tables(
    tables: Mapping[str, DataFrame], rulesets: Mapping[str, Ruleset] | None = None
) -> dict[str, list[RuleResult]]:
    """Each table's ruleset (by default the packaged ones, for every table that has one) evaluated on it; the other
    tables are the references its ReferentialIntegrity and RowCountMatch rules name."""
    chosen = rulesets if rulesets is not None else {name: load_ruleset(name) for name in ruleset_names()}
    unknown = sorted(set(chosen) - set(tables))
    if unknown:
        raise DQDLError(f"no table {unknown[0]!r} in the lake; its tables are {', '.join(sorted(tables))}")
    return evaluate_many({name: (tables[name], ruleset) for name, ruleset in chosen.items()}, tables)
