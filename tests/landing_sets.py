"""Landing sets built by the tests: files as S3 really delivers them, written into a folder at test time (gzip is
binary, so it is made here from the text below rather than committed), and what the lake must make of them."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

T = 1_700_000_000_000


def reading(user: str, offset: int, x: float = 0.0) -> str:
    return f'{{"user":"{user}","timestamp":{T + offset},"x":{x},"y":0.0,"z":0.0}}'


def write_files(root: Path, files: dict[str, bytes]) -> str:
    """Write ``files`` (paths relative to ``root``) and return the root as a string."""
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(root)


A = "accelerometer/landing"
ARRIVAL_FILES: dict[str, bytes] = {
    # Kinesis Firehose: dated prefixes, no extension, gzip.
    f"{A}/2023/08/06/12/stedi-firehose-1-2023-08-06-12-00-00": (
        reading("ada", 1) + "\n" + reading("bo", 2) + "\n"
    ).encode(),
    f"{A}/2023/08/06/13/stedi-firehose-2.gz": gzip.compress((reading("ada", 3) + "\n[1]\n").encode(), mtime=0),
    # A file that cannot be read at all, and one with nothing in it.
    f"{A}/2023/08/06/14/stedi-firehose-3.gz": b"this is not gzip",
    f"{A}/empty.json": b"",
    # Windows line ends, a byte order mark, no newline at the end.
    f"{A}/exported.json": ("\ufeff" + reading("cy", 4) + "\r\n\r\n" + reading("cy", 5)).encode(),
    # A line that is not UTF-8 between two that are.
    f"{A}/latin1.json": (reading("di", 6) + "\n").encode()
    + b'{"user":"J\xf6rg","timestamp":1}\n'
    + reading("di", 7).encode(),
    # What Spark and Hadoop leave beside data, all hidden.
    f"{A}/_SUCCESS": b"",
    f"{A}/.exported.json.crc": b"\x00\x01crc",
    f"{A}/_temporary/0/part-0000.json": reading("ghost", 8).encode(),
    f"{A}/.staging/part-0001.json": reading("ghost", 9).encode(),
}


def _accepted(file: str, line: int, user: str, offset: int) -> tuple[Any, ...]:
    return (f"{A}/{file}", line, user, T + offset, 0.0, 0.0, 0.0, None, None)


def _rejected(file: str, line: int, text: str | None, reason: str) -> tuple[Any, ...]:
    return (f"{A}/{file}", line, None, None, None, None, None, text, reason)


ARRIVAL_INGESTED: list[tuple[Any, ...]] = [
    _accepted("2023/08/06/12/stedi-firehose-1-2023-08-06-12-00-00", 1, "ada", 1),
    _accepted("2023/08/06/12/stedi-firehose-1-2023-08-06-12-00-00", 2, "bo", 2),
    _accepted("2023/08/06/13/stedi-firehose-2.gz", 1, "ada", 3),
    _rejected("2023/08/06/13/stedi-firehose-2.gz", 2, "[1]", "not a JSON object"),
    _rejected(
        "2023/08/06/14/stedi-firehose-3.gz",
        0,
        None,
        "unreadable file: not a readable gzip file: Not a gzipped file (b'th')",
    ),
    _accepted("exported.json", 1, "cy", 4),
    _accepted("exported.json", 3, "cy", 5),
    _accepted("latin1.json", 1, "di", 6),
    _rejected("latin1.json", 2, '{"user":"J\ufffdrg","timestamp":1}', "invalid UTF-8"),
    _accepted("latin1.json", 3, "di", 7),
]
"""Every row of accelerometer_ingested for :data:`ARRIVAL_FILES`: nine lines and one unreadable file."""
