"""One landing file's bytes → its parsed lines, as an Arrow table. Plain Python and pyarrow: no Spark needed.

This is where the landing contract meets a file as it arrives: a UTF-8 byte order mark at its start is not part
of the first line, a CR before an LF is dropped, the last line needs no newline, blank lines (JSON whitespace only)
are skipped, and a line that is not valid UTF-8 is rejected. Every other line is judged by the rules of
:func:`stedi_transforms.records.parse_line`, at native speed where it can be:

- The usual file, whose every line is one object of the schema's fields and no others, is read by ``pyarrow.json``
  as it is, against the schema, many lines at once. Arrow refuses what the rules refuse in such a line (a string
  for a number, a fraction or a number beyond 64 bits for a bigint, a number for a string, a boolean, an object, a
  repeated key, …); a ``NaN`` or ``Infinity``, which the rules call malformed, can only become a non-finite double.
- Any other file is read line by line: lines that look like one JSON object (``{`` … ``}``, and no ``NaN`` or
  ``Inf`` anywhere, since an unknown field's value is not looked at) are parsed by Arrow in blocks, halved until the
  lines Arrow refuses stand alone.
- Every line Arrow refuses, every line with a non-finite double, and every other line goes to the Python rules,
  which name the reason. Both routes give the same verdict (tests/test_parsing.py checks it on generated lines).

A file is parsed a part at a time (:func:`parse_parts`), whatever its size: a few megabytes of whole lines at once.
A line longer than :attr:`Limits.line_length` is rejected with its first kilobyte, and the file goes on.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from pyspark.sql.types import DataType, DoubleType, LongType, StringType, StructType

from stedi_transforms.records import INVALID_UTF8, parse_line
from stedi_transforms.schemas import LINE_NUMBER, Source, ingested_schema

BOM = b"\xef\xbb\xbf"
_NEWLINE, _OPEN, _CLOSE = ord("\n"), ord("{"), ord("}")
BLANK_LINE = r"^[ \t\r\n]*$"
"""A line of JSON whitespace only (with its newline, if it has one)."""
_ONE_OBJECT = r"^[ \t\r]*\{.*\}[ \t\r]*\n?$"
_NON_FINITE = r"NaN|Inf"
_READ_OPTIONS = pa_json.ReadOptions(use_threads=False)
_ARROW_TYPES: dict[type[DataType], pa.DataType] = {
    StringType: pa.string(),
    LongType: pa.int64(),
    DoubleType: pa.float64(),
}


KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
KEPT_OF_A_LONG_LINE = KIB
"""Bytes kept of a line over the length limit, as its text in the quarantine."""


@dataclass(frozen=True)
class Limits:
    """What the reader takes of one landing file, in bytes: its size as stored (``file_size``), its size once
    decompressed (``decompressed_size``: what a ``*.gz`` file expands to) and the length of any of its lines. A file
    past either size is one rejected record naming the limit, none of its rows read; a longer line is one rejected
    record (its first kilobyte kept) and the rest of the file is read. ``stedi run`` raises them with
    ``--max-file-size``, ``--max-decompressed-size`` and ``--max-line-length``."""

    file_size: int = 4 * GIB
    decompressed_size: int = 16 * GIB
    line_length: int = 1 * MIB

    def __post_init__(self) -> None:
        for name in ("file_size", "decompressed_size", "line_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 byte, not {getattr(self, name)}")

    @property
    def file_size_reason(self) -> str:
        return f"file over the size limit of {size_text(self.file_size)} (--max-file-size)"

    @property
    def decompressed_size_reason(self) -> str:
        return f"file over the decompressed size limit of {size_text(self.decompressed_size)} (--max-decompressed-size)"

    @property
    def line_length_reason(self) -> str:
        return f"line over the length limit of {size_text(self.line_length)} (--max-line-length)"


def size_text(size: int) -> str:
    """A number of bytes as people write it: in the largest binary unit that divides it, else in bytes.

    >>> size_text(16 << 30), size_text(1536), size_text(1000)
    ('16 GiB', '1,536 bytes', '1,000 bytes')
    """
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit:,} {name}"
    return f"{size:,} bytes"


def arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow twin of a flat Spark schema of strings, bigints and doubles."""
    return pa.schema([pa.field(field.name, _ARROW_TYPES[type(field.dataType)]) for field in schema.fields])


