"""DQDL rulesets parsed into frozen dataclasses, by the lark grammar ``dqdl.lark`` beside this module.

>>> ruleset = parse('Rules = [ RowCount > 0, IsComplete "email" ]')
>>> [str(rule) for rule in ruleset.rules]
['RowCount > 0', 'IsComplete "email"']
>>> ruleset.rules[1].parameters
('email',)

A ruleset that does not parse raises :class:`DQDLError`, one line naming the line and column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Union

from lark import Lark, Token, Transformer, Tree, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr
from lark.tree import Meta
from lark.visitors import v_args

from stedi_transforms.dq import DQDLError


@dataclass(frozen=True)
class Keyword:
    """``NULL``, ``EMPTY`` or ``WHITESPACES_ONLY`` in a condition."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Duration:
    """``24 hours``: an amount of days, hours or minutes."""

    amount: float
    unit: str

    @property
    def hours(self) -> float:
        return self.amount * {"days": 24.0, "hours": 1.0, "minutes": 1 / 60}[self.unit]

    def __str__(self) -> str:
        return f"{_number(self.amount)} {self.unit}"


@dataclass(frozen=True)
class Now:
    """``now()``, or ``(now() - 3 days)``: the moment of evaluation, shifted by ``offset``."""

    offset: Duration | None = None
    sign: str = "-"

    def __str__(self) -> str:
        return f"(now() {self.sign} {self.offset})" if self.offset else "now()"


Operand = Union[float, str, Duration, Now, Keyword]  # noqa: UP007 (a runtime alias, kept for 3.11's isinstance)


@dataclass(frozen=True)
class Condition:
    """``> 0``, ``between 1 and 10``, ``in ["a", "b"]``, ``matches "[a-z]+"``, each optionally negated (``not in``,
    ``!=``). ``operator`` is one of ``>``, ``>=``, ``<``, ``<=``, ``=``, ``!=``, ``between``, ``not between``, ``in``,
    ``not in``, ``matches``, ``not matches``."""

    operator: str
    operands: tuple[Operand, ...]

    def holds(self, value: float) -> bool:
        """Whether a metric meets this (numeric) condition, as Glue decides: ``between`` excludes its bounds."""
        numbers = [float(operand) for operand in self.operands if isinstance(operand, float | int)]
        if len(numbers) != len(self.operands):
            raise DQDLError(f"the condition {self} compares a metric with something other than numbers")
        match self.operator:
            case ">":
                return value > numbers[0]
            case ">=":
                return value >= numbers[0]
            case "<":
                return value < numbers[0]
            case "<=":
                return value <= numbers[0]
            case "=":
                return value == numbers[0]
            case "!=":
                return value != numbers[0]
            case "between":
                return numbers[0] < value < numbers[1]
            case "not between":
                return value <= numbers[0] or value >= numbers[1]
            case "in":
                return value in numbers
            case "not in":
                return value not in numbers
        raise DQDLError(f"the condition {self} does not apply to a metric")

    def __str__(self) -> str:
        shown = [_operand(operand) for operand in self.operands]
        if self.operator.endswith("between"):
            return f"{self.operator} {shown[0]} and {shown[1]}"
        if self.operator.endswith("in"):
            return f"{self.operator} [{','.join(shown)}]"
        return f"{self.operator} {shown[0]}"


@dataclass(frozen=True)
class Rule:
    """One rule: ``IsComplete "email"``, ``ColumnValues "x" between -10 and 10 where "user IS NOT NULL"``,
    ``Completeness "a" > 0.9 labels = ["team" = "data"]``, ``ColumnValues "a" > 0 with threshold > 0.9``."""

    rule_type: str
    parameters: tuple[str, ...] = ()
    condition: Condition | None = None
    where: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, Condition], ...] = ()
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)
    text: str = field(default="", compare=False)
    """The rule as written (its spaces collapsed): how Glue's results name it."""

    @property
    def threshold(self) -> Condition | None:
        """The ``with threshold`` condition: the share of rows that must pass, for rules checked row by row."""
        return dict(self.tags).get("threshold")

    def __str__(self) -> str:
        if self.text:
            return self.text
        parts = [self.rule_type, *[_quoted(parameter) for parameter in self.parameters]]
        if self.condition is not None:
            parts.append(str(self.condition))
        if self.where is not None:
            parts.append(f"where {_quoted(self.where)}")
        if self.labels:
            parts.append(_labels(self.labels))
        parts += [f"with {name} {condition}" for name, condition in self.tags]
        return " ".join(parts)


