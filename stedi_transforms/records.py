"""Accept or reject one landing line against a source's schema. Plain Python: no Spark needed.

Spark's JSON readers disagree on what they accept (classic Spark turns a number in a string field into text,
Sail's reader has no PERMISSIVE mode), so the rules are written once here and run as a UDF on both engines.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pyspark.sql.types import DataType, DoubleType, LongType, StringType

from stedi_transforms.schemas import Source

MALFORMED_JSON = "malformed JSON"
NOT_AN_OBJECT = "not a JSON object"
INVALID_UTF8 = "invalid UTF-8"

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

Parsed = tuple[Any, ...]
"""One value per schema field, then the reason (None when the line is accepted)."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array"


def _conforms(value: Any, data_type: DataType) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(data_type, StringType):
        return isinstance(value, str)
    if isinstance(data_type, LongType):
        return isinstance(value, int) and _LONG_MIN <= value <= _LONG_MAX
    if isinstance(data_type, DoubleType):
        return isinstance(value, (int, float)) and _finite_double(value)
    raise TypeError(f"no landing rule for {data_type.simpleString()}")


def _finite_double(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # a whole number too large for a double, such as a 400-digit integer
        return False


def _converted(value: Any, data_type: DataType) -> Any:
    return float(value) if isinstance(data_type, DoubleType) and value is not None else value


def parse_line(line: str, source: Source) -> Parsed:
    """Parse one non-blank landing line into the source's fields plus a rejection reason.

    A line is rejected when it is not a JSON object, when a field of the schema holds a non-null value of
    another JSON type (an integer is a valid double; a bigint must be a whole number within 64 bits), or when
    a key field is missing or null. Unknown fields are ignored; a repeated key keeps its last value.

    >>> from stedi_transforms.schemas import STEP_TRAINER
    >>> parse_line('{"sensorReadingTime": 1, "serialNumber": "a"}', STEP_TRAINER)
    (1, 'a', None, None)
    """
    fields = source.schema.fields
    try:
        record = json.loads(line, parse_constant=_reject_constant)
        if _SURROGATE_ESCAPE.search(line):
            json.dumps(record, ensure_ascii=False).encode("utf-8")  # an unpaired surrogate is not text
    except (ValueError, RecursionError):
        return (None,) * len(fields) + (MALFORMED_JSON,)
    if not isinstance(record, dict):
        return (None,) * len(fields) + (NOT_AN_OBJECT,)

    problems = [
        f"{field.name}: expected {field.dataType.simpleString()}, got {_json_type(record[field.name])}"
        for field in fields
        if record.get(field.name) is not None and not _conforms(record[field.name], field.dataType)
    ]
    problems += [f"{name}: missing key field" for name in source.key_fields if record.get(name) is None]
    if problems:
        return (None,) * len(fields) + ("; ".join(problems),)
    return (*[_converted(record.get(field.name), field.dataType) for field in fields], None)
