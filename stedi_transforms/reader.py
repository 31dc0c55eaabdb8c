"""Read landing files into the engine: every non-blank line of every file, parsed once, with its file and line.

The driver lists the files (:mod:`stedi_transforms.storage`); the engine's tasks read them, each its share, and
parse them with :func:`stedi_transforms.parsing.parse_parts` inside ``mapInArrow``. The same Python runs on classic
Spark, on Sail (in-process) and on Glue's executors, so both engines give the same rows, reasons, files and lines.

A file is read, decompressed and parsed a few megabytes at a time, so a task's memory does not grow with a file's
size; a file past a limit of :class:`stedi_transforms.parsing.Limits`, one that is not a regular file (a link, a
FIFO, a socket, a device) or one gone since it was listed is one rejected record that says so.
"""

from __future__ import annotations

import gzip
import os
import queue
import threading
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, cast

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi_transforms.engines import local_frame, parallelism
from stedi_transforms.parsing import PART_SIZE, Limits, parse_parts, rejected_file, unreadable_file
from stedi_transforms.schemas import FILE, LINE, LINE_NUMBER, REASON, Source, ingested_schema
from stedi_transforms.settings import S3Settings, current
from stedi_transforms.storage import ByteStream, FileEntry, StorageError, Store, hidden, open_store

ROWS_PER_BATCH = 65_536
"""Rows per Arrow batch handed back to the engine: bounds the memory one task holds, whatever a file's size."""

PARTS_AHEAD = 2
"""Parsed parts of each file held ready for the engine, beyond the one it takes."""

MOST_DEFLATE_EXPANDS = 1_032
"""The most one byte of deflate data expands to (a run of one byte repeated): a gzip file smaller than its limit
divided by this cannot pass the limit, and is read once; a larger one is first decompressed without being kept."""


def sample_landing() -> Path:
    """The bundled sample landing data: inside an installed wheel, or ``fixtures/`` of a source checkout."""
    packaged = resources.files("stedi_transforms") / "sample"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "fixtures"


def landing_prefix(source: Source) -> str:
    """Where a source's files land, below the landing root: ``<source>/landing``, as in the S3 bucket."""
    return f"{source.name}/landing"


def landing_files(landing_root: str, source: Source) -> list[FileEntry]:
    """Every landing file of ``source``, at any depth below ``<root>/<source>/landing/`` and whatever its name,
    but hidden ones (a file or folder named ``.*`` or ``_*``); paths relative to the landing root."""
    prefix = landing_prefix(source)
    return [
        FileEntry(f"{prefix}/{entry.path}", entry.size, entry.version, entry.location and f"{prefix}/{entry.location}")
        for entry in open_store(landing_root).files(prefix)
        if not hidden(entry.path)
    ]


class _LimitError(Exception):
    """A file past a limit, found while reading it: the reason names the limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Counted:
    """A stream that raises _LimitError (for ``reason``) once more than ``limit`` bytes came from it."""

    def __init__(self, stream: ByteStream, limit: int, reason: str) -> None:
        self._stream, self._limit, self._reason, self.read_bytes = stream, limit, reason, 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self.read_bytes += len(data)
        if self.read_bytes > self._limit:
            raise _LimitError(self._reason)
        return data

    def close(self) -> None:
        self._stream.close()


def _parts(stream: ByteStream) -> Iterator[bytes]:
    while part := stream.read(PART_SIZE):
        yield part


_END = object()


@dataclass(frozen=True)
class _ParseFiles:
    """The function ``mapInArrow`` runs: batches of file indices in, parsed lines out. A plain picklable object,
    so classic Spark can ship it to its Python workers and Glue to its executors.

    ``paths`` are where the store finds the files; ``names`` (by default the paths) what the lake calls them,
    ``sizes`` (by default unknown) their sizes as listed."""

    landing_root: str
    paths: tuple[str, ...]
    source: Source
    s3: S3Settings
    limits: Limits = field(default_factory=Limits)
    names: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        store = open_store(self.landing_root, self.s3)
        files = (index for batch in batches for index in batch.column(0).to_pylist())
        # Files are read and parsed on a few threads (the heavy parts release the interpreter lock), a part at a
        # time and a bounded number of parts ahead of the engine, in order: one task uses every core even where the
        # engine runs its Python tasks one at a time (Sail), and memory holds a few parts of a few files at most,
        # whatever the files' sizes.
        workers = os.cpu_count() or 2
        stop = threading.Event()
        with ThreadPoolExecutor(workers) as pool:
            try:
                pending: deque[queue.Queue[object]] = deque()
                for index in files:
                    ready: queue.Queue[object] = queue.Queue(PARTS_AHEAD)
                    pool.submit(self._parse, store, index, ready, stop)
                    pending.append(ready)
                    if len(pending) > workers:
                        yield from _batches(pending.popleft())
                while pending:
                    yield from _batches(pending.popleft())
            finally:
                stop.set()  # the engine stopped taking rows: the threads stop too

    def _parse(self, store: Store, index: int, ready: queue.Queue[object], stop: threading.Event) -> None:
        def put(item: object) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            for table in self._tables(store, index):
                if not put(table):
                    return
        except BaseException as error:  # raised in the engine's thread, as it would have been there
            put(error)
        put(_END)

    def _tables(self, store: Store, index: int) -> Iterator[pa.Table]:
        path, limits = self.paths[index], self.limits
        name = self.names[index] if self.names else path
        size = self.sizes[index] if self.sizes else None
        gzipped = name.endswith(".gz")
        if size is not None and size > limits.file_size:
            yield rejected_file(name, limits.file_size_reason, self.source)
            return
        try:
            if gzipped and (size is None or size * MOST_DEFLATE_EXPANDS > limits.decompressed_size):
                stream = self._open(store, path, gzipped)
                try:
                    while stream.read(PART_SIZE):  # decompressed once without being kept, to know its size
                        pass
                finally:
                    stream.close()
            stream = self._open(store, path, gzipped)
            try:
                yield from parse_parts(_parts(stream), name, self.source, limits)
            finally:
                stream.close()
        except _LimitError as passed:
            yield rejected_file(name, passed.reason, self.source)
        except StorageError as error:
            yield unreadable_file(name, str(error), self.source)

    def _open(self, store: Store, path: str, gzipped: bool) -> ByteStream:
        """The file's content, decompressed, its size as stored and decompressed limited."""
        limits = self.limits
        stored = _Counted(store.open_file(path), limits.file_size, limits.file_size_reason)
        if not gzipped:
            return stored
        return _Gunzipped(stored, limits.decompressed_size, limits.decompressed_size_reason)


