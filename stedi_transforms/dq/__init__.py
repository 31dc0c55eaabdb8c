"""Glue Data Quality, locally: DQDL rulesets (one per lake table, ``<table>.dqdl`` beside this module), their
parser (:mod:`.dqdl`), an evaluator on Spark DataFrames with Glue's semantics (:mod:`.evaluate`) and the lake's
rulesets run over its tables (:mod:`.checks`).

This module itself needs nothing but the standard library: the Glue jobs (and deploy, which registers the rulesets)
can read the rulesets' text from here without lark, which only the ``local`` extra installs, and without Spark.
Glue evaluates DQDL itself.
"""

from __future__ import annotations

from importlib import resources


class DQDLError(ValueError):
    """A ruleset that does not parse, or a rule this evaluator cannot run: one line, with where it is."""


def ruleset_names() -> list[str]:
    """The tables that have a packaged ruleset, by name (``customer_trusted``, …)."""
    folder = resources.files("stedi_transforms.dq")
    return sorted(entry.name.removesuffix(".dqdl") for entry in folder.iterdir() if entry.name.endswith(".dqdl"))


def ruleset_text(table: str) -> str:
    """The packaged DQDL ruleset of the lake table ``table``."""
    if table not in ruleset_names():
        raise DQDLError(f"no ruleset for table {table!r}; the rulesets are for {', '.join(ruleset_names())}")
    return (resources.files("stedi_transforms.dq") / f"{table}.dqdl").read_text(encoding="utf-8")
