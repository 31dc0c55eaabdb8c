"""A landing file's bytes → its parsed lines: the arrival rules, line numbers, and the fast path's verdicts, which
must be those of the Python rules for every line. Plain Python and pyarrow: no Spark session."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stedi_transforms.parsing import parse_file, unreadable_file
from stedi_transforms.records import parse_line
from stedi_transforms.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER, Source, ingested_schema

GOOD = '{"user":"ada@stedi.test","timestamp":1700000001000,"x":0.1,"y":0.2,"z":0.3}'
GOOD_ROW = ("ada@stedi.test", 1700000001000, 0.1, 0.2, 0.3)
NULLS = (None,) * 5


def rows(data: bytes, source: Source = ACCELEROMETER, file: str = "f.json") -> list[tuple[Any, ...]]:
    table = parse_file(data, file, source)
    assert table.schema.names == ingested_schema(source).fieldNames()
    return [tuple(row.values()) for row in table.to_pylist()]


def accepted(number: int, values: tuple[Any, ...] = GOOD_ROW) -> tuple[Any, ...]:
    return ("f.json", number, *values, None, None)


def rejected(number: int, line: str, reason: str) -> tuple[Any, ...]:
    return ("f.json", number, *NULLS, line, reason)


def test_a_byte_order_mark_is_not_part_of_the_first_line() -> None:
    assert rows(b"\xef\xbb\xbf" + GOOD.encode() + b"\n") == [accepted(1)]


def test_a_byte_order_mark_inside_a_file_is_part_of_its_line() -> None:
    line = "\ufeff" + GOOD
    assert rows(GOOD.encode() + b"\n" + line.encode()) == [accepted(1), rejected(2, line, "malformed JSON")]


def test_a_cr_before_an_lf_is_dropped_and_the_last_line_needs_no_newline() -> None:
    assert rows(f"{GOOD}\r\n[1]\r\n{GOOD}".encode()) == [
        accepted(1),
        rejected(2, "[1]", "not a JSON object"),
        accepted(3),
    ]


def test_blank_lines_are_skipped_but_counted_in_line_numbers() -> None:
    assert rows(f"\n \t\r\n{GOOD}\n\n[2]\n  \n".encode()) == [accepted(3), rejected(5, "[2]", "not a JSON object")]


@pytest.mark.parametrize("data", [b"", b"\n", b"\r\n \t\n", b"\xef\xbb\xbf"])
def test_an_empty_or_blank_file_has_no_lines(data: bytes) -> None:
    assert rows(data) == []


def test_a_line_that_is_not_utf8_is_rejected_with_its_text_replaced() -> None:
    data = GOOD.encode() + b'\n{"user":"b\xff\xfe","timestamp":1}\n' + GOOD.encode()
    assert rows(data) == [
        accepted(1),
        rejected(2, '{"user":"b\ufffd\ufffd","timestamp":1}', "invalid UTF-8"),
        accepted(3),
    ]


def test_an_unreadable_file_is_one_rejected_record_naming_it() -> None:
    table = unreadable_file("a/landing/x.gz", "not a readable gzip file: bad header", STEP_TRAINER)
    assert table.to_pylist() == [
        {
            "file": "a/landing/x.gz",
            "line_number": 0,
            "sensorReadingTime": None,
            "serialNumber": None,
            "distanceFromObject": None,
            "line": None,
            "reason": "unreadable file: not a readable gzip file: bad header",
        }
    ]


RULES = [
    (
        '{"user":"ada@stedi.test","timestamp":"abc","x":1.0,"y":1.0,"z":1.0}',
        "timestamp: expected bigint, got string",
    ),
    ('{"user":"ada@stedi.test","timestamp":1,"x":"0.1"}', "x: expected double, got string"),
    ('{"timestamp":1,"x":0.0}', "user: missing key field"),
    ('{"user":null,"timestamp":1}', "user: missing key field"),
    ("{}", "user: missing key field; timestamp: missing key field"),
    ('{"user":"a","timestamp":1.5}', "timestamp: expected bigint, got number"),
    ('{"user":"a","timestamp":1.0}', "timestamp: expected bigint, got number"),
    ('{"user":"a","timestamp":9223372036854775808}', "timestamp: expected bigint, got integer"),
    ('{"user":42,"timestamp":1}', "user: expected string, got integer"),
    ('{"user":"a","timestamp":true}', "timestamp: expected bigint, got boolean"),
    (
        '{"user":{"a":1},"timestamp":[1]}',
        "user: expected string, got object; timestamp: expected bigint, got array",
    ),
    ('{"user":"a","timestamp":1,"x":1' + "0" * 400 + "}", "x: expected double, got integer"),
    ('{"user":"a","timestamp":1,"x":1e400}', "x: expected double, got number"),
    ('{"user":"a","timestamp":1,"x":NaN}', "malformed JSON"),
    ('{"user":"a","timestamp":1,"x":-Infinity}', "malformed JSON"),
    ('{"user":"a","timestamp":1,"note":NaN}', "malformed JSON"),
    ('{"user":"\\ud800","timestamp":1}', "malformed JSON"),
    ('{"user":"a","timestamp":1}{"user":"b","timestamp":2}', "malformed JSON"),
    ('{"user":"a","timestamp":1,}', "malformed JSON"),
    ('{"user":"a\tb","timestamp":1}', "malformed JSON"),
    ("{'user':'a','timestamp':1}", "malformed JSON"),
    ("user=ada timestamp=1", "malformed JSON"),
    ("[1, 2]", "not a JSON object"),
    ('"just a string"', "not a JSON object"),
]
"""A line for every rule of the reader, with the reason it is rejected."""


@pytest.mark.parametrize(("line", "reason"), RULES)
def test_every_rule_rejects_with_its_reason(line: str, reason: str) -> None:
    assert rows(f"{GOOD}\n{line}\n{GOOD}".encode()) == [accepted(1), rejected(2, line, reason), accepted(3)]


@pytest.mark.parametrize(
    ("line", "values"),
    [
        ('{"user":"a","timestamp":1,"user":"b"}', ("b", 1, None, None, None)),
        (
            '{"user": "a", "timestamp": -9223372036854775808, "x": 1, "y": -0, "z": 1E2}',
            ("a", -(2**63), 1.0, 0.0, 100.0),
        ),
        ('  {"em\\u0061il":"x","user":"\\u00e9\\ud83d\\ude00","timestamp":1}  ', ("é😀", 1, None, None, None)),
        ('{"user":"Infante","timestamp":1,"extra":{"deep":[1,2,{"NaN":null}]}}', ("Infante", 1, None, None, None)),
        ('{"user":"a","timestamp":1,"huge":1' + "0" * 400 + "}", ("a", 1, None, None, None)),
    ],
)
def test_what_the_rules_accept_is_accepted_with_its_values(line: str, values: tuple[Any, ...]) -> None:
    assert rows(line.encode()) == [accepted(1, values)]


def test_a_customer_file_keeps_every_field() -> None:
    line = (
        '{"customerName": "Ada", "email": "ada@stedi.test", "phone": "555", "birthDay": "1990-12-10", '
        '"serialNumber": "dev-ada", "registrationDate": 1, "lastUpdateDate": 2, "shareWithResearchAsOfDate": 3, '
        '"shareWithPublicAsOfDate": null, "shareWithFriendsAsOfDate": 4}'
    )
    table = parse_file(line.encode(), "c.json", CUSTOMER)
    assert table.to_pylist()[0] == {
        "file": "c.json",
        "line_number": 1,
        **dict(
            zip(
                CUSTOMER.schema.fieldNames(),
                ("Ada", "ada@stedi.test", "555", "1990-12-10", "dev-ada", 1, 2, 3, None, 4),
                strict=True,
            )
        ),
        "line": None,
        "reason": None,
    }


# Lines built to reach every branch of both routes: records of the right shape with values of every JSON type,
# repeated keys, extra fields, spacing, and text that is not one JSON object at all.
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["ada@stedi.test", "NaN", "Inf", "\ud800"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_keys = st.sampled_from(["user", "timestamp", "x", "y", "z", "extra", "User"])


@st.composite
def _lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["valid", "valid", "record", "record", "repeated", "junk", "cut"]))
    pairs = draw(st.lists(st.tuples(_keys, _values), max_size=7))
    if kind == "valid":  # a good reading, so that files mix good lines with bad ones
        user = draw(st.text(min_size=1, max_size=8))
        timestamp = draw(st.integers(min_value=-(2**63), max_value=2**63 - 1))
        axes = draw(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers()), max_size=3))
        pairs = [("user", user), ("timestamp", timestamp), *zip("xyz", axes, strict=False), *pairs[:1]]
    spaced = draw(st.booleans())
    members = [f"{json.dumps(key)}:{' ' if spaced else ''}{json.dumps(value)}" for key, value in pairs]
    if kind == "repeated" and members:
        members.append(members[0])
    text = "{" + (", " if spaced else ",").join(members) + "}"
    if kind == "junk":
        return draw(st.sampled_from(["[1]", "7", '"s"', "null", "{", "}{", "{}{}", "{} x", "x {}", "{}}"])) + text
    if kind == "cut":
        return text[: draw(st.integers(min_value=1, max_value=max(1, len(text) - 1)))]
    return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " ", "\r"]))


def _verdict_by_rules(line: str, source: Source) -> tuple[Any, ...]:
    *values, reason = parse_line(line, source)
    return (*values, line if reason else None, reason)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_lines(), min_size=1, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_every_line_gets_the_verdict_of_the_python_rules(lines: list[str], newline: str) -> None:
    data = newline.join(lines).encode()
    # One CR before each LF goes: the separator's own, or else the line's last character.
    texts = [
        line.removesuffix("\r") if newline == "\n" and number < len(lines) else line
        for number, line in enumerate(lines, start=1)
    ]
    expected = [
        ("f.json", number, *_verdict_by_rules(text, ACCELEROMETER))
        for number, text in enumerate(texts, start=1)
        if text.strip(" \t\r")
    ]
    assert rows(data) == expected


def test_the_table_has_the_ingested_schema() -> None:
    table = parse_file(GOOD.encode(), "f.json", ACCELEROMETER)
    assert table.schema == pa.schema(
        [
            ("file", pa.string()),
            ("line_number", pa.int64()),
            ("user", pa.string()),
            ("timestamp", pa.int64()),
            ("x", pa.float64()),
            ("y", pa.float64()),
            ("z", pa.float64()),
            ("line", pa.string()),
            ("reason", pa.string()),
        ]
    )