def parse_file(data: bytes, file: str, source: Source, first_line: int = 0, limits: Limits | None = None) -> pa.Table:
    """Parse the (decompressed) bytes of one landing file into rows of :func:`ingested_schema`, in line order: of
    the whole file, or of whole lines of it after its first ``first_line`` (a part of it, see :func:`parse_parts`).

    >>> from stedi_transforms.schemas import STEP_TRAINER
    >>> parse_file(b'{"sensorReadingTime":1,"serialNumber":"a"}\\n\\n[1]', "f.json", STEP_TRAINER).num_rows
    2
    """
    if first_line == 0:
        data = data.removeprefix(BOM)
    if b"\r" in data:  # one byte is found much faster than two
        data = data.replace(b"\r\n", b"\n")
    offsets = _line_offsets(data)
    reasons = np.full(len(offsets) - 1, None, dtype=object)  # lines judged before any parsing
    limits = limits or Limits()
    long = _lengths(data, offsets) > limits.line_length
    if long.any():  # judged by their length alone: their text cut to what the quarantine keeps
        data, offsets = _cut(data, offsets, long)
        reasons[long] = limits.line_length_reason
    lines, invalid = _lines(data, offsets)
    reasons[invalid & ~long] = INVALID_UTF8
    judged = long | invalid
    blank, candidate = _classify(lines, data, offsets, judged)
    blank &= ~judged
    kept = np.flatnonzero(~blank)
    if candidate[kept].all():
        # The usual file: every line is an object of the schema's fields and no others. Arrow reads the file as it
        # is; a NaN or Infinity can then only stand in a field of the schema, where it is refused or made a
        # non-finite double, which the Python rules judge.
        table = _read_json(data, source, unknown_fields="error")
        if table is not None and table.num_rows == len(kept):
            return _numbered_from(first_line, _judged_by_arrow(table, lines, kept, file, source))
    # Unknown fields are ignored by Arrow, so a NaN or Infinity in one of them must keep its line from Arrow.
    if (b"N" in data and b"NaN" in data) or (b"I" in data and b"Inf" in data):
        candidate &= ~pc.match_substring_regex(lines, _NON_FINITE).to_numpy(zero_copy_only=False)
    fast = np.flatnonzero(candidate)
    pieces, refused = _parse_with_arrow(lines, fast, file, source)
    slow = np.union1d(np.flatnonzero(~blank & ~candidate), refused)
    pieces.append(_judged_by_python(lines, slow.astype(np.int64), reasons, file, source))
    return _numbered_from(first_line, _in_line_order(pa.concat_tables(pieces)))


PART_SIZE = 1 * MIB
"""Bytes read of a file at a time, and about the most parsed at once: what bounds a task's memory."""


def parse_parts(parts: Iterable[bytes], file: str, source: Source, limits: Limits | None = None) -> Iterator[pa.Table]:
    """Parse the (decompressed) content of one landing file, given in parts of any size, a few megabytes of whole
    lines at a time: its rows, in line order, as :func:`parse_file` gives them for the whole content. A line that
    grows past the length limit is not kept: its first kilobyte stands for it, and the rest is skipped.

    >>> from stedi_transforms.schemas import STEP_TRAINER
    >>> parts = [b'{"sensorReadingTime":1,"ser', b'ialNumber":"a"}\\n\\n[1]']
    >>> [table.num_rows for table in parse_parts(parts, "f.json", STEP_TRAINER)]
    [2]
    """
    limits = limits or Limits()
    pending = bytearray()  # the part read but not parsed yet: whole lines, then the start of one
    skipped: bytes | None = None  # the first bytes of a line over the limit, whose end is still to come
    lines = 0  # the lines before ``pending``
    for part in parts:
        if skipped is not None:
            end = part.find(b"\n")
            if end < 0:
                continue
            yield _long_line(file, lines + 1, skipped, source, limits)
            lines, skipped, part = lines + 1, None, part[end + 1 :]
        pending += part
        if len(pending) >= PART_SIZE and (end := pending.rfind(b"\n")) >= 0:
            block = bytes(pending[: end + 1])
            del pending[: end + 1]
            yield parse_file(block, file, source, lines, limits)
            lines += block.count(b"\n")
        if b"\n" not in pending and len(pending) > limits.line_length:
            skipped = bytes(pending[:KEPT_OF_A_LONG_LINE])
            pending.clear()
    if skipped is not None:
        yield _long_line(file, lines + 1, skipped, source, limits)
    elif pending:
        yield parse_file(bytes(pending), file, source, lines, limits)


def _long_line(file: str, number: int, start: bytes, source: Source, limits: Limits) -> pa.Table:
    columns = [pa.nulls(1, field.type) for field in arrow_schema(source.schema)]
    text = pa.array([start.decode("utf-8", "replace")])
    return _table(file, np.array([number]), columns, text, pa.array([limits.line_length_reason]), source)


def _numbered_from(first_line: int, table: pa.Table) -> pa.Table:
    """A part's rows numbered as lines of its file."""
    if not first_line:
        return table
    index = table.schema.get_field_index(LINE_NUMBER)
    return table.set_column(index, LINE_NUMBER, pc.add(table[LINE_NUMBER], first_line))


