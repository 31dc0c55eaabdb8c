"""Landing files that are too big, not files at all, oddly named or gone: each is a rejected record naming it (or its
rows, under any name), and a big file is read a part at a time, on both engines."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from stedi_transforms.engines import local_frame
from stedi_transforms.lake import ACCELEROMETER_INGESTED, Lake
from stedi_transforms.parsing import Limits
from stedi_transforms.pipeline import Settings, ingest_all
from stedi_transforms.reader import landing_files, read_files
from stedi_transforms.schemas import ACCELEROMETER, ingested_schema
from stedi_transforms.settings import S3Settings
from tests.conftest import classic_in_integration
from tests.landing_sets import T, reading, write_files

A = "accelerometer/landing"


def ingest(spark: SparkSession, root: str, limits: Limits | None = None) -> DataFrame:
    return read_files(spark, root, landing_files(root, ACCELEROMETER), ACCELEROMETER, limits)


def good(file: str, line: int, user: str, offset: int) -> tuple[Any, ...]:
    return (f"{A}/{file}", line, user, T + offset, 0.0, 0.0, 0.0, None, None)


def bad(file: str, line: int, text: str | None, reason: str) -> tuple[Any, ...]:
    return (f"{A}/{file}", line, None, None, None, None, None, text, reason)


def assert_rows(spark: SparkSession, actual: DataFrame, expected: list[tuple[Any, ...]]) -> None:
    assert_df_equality(
        actual,
        local_frame(spark, expected, ingested_schema(ACCELEROMETER)),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_s3_settings_do_not_show_their_secrets() -> None:
    settings = S3Settings("http://localhost:9000", "eu-west-1", "AKIAEXAMPLE", "wJalrXUtnFEMI", "FwoGZXIvYXdzEJr")
    assert repr(settings) == (
        "S3Settings(endpoint_url='http://localhost:9000', region='eu-west-1', access_key='AKIAEXAMPLE')"
    )
    assert str(settings) == repr(settings)


def test_links_fifos_sockets_and_devices_are_one_rejected_record_each(spark: SparkSession, tmp_path: Path) -> None:
    """Their content is never read: a link to a private key stays out of the lake, and a FIFO does not hang the run."""
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    root = write_files(tmp_path / "landing", {f"{A}/ok.json": reading("ada", 1).encode()})
    folder = Path(root) / A
    (folder / "key.json").symlink_to(secret)
    (folder / "elsewhere").symlink_to(tmp_path)
    os.mkfifo(folder / "fifo.json")
    os.mknod(folder / "socket.json", stat.S_IFSOCK | 0o600)
    devices = os.geteuid() == 0  # only root may make a device node
    if devices:
        os.mknod(folder / "null.json", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    expected = [
        good("ok.json", 1, "ada", 1),
        bad("elsewhere", 0, None, "unreadable file: a symbolic link, not a regular file"),
        bad("fifo.json", 0, None, "unreadable file: a FIFO, not a regular file"),
        bad("key.json", 0, None, "unreadable file: a symbolic link, not a regular file"),
        bad("socket.json", 0, None, "unreadable file: a socket, not a regular file"),
    ]
    if devices:
        expected.append(bad("null.json", 0, None, "unreadable file: a device, not a regular file"))
    assert_rows(spark, ingest(spark, root), expected)


def test_a_file_removed_after_the_listing_is_a_rejected_record(spark: SparkSession, tmp_path: Path) -> None:
    root = write_files(tmp_path, {f"{A}/stays.json": reading("ada", 1).encode(), f"{A}/goes.json": b"{}"})
    listing = landing_files(root, ACCELEROMETER)
    (tmp_path / A / "goes.json").unlink()
    assert_rows(
        spark,
        read_files(spark, root, listing, ACCELEROMETER),
        [
            good("stays.json", 1, "ada", 1),
            bad("goes.json", 0, None, f"unreadable file: {A}/goes.json does not exist (removed since it was listed)"),
        ],
    )


def test_a_file_past_a_size_limit_is_one_rejected_record_naming_the_limit(spark: SparkSession, tmp_path: Path) -> None:
    """A gzip bomb (many megabytes of zeros from a few kilobytes) and a big gzip file of good lines are one record
    each, no row of them read; a file that is too big is not even opened."""
    lines = "\n".join(reading("ada", offset) for offset in range(20_000)).encode()
    root = write_files(
        tmp_path,
        {
            f"{A}/ok.json": reading("ada", 1).encode(),
            f"{A}/big.json": lines,
            f"{A}/bomb.gz": gzip.compress(b"\0" * (64 << 20)),
            f"{A}/many.gz": gzip.compress(lines),
        },
    )
    limits = Limits(file_size=len(lines) - 1, decompressed_size=len(lines) - 1)
    assert len(gzip.compress(lines)) * 1100 > len(lines)  # the compressed size alone does not tell
    size = f"{len(lines) - 1:,} bytes"
    assert_rows(
        spark,
        ingest(spark, root, limits),
        [
            good("ok.json", 1, "ada", 1),
            bad("big.json", 0, None, f"file over the size limit of {size} (--max-file-size)"),
            bad("bomb.gz", 0, None, f"file over the decompressed size limit of {size} (--max-decompressed-size)"),
            bad("many.gz", 0, None, f"file over the decompressed size limit of {size} (--max-decompressed-size)"),
        ],
    )


def test_a_line_past_the_length_limit_is_one_rejected_record_and_the_file_goes_on(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A line longer than a file's parts (read a few megabytes at a time) and one within a part: each is rejected
    with its first kilobyte, and the lines after them keep their numbers."""
    huge, long = "x" * (9 << 20), '{"user":"' + "y" * 2_000 + '"}'
    data = "\n".join([reading("ada", 1), huge, reading("bo", 2), long, reading("cy", 3)]).encode()
    root = write_files(tmp_path, {f"{A}/long.json": data, f"{A}/long.gz": gzip.compress(data)})
    reason = "line over the length limit of 1 KiB (--max-line-length)"
    expected = [
        row
        for file in ("long.json", "long.gz")
        for row in (
            good(file, 1, "ada", 1),
            bad(file, 2, huge[:1024], reason),
            good(file, 3, "bo", 2),
            bad(file, 4, long[:1024], reason),
            good(file, 5, "cy", 3),
        )
    ]
    assert_rows(spark, ingest(spark, root, Limits(line_length=1024)), expected)


