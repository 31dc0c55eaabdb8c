"""The DQDL parser: every rule form into its dataclasses, the packaged rulesets, and one-line errors with the line and
column. No engine: these tests need no Spark session."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stedi_transforms.dq import DQDLError, ruleset_names, ruleset_text
from stedi_transforms.dq.checks import load_ruleset
from stedi_transforms.dq.dqdl import Composite, Condition, Duration, Keyword, Now, Rule, Ruleset, parse
from stedi_transforms.dq.evaluate import check_supported
from stedi_transforms.lake import OUTPUT_TABLES


def rules(text: str) -> tuple[Rule | Composite, ...]:
    return parse(f"Rules = [ {text} ]").rules


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("RowCount > 0", Rule("RowCount", (), Condition(">", (0.0,)))),
        ('IsComplete "email"', Rule("IsComplete", ("email",))),
        ('Completeness "a" >= 0.95', Rule("Completeness", ("a",), Condition(">=", (0.95,)))),
        ('IsUnique "a" "b"', Rule("IsUnique", ("a", "b"))),
        ('IsPrimaryKey "a" and "b"', Rule("IsPrimaryKey", ("a", "b"))),  # `and` joining arguments, as in the ANTLR
        ('ColumnCorrelation "a" of "b" > 0.5', Rule("ColumnCorrelation", ("a", "b"), Condition(">", (0.5,)))),
        ('Mean "x" between -1 and 2.5', Rule("Mean", ("x",), Condition("between", (-1.0, 2.5)))),
        ('Sum "x" not between 0 and 10', Rule("Sum", ("x",), Condition("not between", (0.0, 10.0)))),
        ('StandardDeviation "x" < 3', Rule("StandardDeviation", ("x",), Condition("<", (3.0,)))),
        ('DistinctValuesCount "x" = 3', Rule("DistinctValuesCount", ("x",), Condition("=", (3.0,)))),
        ('DistinctValuesCount "x" != 3', Rule("DistinctValuesCount", ("x",), Condition("!=", (3.0,)))),
        ('ColumnValues "c" in ["a", "b"]', Rule("ColumnValues", ("c",), Condition("in", ("a", "b")))),
        ('ColumnValues "n" in [1, 2]', Rule("ColumnValues", ("n",), Condition("in", (1.0, 2.0)))),
        ('ColumnValues "c" not in ["a"]', Rule("ColumnValues", ("c",), Condition("not in", ("a",)))),
        (
            'ColumnValues "c" in ["a", NULL, EMPTY, WHITESPACES_ONLY]',
            Rule(
                "ColumnValues",
                ("c",),
                Condition("in", ("a", Keyword("NULL"), Keyword("EMPTY"), Keyword("WHITESPACES_ONLY"))),
            ),
        ),
        ('ColumnValues "c" = NULL', Rule("ColumnValues", ("c",), Condition("=", (Keyword("NULL"),)))),
        ('ColumnValues "c" matches "[a-z]+"', Rule("ColumnValues", ("c",), Condition("matches", ("[a-z]+",)))),
        ('ColumnValues "c" not matches "x\\\\d"', Rule("ColumnValues", ("c",), Condition("not matches", ("x\\d",)))),
        ('ColumnValues "c" = "say \\"hi\\""', Rule("ColumnValues", ("c",), Condition("=", ('say "hi"',)))),
        ('ColumnValues "d" > "2024-01-01"', Rule("ColumnValues", ("d",), Condition(">", ("2024-01-01",)))),
        ('ColumnValues "d" <= now()', Rule("ColumnValues", ("d",), Condition("<=", (Now(),)))),
        (
            'ColumnValues "d" > (now() - 3 days)',
            Rule("ColumnValues", ("d",), Condition(">", (Now(Duration(3.0, "days"), "-"),))),
        ),
        (
            'DataFreshness "t" between 2 hours and 30 minutes',
            Rule("DataFreshness", ("t",), Condition("between", (Duration(2.0, "hours"), Duration(30.0, "minutes")))),
        ),
        (
            'ColumnValues "x" > 0 with threshold > 0.9',
            Rule("ColumnValues", ("x",), Condition(">", (0.0,)), tags=(("threshold", Condition(">", (0.9,))),)),
        ),
        (
            'ColumnDataType "c" = "INTEGER" with threshold between 0.5 and 1',
            Rule(
                "ColumnDataType",
                ("c",),
                Condition("=", ("INTEGER",)),
                tags=(("threshold", Condition("between", (0.5, 1.0))),),
            ),
        ),
        (
            'IsComplete "a" where "b > 3"',
            Rule("IsComplete", ("a",), where="b > 3"),
        ),
        (
            'RowCount > 1 where "x = \'y\'" labels = ["team" = "data", "tier" = "1"]',
            Rule("RowCount", (), Condition(">", (1.0,)), "x = 'y'", (("team", "data"), ("tier", "1"))),
        ),
        (
            'CustomSql "select count(*) from primary" > 0',
            Rule("CustomSql", ("select count(*) from primary",), Condition(">", (0.0,))),
        ),
        (
            'ReferentialIntegrity "a,b" "ref.{c,d}" = 1.0',
            Rule("ReferentialIntegrity", ("a,b", "ref.{c,d}"), Condition("=", (1.0,))),
        ),
        ('RowCountMatch "ref" >= 0.9', Rule("RowCountMatch", ("ref",), Condition(">=", (0.9,)))),
        ('ColumnExists "a"', Rule("ColumnExists", ("a",))),
    ],
)
def test_every_rule_form_parses_into_its_dataclass(text: str, rule: Rule) -> None:
    assert rules(text) == (rule,)


def test_composites_bind_and_before_or_and_keep_their_labels() -> None:
    a, b, c = Rule("IsComplete", ("a",)), Rule("IsUnique", ("b",)), Rule("RowCount", (), Condition(">", (0.0,)))
    parsed = rules('(IsComplete "a") and (IsUnique "b") or (RowCount > 0), ((IsComplete "a") or (IsUnique "b"))')
    assert parsed == (Composite("or", (Composite("and", (a, b)), c)), Composite("or", (a, b)))
    labelled = rules('((IsComplete "a") and (IsUnique "b")) labels = ["k" = "v"]')
    assert labelled == (Composite("and", (a, b), (("k", "v"),)),)


def test_each_rule_keeps_its_text_and_its_place() -> None:
    parsed = parse('Rules = [\n  RowCount  >  0,\n    (IsComplete "a")  or  (IsUnique "b")\n]')
    assert [(str(rule), rule.line, rule.column) for rule in parsed.rules] == [
        ("RowCount > 0", 2, 3),
        ('(IsComplete "a") or (IsUnique "b")', 3, 6),
    ]


def test_the_sections_before_the_rules_and_comments() -> None:
    text = """
    # the ruleset of a table
    Metadata = { "Version": "1.0" }
    DataSources = { "Primary": "customer_trusted", "References": ["a", "b"] }
    DefaultLabels = ["owner" = "stedi"]
    Rules = [
        RowCount > 0  # a comment after a rule
    ]
    """
    assert parse(text) == Ruleset(
        (Rule("RowCount", (), Condition(">", (0.0,))),),
        (("Version", "1.0"),),
        (("Primary", "customer_trusted"), ("References", ("a", "b"))),
        (("owner", "stedi"),),
    )
    assert parse("Rules = [ ]") == Ruleset(())


def test_conditions_decide_metrics_as_glue_does() -> None:
    """``between`` excludes its bounds (awslabs/dqdl's NumberBasedCondition.evaluate)."""
    checks = [
        (Condition("between", (1.0, 3.0)), [1.0, 2.0, 3.0]),
        (Condition("not between", (1.0, 3.0)), [1.0, 2.0, 3.0]),
        (Condition(">=", (2.0,)), [1.0, 2.0, 3.0]),
        (Condition("in", (1.0, 3.0)), [1.0, 2.0, 3.0]),
        (Condition("!=", (2.0,)), [1.0, 2.0, 3.0]),
    ]
    assert [[condition.holds(value) for value in values] for condition, values in checks] == [
        [False, True, False],
        [True, False, True],
        [False, True, True],
        [True, False, True],
        [True, False, True],
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('Rules = [ IsComplete "a" > ]', "line 1, column 28: unexpected ']'; expected"),
        ('Rules = [\n  RowCount > 0,\n  Completeness "b" >> 3\n]', "line 3, column 21: unexpected '>'; expected"),
        ("Rules = [\n  RowCount > 0,", "line 2, column 16: the ruleset ends early; expected"),
        ("Rules = [ IsComplete @ ]", "line 1, column 22: unexpected character '@'"),
        ("Rule = [ RowCount > 0 ]", 'line 1, column 1: unexpected \'Rule\'; expected "DataSources", "DefaultLabels"'),
        ('Rules = [ (IsComplete "a") and IsUnique "b" ]', "line 1, column 32: unexpected 'IsUnique'; expected \"(\""),
        ('Rules = [ Mean "x" > 1 with confidence > 2 ]', "line 1, column 11: Mean has an unknown tag 'confidence'"),
    ],
)
def test_a_ruleset_that_does_not_parse_is_one_line_naming_the_line_and_column(text: str, message: str) -> None:
    with pytest.raises(DQDLError) as error:
        parse(text)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_rule_type_the_evaluator_does_not_support_is_named_never_passed() -> None:
    ruleset = parse('Rules = [\n  RowCount > 0,\n  (IsComplete "a") or (Entropy "a" > 1)\n]')
    with pytest.raises(DQDLError, match=r"^line 3, column 24: rule type Entropy is not supported here \(supported: "):
        check_supported(ruleset)


def test_every_output_table_has_a_ruleset_and_every_ruleset_parses_and_runs_here() -> None:
    assert ruleset_names() == sorted(table.name for table in OUTPUT_TABLES)
    for name in ruleset_names():
        check_supported(load_ruleset(name))
    assert [str(rule) for rule in load_ruleset("customer_trusted").rules][:3] == [
        "RowCount > 0",
        'IsComplete "shareWithResearchAsOfDate"',
        'IsPrimaryKey "email"',
    ]


def test_nothing_the_glue_jobs_import_loads_lark_and_the_rulesets_are_read_without_it() -> None:
    """Glue evaluates DQDL itself and has no lark: the jobs' modules must not need it, and a job (or deploy) reads a
    table's ruleset from the package without lark or Spark."""
    code = (
        "import sys, stedi_transforms.dq as dq; text = dq.ruleset_text('customer_trusted');"
        "loaded = {'lark' in sys.modules, 'pyspark' in sys.modules};"
        "import stedi_transforms.glue, stedi_transforms.pipeline; print(loaded, 'lark' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "{False} False"
    assert ruleset_text("customer_trusted").startswith("# customer_trusted: ")