def _lengths(data: bytes, offsets: np.ndarray) -> np.ndarray:
    """The length of every line, without its newline."""
    view = np.frombuffer(data, dtype=np.uint8)
    lengths = np.diff(offsets)
    if len(view):
        lengths -= (lengths > 0) & (view[np.maximum(offsets[1:] - 1, 0)] == _NEWLINE)
    return lengths


def _cut(data: bytes, offsets: np.ndarray, long: np.ndarray) -> tuple[bytes, np.ndarray]:
    """``data`` with each ``long`` line cut to its first :data:`KEPT_OF_A_LONG_LINE` bytes (and its newline)."""
    parts, start = [], 0
    for line in np.flatnonzero(long):
        begin, end = int(offsets[line]), int(offsets[line + 1])
        newline = data[end - 1 : end] == b"\n"
        parts += [data[start : begin + KEPT_OF_A_LONG_LINE], b"\n" if newline else b""]
        start = end
    parts.append(data[start:])
    cut = b"".join(parts)
    return cut, _line_offsets(cut)


def unreadable_file(file: str, error: str, source: Source) -> pa.Table:
    """The one rejected record that stands for a file that cannot be read at all (a corrupt gzip, say): line 0."""
    return rejected_file(file, f"unreadable file: {error}", source)


def rejected_file(file: str, reason: str, source: Source) -> pa.Table:
    """The one rejected record that stands for a whole file (line 0), for ``reason``."""
    columns = [pa.nulls(1, field.type) for field in arrow_schema(source.schema)]
    return _table(file, np.array([0]), columns, pa.nulls(1, pa.string()), pa.array([reason]), source)


def _line_offsets(data: bytes) -> np.ndarray:
    """Where each line of ``data`` starts, and where the last one ends. Every line keeps its newline; a file that
    ends with a newline has an empty last line, which is blank."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _NEWLINE)
    return np.concatenate([[0], newlines + 1, [len(data)]]).astype(np.int64)


def _lines(data: bytes, offsets: np.ndarray) -> tuple[pa.LargeStringArray, np.ndarray]:
    """Every line of ``data`` (without copying it where all of it is UTF-8), and which lines are not valid UTF-8:
    their text has replacement characters instead."""
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    lines = pa.Array.from_buffers(pa.large_binary(), len(offsets) - 1, buffers)
    try:
        return lines.cast(pa.large_string()), np.zeros(len(lines), dtype=bool)
    except pa.ArrowInvalid:
        raw = lines.to_pylist()
        invalid = np.array([_not_utf8(line) for line in raw], dtype=bool)
        return pa.array([line.decode("utf-8", "replace") for line in raw], pa.large_string()), invalid


def _not_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _classify(
    lines: pa.LargeStringArray, data: bytes, offsets: np.ndarray, invalid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which lines are blank, and which look like one JSON object (valid UTF-8, ``{`` … ``}``)."""
    view = np.frombuffer(data, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:].copy()
    ends[:-1] -= 1  # every line but the last ends with its newline
    empty = ends == starts
    first = view[np.minimum(starts, max(len(view) - 1, 0))] if len(view) else np.zeros(len(starts), np.uint8)
    last = view[np.maximum(ends - 1, 0)] if len(view) else np.zeros(len(starts), np.uint8)
    blank = empty.copy()
    candidate = ~empty & (first == _OPEN) & (last == _CLOSE)
    unsure = np.flatnonzero(~empty & ~candidate & ~invalid)
    if len(unsure):  # lines with spaces around them, or no object at all: the regular expressions decide
        text = lines.take(unsure)
        blank[unsure] = pc.match_substring_regex(text, BLANK_LINE).to_numpy(zero_copy_only=False)
        candidate[unsure] = pc.match_substring_regex(text, _ONE_OBJECT).to_numpy(zero_copy_only=False)
    return blank, candidate & ~invalid


def _read_json(data: bytes | pa.Buffer, source: Source, unknown_fields: str = "ignore") -> pa.Table | None:
    schema = arrow_schema(source.schema)
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior=unknown_fields)
    try:
        # One thread per file: the reader parses several files at once (see stedi_transforms.reader).
        return pa_json.read_json(io.BytesIO(data), read_options=_READ_OPTIONS, parse_options=options)
    except pa.ArrowInvalid:
        return None


