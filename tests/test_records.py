"""The accept/reject rules for one landing line. Plain Python: no Spark session."""

from __future__ import annotations

import pytest

from stedi_transforms.records import MALFORMED_JSON, NOT_AN_OBJECT, parse_line
from stedi_transforms.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER

ADA = "ada@stedi.test"


def test_a_canonical_reading_is_accepted() -> None:
    line = '{"user":"ada@stedi.test","timestamp":1700000001000,"x":0.1,"y":0.2,"z":0.3}'
    assert parse_line(line, ACCELEROMETER) == (ADA, 1700000001000, 0.1, 0.2, 0.3, None)


def test_whole_numbers_are_valid_doubles_and_become_floats() -> None:
    parsed = parse_line('{"user": "ada@stedi.test", "timestamp": 5, "x": 1, "y": -2, "z": 0}', ACCELEROMETER)
    assert parsed == (ADA, 5, 1.0, -2.0, 0.0, None)
    assert all(isinstance(value, float) for value in parsed[2:5])


def test_unknown_fields_are_ignored_and_missing_ones_are_null() -> None:
    line = '{"sensorReadingTime": 7, "serialNumber": "dev-ada", "firmware": "2.1"}'
    assert parse_line(line, STEP_TRAINER) == (7, "dev-ada", None, None)


def test_a_repeated_key_keeps_its_last_value() -> None:
    line = '{"sensorReadingTime": 7, "serialNumber": "dev-a", "serialNumber": "dev-b", "distanceFromObject": 1}'
    assert parse_line(line, STEP_TRAINER) == (7, "dev-b", 1, None)


def test_null_in_a_field_that_is_not_a_key_is_accepted() -> None:
    line = '{"email": "ada@stedi.test", "shareWithResearchAsOfDate": null, "birthDay": null}'
    assert parse_line(line, CUSTOMER) == (None, ADA, None, None, None, None, None, None, None, None, None)


@pytest.mark.parametrize(
    "line",
    [
        '{"user": "ada@stedi.test", "timestamp": 1',
        "user=ada timestamp=1",
        '{"user": "ada@stedi.test", "timestamp": 1,}',
        "{'user': 'ada@stedi.test'}",
        '{"user": "ada@stedi.test", "timestamp": 1, "x": NaN}',
        '{"user": "ada@stedi.test", "timestamp": 1, "x": Infinity}',
    ],
)
def test_text_that_is_not_json_is_malformed(line: str) -> None:
    assert parse_line(line, ACCELEROMETER) == (None, None, None, None, None, MALFORMED_JSON)


@pytest.mark.parametrize("line", ["[1, 2, 3]", '"ada@stedi.test"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_rejected(line: str) -> None:
    assert parse_line(line, STEP_TRAINER) == (None, None, None, NOT_AN_OBJECT)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"sensorReadingTime": "abc", "serialNumber": "a"}', "sensorReadingTime: expected bigint, got string"),
        ('{"sensorReadingTime": "17", "serialNumber": "a"}', "sensorReadingTime: expected bigint, got string"),
        ('{"sensorReadingTime": 1.5, "serialNumber": "a"}', "sensorReadingTime: expected bigint, got number"),
        ('{"sensorReadingTime": 1.0, "serialNumber": "a"}', "sensorReadingTime: expected bigint, got number"),
        ('{"sensorReadingTime": true, "serialNumber": "a"}', "sensorReadingTime: expected bigint, got boolean"),
        (
            '{"sensorReadingTime": 9223372036854775808, "serialNumber": "a"}',
            "sensorReadingTime: expected bigint, got integer",
        ),
        ('{"sensorReadingTime": 1, "serialNumber": 12345}', "serialNumber: expected string, got integer"),
        ('{"sensorReadingTime": 1, "serialNumber": {"id": "a"}}', "serialNumber: expected string, got object"),
        ('{"sensorReadingTime": 1, "serialNumber": ["a"]}', "serialNumber: expected string, got array"),
        (
            '{"sensorReadingTime": 1, "serialNumber": "a", "distanceFromObject": false}',
            "distanceFromObject: expected bigint, got boolean",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_rejected(line: str, reason: str) -> None:
    assert parse_line(line, STEP_TRAINER) == (None, None, None, reason)


def test_the_largest_bigint_is_accepted() -> None:
    line = '{"sensorReadingTime": 9223372036854775807, "serialNumber": "dev-ada"}'
    assert parse_line(line, STEP_TRAINER) == (9223372036854775807, "dev-ada", None, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [("true", "x: expected double, got boolean"), ('"0.1"', "x: expected double, got string")],
)
def test_a_double_must_be_a_json_number(value: str, reason: str) -> None:
    line = '{"user": "ada@stedi.test", "timestamp": 1, "x": ' + value + "}"
    assert parse_line(line, ACCELEROMETER) == (None, None, None, None, None, reason)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"timestamp": 1, "x": 0.0}', "user: missing key field"),
        ('{"user": null, "timestamp": 1}', "user: missing key field"),
        ('{"user": "ada@stedi.test"}', "timestamp: missing key field"),
        ("{}", "user: missing key field; timestamp: missing key field"),
    ],
)
def test_a_missing_or_null_key_field_is_rejected(line: str, reason: str) -> None:
    assert parse_line(line, ACCELEROMETER) == (None, None, None, None, None, reason)


def test_every_problem_of_a_line_is_named() -> None:
    line = '{"customerName": 7, "registrationDate": "yesterday"}'
    reason = (
        "customerName: expected string, got integer; registrationDate: expected bigint, got string; "
        "email: missing key field"
    )
    assert parse_line(line, CUSTOMER)[-1] == reason


def test_a_key_field_of_the_wrong_type_is_reported_as_such() -> None:
    assert parse_line('{"email": 12345}', CUSTOMER)[-1] == "email: expected string, got integer"
