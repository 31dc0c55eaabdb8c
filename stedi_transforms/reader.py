"""Read landing files into the engine: every non-blank line of every file, parsed once, with its file and line.

The driver lists the files (:mod:`stedi_transforms.storage`); the engine's tasks read them, each its share, and
parse them with :func:`stedi_transforms.parsing.parse_file` inside ``mapInArrow``. The same Python runs on classic
Spark, on Sail (in-process) and on Glue's executors, so both engines give the same rows, reasons, files and lines.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi_transforms.engines import parallelism
from stedi_transforms.parsing import parse_file, unreadable_file
from stedi_transforms.schemas import FILE, LINE, LINE_NUMBER, REASON, Source, ingested_schema
from stedi_transforms.storage import FileEntry, S3Settings, StorageError, Store, decompressed, hidden, open_store

ROWS_PER_BATCH = 65_536
"""Rows per Arrow batch handed back to the engine: bounds the memory one task holds, whatever a file's size."""


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
        FileEntry(f"{prefix}/{entry.path}", entry.size, entry.version)
        for entry in open_store(landing_root).files(prefix)
        if not hidden(entry.path)
    ]


@dataclass(frozen=True)
class _ParseFiles:
    """The function ``mapInArrow`` runs: batches of file indices in, parsed lines out. A plain picklable object,
    so classic Spark can ship it to its Python workers and Glue to its executors."""

    landing_root: str
    paths: tuple[str, ...]
    source: Source
    s3: S3Settings

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        store = open_store(self.landing_root, self.s3)
        paths = (self.paths[index] for batch in batches for index in batch.column(0).to_pylist())
        # Files are read and parsed on a few threads (the heavy parts release the interpreter lock), a bounded
        # number ahead of the engine, in order: one task uses every core even where the engine runs its Python
        # tasks one at a time (Sail), and memory holds a few files at most, whatever the landing's size.
        workers = os.cpu_count() or 2
        with ThreadPoolExecutor(workers) as pool:
            pending: deque[Future[pa.Table]] = deque()
            for path in paths:
                pending.append(pool.submit(self._parse, store, path))
                if len(pending) > workers:
                    yield from pending.popleft().result().to_batches(max_chunksize=ROWS_PER_BATCH)
            while pending:
                yield from pending.popleft().result().to_batches(max_chunksize=ROWS_PER_BATCH)

    def _parse(self, store: Store, path: str) -> pa.Table:
        try:
            return parse_file(decompressed(store.read(path), path), path, self.source)
        except StorageError as error:
            return unreadable_file(path, str(error), self.source)


def read_files(spark: SparkSession, landing_root: str, files: Sequence[FileEntry], source: Source) -> DataFrame:
    """The parsed lines of ``files`` (paths relative to ``landing_root``), as rows of the ingested schema.

    Files are spread over the engine's tasks largest first, so the tasks get about the same number of bytes.
    """
    schema = ingested_schema(source)
    if not files:
        return spark.createDataFrame([], schema)
    tasks = min(len(files), parallelism(spark))
    by_size = sorted(files, key=lambda entry: (-entry.size, entry.path))
    dealt = [entry.path for task in range(tasks) for entry in by_size[task::tasks]]
    parse = _ParseFiles(landing_root, tuple(dealt), source, S3Settings.from_environment())
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