def _parse_with_arrow(
    lines: pa.LargeStringArray, rows: np.ndarray, file: str, source: Source
) -> tuple[list[pa.Table], np.ndarray]:
    """Parse the given lines with Arrow, in blocks halved until Arrow takes them; return the judged rows and the
    rows Arrow refused."""
    judged: list[pa.Table] = []
    refused: list[np.ndarray] = []
    pending = [rows] if len(rows) else []
    while pending:
        block = pending.pop()
        # The lines keep their newlines, so the taken values are NDJSON as they stand (rows ascend, so the last
        # line of the file, the only one without a newline, can only come last).
        taken = lines.take(block)
        offsets = np.frombuffer(taken.buffers()[1], dtype=np.int64)
        table = _read_json(taken.buffers()[2][offsets[taken.offset] : offsets[taken.offset + len(taken)]], source)
        if table is not None and table.num_rows == len(block):
            judged.append(_judged_by_arrow(table, lines, block, file, source))
        elif len(block) == 1:
            refused.append(block)
        else:
            pending += [block[: len(block) // 2], block[len(block) // 2 :]]
    return judged, np.concatenate(refused) if refused else np.array([], dtype=np.int64)


def _judged_by_arrow(
    table: pa.Table, lines: pa.LargeStringArray, rows: np.ndarray, file: str, source: Source
) -> pa.Table:
    """Rows Arrow parsed with good types. A line is rejected when a key field is missing or null; one whose doubles
    Arrow made infinite is judged by the Python rules instead."""
    names = source.schema.fieldNames()
    columns = [table[name].combine_chunks() for name in names]
    finite = np.ones(len(rows), dtype=bool)
    for column in columns:
        # Counted first: a column with nothing infinite in it (the usual case) needs no row-by-row mask.
        if pa.types.is_floating(column.type) and pc.sum(pc.invert(pc.is_finite(column))).as_py():
            finite &= np.isfinite(column.to_numpy(zero_copy_only=False)) | column.is_null().to_numpy(False)
    missing = np.zeros((len(rows), len(source.key_fields)), dtype=bool)
    for index, key in enumerate(source.key_fields):
        if columns[names.index(key)].null_count:
            missing[:, index] = columns[names.index(key)].is_null().to_numpy(zero_copy_only=False)
    rejected = np.flatnonzero(missing.any(axis=1))
    reasons = [
        "; ".join(
            f"{key}: missing key field" for key, absent in zip(source.key_fields, missing[row], strict=True) if absent
        )
        for row in rejected
    ]
    if len(rejected):
        mask = pa.array(missing.any(axis=1))
        columns = [pc.if_else(mask, pa.scalar(None, column.type), column) for column in columns]
    judged = _table(
        file,
        rows + 1,
        columns,
        _at(len(rows), rejected, _texts(lines, rows[rejected])),
        _at(len(rows), rejected, reasons),
        source,
    )
    if finite.all():
        return judged
    retried = _judged_by_python(lines, rows[~finite], np.full(len(lines), None, dtype=object), file, source)
    return _in_line_order(pa.concat_tables([judged.filter(pa.array(finite)), retried]))


def _judged_by_python(
    lines: pa.LargeStringArray, rows: np.ndarray, reasons: np.ndarray, file: str, source: Source
) -> pa.Table:
    """Lines judged by the Python rules, but those with a reason already (``reasons``, per line of the file)."""
    width = len(source.schema.fields)
    texts = _texts(lines, rows)
    judged = [
        (None,) * width + (reasons[row],) if reasons[row] is not None else parse_line(text, source)
        for row, text in zip(rows, texts, strict=True)
    ]
    schema = arrow_schema(source.schema)
    columns = [pa.array([values[index] for values in judged], field.type) for index, field in enumerate(schema)]
    verdicts = [values[width] for values in judged]
    rejected = np.flatnonzero([reason is not None for reason in verdicts])
    return _table(
        file,
        rows + 1,
        columns,
        _at(len(rows), rejected, [texts[row] for row in rejected]),
        _at(len(rows), rejected, [verdicts[row] for row in rejected]),
        source,
    )


def _in_line_order(table: pa.Table) -> pa.Table:
    return table.take(pc.sort_indices(table[LINE_NUMBER]))


def _texts(lines: pa.LargeStringArray, rows: np.ndarray) -> list[str]:
    """The text of the given lines, without their newlines."""
    return [str(line).removesuffix("\n") for line in lines.take(rows).to_pylist()]


def _at(length: int, rows: np.ndarray, values: Sequence[str | None]) -> pa.Array:
    """A string column of nulls, but for ``values`` at ``rows``."""
    if not len(rows):
        return pa.nulls(length, pa.string())
    column = np.full(length, None, dtype=object)
    column[rows] = values
    return pa.array(column, pa.string())


def _table(
    file: str, numbers: np.ndarray, columns: list[pa.Array], text: pa.Array, reasons: pa.Array, source: Source
) -> pa.Table:
    arrays = [pa.repeat(pa.scalar(file), len(numbers)), pa.array(numbers, pa.int64()), *columns, text, reasons]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(ingested_schema(source)))
