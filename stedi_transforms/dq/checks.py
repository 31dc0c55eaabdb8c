"""The packaged rulesets parsed, and run over a lake's tables."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame

from stedi_transforms.dq import DQDLError, ruleset_names, ruleset_text
from stedi_transforms.dq.dqdl import Ruleset, parse
from stedi_transforms.dq.evaluate import RuleResult, evaluate_many


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