class _Gunzipped(_Counted):
    """A gzip file's content (StorageError when it is not gzip), at most ``limit`` bytes of it."""

    def __init__(self, stream: _Counted, limit: int, reason: str) -> None:
        # GzipFile only seeks when asked to: a stream read from its start needs none.
        super().__init__(gzip.GzipFile(fileobj=cast(IO[bytes], stream), mode="rb"), limit, reason)
        self._stored = stream

    def read(self, size: int = -1, /) -> bytes:
        try:
            return super().read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise StorageError(f"not a readable gzip file: {error}") from error

    def close(self) -> None:
        super().close()
        self._stored.close()


def _batches(ready: queue.Queue[object]) -> Iterator[pa.RecordBatch]:
    """The batches of one file's parts, as its thread parses them."""
    while (item := ready.get()) is not _END:
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, pa.Table)
        yield from item.to_batches(max_chunksize=ROWS_PER_BATCH)


def read_files(
    spark: SparkSession,
    landing_root: str,
    files: Sequence[FileEntry],
    source: Source,
    limits: Limits | None = None,
) -> DataFrame:
    """The parsed lines of ``files`` (paths relative to ``landing_root``), as rows of the ingested schema, read
    within ``limits`` (by default :class:`Limits`' own).

    Files are spread over the engine's tasks largest first, so the tasks get about the same number of bytes.
    """
    schema = ingested_schema(source)
    if not files:
        return local_frame(spark, [], schema)
    tasks = min(len(files), parallelism(spark))
    by_size = sorted(files, key=lambda entry: (-entry.size, entry.path))
    dealt = [entry for task in range(tasks) for entry in by_size[task::tasks]]
    parse = _ParseFiles(
        landing_root,
        tuple(entry.where for entry in dealt),
        source,
        current().s3,
        limits or Limits(),
        tuple(entry.path for entry in dealt),
        tuple(entry.size for entry in dealt),
    )
    indices = spark.range(0, len(dealt), 1, tasks)
    return indices.mapInArrow(parse, schema)  # type: ignore[arg-type]  # PySpark's hint wants Iterable, not Iterator


def accepted(ingested: DataFrame, source: Source) -> DataFrame:
    """The accepted records of an ingested table, with exactly the schema's columns."""
    return ingested.filter(F.col(REASON).isNull()).select(*source.schema.fieldNames())


def rejected(ingested: DataFrame) -> DataFrame:
    """The quarantine of an ingested table: file, line_number, line (the raw text) and reason."""
    return ingested.filter(F.col(REASON).isNotNull()).select(FILE, LINE_NUMBER, LINE, REASON)


def landing_table(ingested: DataFrame, source: Source) -> DataFrame:
    """The landing table as Athena's JSON SerDe shows it: one row per line, the schema's columns (null when the
    line was rejected)."""
    return ingested.select(*source.schema.fieldNames())
