"""``stedi dq check``: a lake table's DQDL ruleset (the packaged one, or any file) evaluated as Glue would, so that a
ruleset can be tried before it is deployed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table as RichTable

from stedi_transforms.cli_lake import UsageError, add_lake_arguments, open_lake
from stedi_transforms.dq import DQDLError, ruleset_names
from stedi_transforms.dq.checks import evaluate_tables, load_ruleset
from stedi_transforms.dq.dqdl import Ruleset, parse
from stedi_transforms.dq.evaluate import RuleResult, check_supported
from stedi_transforms.engines import reused
from stedi_transforms.verify import read_tables


def add_commands(commands: Any) -> None:
    dq_parser = commands.add_parser("dq", help="Glue Data Quality, locally: DQDL rulesets over a lake")
    dq_commands = dq_parser.add_subparsers(dest="dq_command", required=True)
    check = dq_commands.add_parser("check", help="evaluate DQDL rulesets against a lake's tables, as Glue would")
    add_lake_arguments(check)
    check.add_argument(
        "--table", help=f"the lake table to check (default: every table with a ruleset: {', '.join(ruleset_names())})"
    )
    check.add_argument(
        "--ruleset", type=Path, help="a DQDL file to evaluate instead of the table's own (needs --table)"
    )
    check.add_argument("--json", action="store_true", help="print Glue's result rows, by table, as JSON")
    check.set_defaults(handler=command_check)


def _rulesets(table: str | None, ruleset_file: Path | None) -> dict[str, Ruleset]:
    """The rulesets to evaluate, by table, each parsed and its rule types checked (before any engine starts)."""
    rulesets = _parsed(table, ruleset_file)
    for name, ruleset in rulesets.items():
        try:
            check_supported(ruleset)
        except DQDLError as error:
            raise UsageError(f"{ruleset_file or name + '.dqdl'}: {error}") from None
    return rulesets


def _parsed(table: str | None, ruleset_file: Path | None) -> dict[str, Ruleset]:
    if ruleset_file is not None and table is None:
        raise UsageError("--ruleset needs --table: the table the ruleset checks")
    try:
        if ruleset_file is not None and table is not None:
            try:
                text = ruleset_file.read_text(encoding="utf-8")
            except OSError as error:
                raise UsageError(f"cannot read ruleset {ruleset_file}: {error.strerror or error}") from error
            try:
                return {table: parse(text)}
            except DQDLError as error:
                raise DQDLError(f"{ruleset_file}: {error}") from None
        return {name: load_ruleset(name) for name in ([table] if table else ruleset_names())}
    except DQDLError as error:
        raise UsageError(str(error)) from None


def command_check(args: argparse.Namespace, out: TextIO) -> int:
    rulesets = _rulesets(args.table, args.ruleset)  # a bad ruleset is named before any engine starts
    spark, lake, _ = open_lake(args.lake, args.landing, args.format, args.engine, args.remote)
    with reused(read_tables(spark, lake)) as tables:
        try:
            results = evaluate_tables({table.name: df for table, df in tables.items()}, rulesets)
        except DQDLError as error:
            raise UsageError(str(error)) from None
    if args.json:
        glue = {table: [result.as_glue() for result in rows] for table, rows in results.items()}
        print(json.dumps(glue, indent=2), file=out)
    else:
        print_results(results, Console(file=out, width=200, no_color=True, highlight=False, soft_wrap=True))
    passed = all(result.passed for rows in results.values() for result in rows)
    return 0 if passed else 1


def print_results(results: dict[str, list[RuleResult]], console: Console) -> None:
    """Each table's rule outcomes: outcome, rule, and the failure reason or the metrics it was decided on."""
    table = RichTable("table", "outcome", "rule", "failure reason / metrics", box=None, pad_edge=False)
    for name, rows in results.items():
        for result in rows:
            metrics = ", ".join(f"{key} = {value:g}" for key, value in result.evaluated_metrics.items())
            detail = (result.failure_reason or "").replace("\n", "; ") if not result.passed else metrics
            table.add_row(name, result.outcome, result.rule, detail)
    console.print(table)