ODD_NAMES = {
    "quote": "O'Brien's.json",
    "backslash": "back\\slash\\'.json",
    "percent": "100%_\\%.json",
    "latin-1": os.fsdecode(b"J\xf6rg.json"),  # not UTF-8: shown with its byte escaped
}
SHOWN = {**ODD_NAMES, "latin-1": "J\\xf6rg.json"}


@classic_in_integration  # seven runs; classic quoting of such names is in test_lake, and Spark 3.5 runs this
def test_oddly_named_files_are_ingested_changed_and_removed(spark: SparkSession, tmp_path: Path) -> None:
    """Quotes, backslashes and bytes that are not UTF-8 in file names, end to end: ingested, then changed or removed
    (their rows replaced by file name; on Spark 3.5 as well, ``make test-spark35``)."""
    landing, lake = tmp_path / "landing", Lake(str(tmp_path / "lake"))
    write_files(landing, {f"{A}/{name}": reading(key, 1).encode() for key, name in ODD_NAMES.items()})
    ingest_all(spark, str(landing), lake, Settings())
    assert_rows(
        spark,
        lake.read(spark, ACCELEROMETER_INGESTED),
        [good(SHOWN[key], 1, key, 1) for key in ODD_NAMES],
    )
    (landing / A / ODD_NAMES["quote"]).write_text(reading("quote", 2) + "\n" + reading("quote", 3))
    (landing / A / ODD_NAMES["latin-1"]).write_text(reading("latin-1", 4))
    (landing / A / ODD_NAMES["backslash"]).unlink()
    ingest_all(spark, str(landing), lake, Settings())
    assert_rows(
        spark,
        lake.read(spark, ACCELEROMETER_INGESTED),
        [
            good(SHOWN["quote"], 1, "quote", 2),
            good(SHOWN["quote"], 2, "quote", 3),
            good(SHOWN["percent"], 1, "percent", 1),
            good(SHOWN["latin-1"], 1, "latin-1", 4),
        ],
    )


MEASURE = """
import sys
import pyarrow as pa
from stedi_transforms.reader import _ParseFiles
from stedi_transforms.schemas import ACCELEROMETER
from stedi_transforms.settings import S3Settings

def parsed(path):
    parse = _ParseFiles(sys.argv[1], (path,), ACCELEROMETER, S3Settings())
    return sum(batch.num_rows for batch in parse(iter([pa.record_batch([pa.array([0])], names=["id"])])))

def memory(field):
    lines = open("/proc/self/status").read().splitlines()
    return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field + ":"))

parsed("small.json")  # the libraries' code and first allocations, which any file needs, made before measuring
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak is measured from here
before = memory("VmRSS")
rows = parsed("big.json")
print(rows, memory("VmHWM") - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process's memory from /proc")
def test_a_big_file_is_read_a_part_at_a_time(tmp_path: Path) -> None:
    """A file of 48 MiB is parsed in a process whose memory peaks less than a third of that above where it was,
    once a small file was parsed (in a process of its own: this one's memory is the test run's)."""
    line = reading("ada", 1) + "\n"
    count = (48 << 20) // len(line)
    (tmp_path / "big.json").write_bytes(line.encode() * count)
    (tmp_path / "small.json").write_bytes(line.encode() * (count // 16))
    measured = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEASURE), str(tmp_path)], capture_output=True, text=True, check=True
    )
    rows, grown = map(int, measured.stdout.split())
    assert rows == count
    assert grown < (48 << 20) // 3, f"memory grew by {grown / 2**20:.0f} MiB"