@dataclass(frozen=True)
class Composite:
    """``(A) and (B)``, ``(A) or (B)``: ``operator`` is ``and`` or ``or``."""

    operator: str
    rules: tuple[Rule | Composite, ...]
    labels: tuple[tuple[str, str], ...] = ()
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)
    text: str = field(default="", compare=False)

    def leaves(self) -> list[Rule]:
        return [leaf for rule in self.rules for leaf in (rule.leaves() if isinstance(rule, Composite) else [rule])]

    def __str__(self) -> str:
        if self.text:
            return self.text
        return f" {self.operator} ".join(f"({rule})" for rule in self.rules)


@dataclass(frozen=True)
class Ruleset:
    """A DQDL document: its rules and the sections before them."""

    rules: tuple[Rule | Composite, ...]
    metadata: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    data_sources: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    default_labels: tuple[tuple[str, str], ...] = ()

    def leaves(self) -> list[Rule]:
        """Every rule that is not a composite, composites' members included, in the order written."""
        return [leaf for rule in self.rules for leaf in (rule.leaves() if isinstance(rule, Composite) else [rule])]


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _operand(operand: Operand) -> str:
    if isinstance(operand, str):
        return _quoted(operand)
    if isinstance(operand, float):
        return _number(operand)
    return str(operand)


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    return "labels = [" + ", ".join(f"{_quoted(key)} = {_quoted(value)}" for key, value in labels) + "]"


def _string(token: Token) -> str:
    text: str = json.loads(token) if "\\" in token else token[1:-1]
    return text


class _ToModel(Transformer[Token, Ruleset]):
    """The parse tree as the dataclasses above; ``source`` gives each rule its text as written."""

    def __init__(self, source: str) -> None:
        super().__init__(visit_tokens=True)
        self.source = source

    def _text(self, meta: Meta) -> str:
        return " ".join(self.source[meta.start_pos : meta.end_pos].split())

    def start(self, children: list[object]) -> Ruleset:
        sections: dict[str, object] = {}
        for child in children:
            if isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], str):
                sections[child[0]] = child[1]
        rules = sections.get("rules", ())
        return Ruleset(
            rules=rules,  # type: ignore[arg-type]
            metadata=sections.get("metadata", ()),  # type: ignore[arg-type]
            data_sources=sections.get("data_sources", ()),  # type: ignore[arg-type]
            default_labels=sections.get("default_labels", ()),  # type: ignore[arg-type]
        )

    def metadata(self, children: list[object]) -> tuple[str, object]:
        return ("metadata", children[0])

    def data_sources(self, children: list[object]) -> tuple[str, object]:
        return ("data_sources", children[0])

    def default_labels(self, children: list[object]) -> tuple[str, object]:
        return ("default_labels", tuple(child for child in children if child is not None))

    def rules(self, children: list[object]) -> tuple[str, object]:
        return ("rules", tuple(child for child in children if child is not None))

    def dictionary(self, children: list[tuple[str, object]]) -> tuple[tuple[str, object], ...]:
        return tuple(children)

    def pair(self, children: list[object]) -> tuple[str, object]:
        key, value = children
        return (_string(key), _string(value) if isinstance(value, Token) else value)  # type: ignore[arg-type]

    def string_list(self, children: list[Token]) -> tuple[str, ...]:
        return tuple(_string(child) for child in children)

    def labels(self, children: list[object]) -> tuple[tuple[str, str], ...]:
        return tuple(child for child in children if child is not None)  # type: ignore[misc]

    def label(self, children: list[Token]) -> tuple[str, str]:
        return (_string(children[0]), _string(children[1]))

    def parameter(self, children: list[Token]) -> str:
        (token,) = children
        return _string(token) if token.type == "STRING" else str(token)

    def where(self, children: list[Token]) -> tuple[str, str]:
        return ("where", _string(children[0]))

    def tag(self, children: list[object]) -> tuple[str, tuple[str, object]]:
        return ("tag", (str(children[0]), children[1]))

    @v_args(meta=True)
    def rule(self, meta: Meta, children: list[object]) -> Rule:
        rule_type = children[0]
        assert isinstance(rule_type, Token)
        parameters: list[str] = []
        condition: Condition | None = None
        where: str | None = None
        labels: tuple[tuple[str, str], ...] = ()
        tags: list[tuple[str, Condition]] = []
        for child in children[1:]:
            if isinstance(child, str):
                parameters.append(child)
            elif isinstance(child, Condition):
                condition = child
            elif isinstance(child, tuple) and child and child[0] == "where":
                where = child[1]
            elif isinstance(child, tuple) and child and child[0] == "tag":
                tags.append(child[1])
            elif isinstance(child, tuple):
                labels = child
        return Rule(
            str(rule_type),
            tuple(parameters),
            condition,
            where,
            labels,
            tuple(tags),
            rule_type.line or 0,
            rule_type.column or 0,
            self._text(meta),
        )

    def group(self, children: list[object]) -> Rule | Composite:
        inner = children[0]
        assert isinstance(inner, Rule | Composite)
        labels = children[1] if len(children) > 1 else ()
        assert isinstance(labels, tuple)
        return replace(inner, labels=labels) if labels else inner

    @v_args(meta=True)
    def all_of(self, meta: Meta, children: list[Rule | Composite]) -> Composite:
        return Composite("and", tuple(children), (), children[0].line, children[0].column, self._text(meta))

    @v_args(meta=True)
    def any_of(self, meta: Meta, children: list[Rule | Composite]) -> Composite:
        return Composite("or", tuple(children), (), children[0].line, children[0].column, self._text(meta))

    def compare(self, children: list[object]) -> Condition:
        return Condition(str(children[0]), (_value(children[1]),))

    def between(self, children: list[object]) -> Condition:
        return Condition(_negated(children, "between"), tuple(_value(child) for child in children[-2:]))

    def in_set(self, children: list[object]) -> Condition:
        values = [child for child in children if not (isinstance(child, Token) and child.type == "NOT")]
        return Condition(_negated(children, "in"), tuple(_value(child) for child in values))

    def matches(self, children: list[object]) -> Condition:
        return Condition(_negated(children, "matches"), (_value(children[-1]),))

    def number(self, children: list[Token]) -> float:
        return float(children[0])

    def duration(self, children: list[object]) -> Duration:
        amount, unit = children
        return Duration(float(amount), str(unit))  # type: ignore[arg-type]

    def now(self, children: list[object]) -> Now:
        if not children:
            return Now()
        sign, offset = children
        return Now(offset, str(sign))  # type: ignore[arg-type]

    def KEYWORD(self, token: Token) -> Keyword:  # noqa: N802 (lark calls a terminal's callback by its name)
        return Keyword(str(token).upper())


def _value(child: object) -> Operand:
    if isinstance(child, Token) and child.type == "STRING":
        return _string(child)
    assert isinstance(child, float | str | Duration | Now | Keyword), child
    return child


def _negated(children: list[object], operator: str) -> str:
    negated = any(isinstance(child, Token) and child.type == "NOT" for child in children)
    return f"not {operator}" if negated else operator


@cache
def _parser() -> Lark:
    grammar = (resources.files("stedi_transforms.dq") / "dqdl.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


_NAMES = {
    "STRING": 'a quoted string ("…")',
    "RULE_TYPE": "a rule type or name",
    "SIGNED_NUMBER": "a number",
    "COMPARATOR": "a comparison (>, >=, <, <=, =, !=)",
    "COMMA": '","',
    "RSQB": '"]"',
    "LSQB": '"["',
    "LPAR": '"("',
    "RPAR": '")"',
    "EQUAL": '"="',
    "KEYWORD": "NULL, EMPTY or WHITESPACES_ONLY",
    "DURATION_UNIT": "days, hours or minutes",
    "_AND": '"and"',
    "_OR": '"or"',
}


def _expected(names: Iterable[str]) -> str:
    def shown_as(name: str) -> str:
        if name in _NAMES:
            return _NAMES[name]
        if name == "$END":
            return "the end of the ruleset"
        pattern = _parser().get_terminal(name).pattern
        return f'"{pattern.value}"' if isinstance(pattern, PatternStr) else name.strip("_").lower()

    shown = sorted({shown_as(name) for name in names})
    return ", ".join(shown[:6]) + (" …" if len(shown) > 6 else "")


@lru_cache(maxsize=256)  # a Ruleset is immutable: the same text, the same rules (verify reads each ruleset per run)
def parse(text: str) -> Ruleset:
    """Parse a DQDL document (``Rules = [ ... ]``, optionally after Metadata, DataSources and DefaultLabels)."""
    try:
        tree: Tree[Token] = _parser().parse(text)
    except UnexpectedInput as error:
        raise DQDLError(_message(error, text)) from None
    ruleset: Ruleset = _ToModel(text).transform(tree)
    for rule in ruleset.leaves():
        for tag, _ in rule.tags:
            if tag != "threshold":
                raise DQDLError(f"line {rule.line}, column {rule.column}: {rule.rule_type} has an unknown tag {tag!r}")
    return ruleset


def _message(error: UnexpectedInput, text: str) -> str:
    where = f"line {error.line}, column {error.column}"
    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        lines = text.splitlines() or [""]
        where = f"line {len(lines)}, column {len(lines[-1]) + 1}"
        return f"{where}: the ruleset ends early; expected {_expected(map(str, error.expected))}"
    if isinstance(error, UnexpectedToken):
        return f"{where}: unexpected {str(error.token)!r}; expected {_expected(error.expected)}"
    if isinstance(error, UnexpectedCharacters):
        return f"{where}: unexpected character {error.char!r}"
    return f"{where}: {error}"
