"""The jobs of :mod:`stedi_transforms.registry` (the five of the original design), run over a table IO: the local
lake here, Glue's sinks on AWS. One builder (:func:`build`) runs any table's rule.

Each landing job first *ingests* its source: the landing files are listed and compared with the lake's ledger
(:mod:`stedi_transforms.ledger`), and only new or changed files are parsed, once, into ``<source>/ingested`` (in a
Delta lake, a file's rows are always written by replacing that file's rows, so a file is never ingested twice
whatever the ledger says; rows of changed or removed files are dropped). A lake with tables and no ledger is refused
(:class:`stedi_transforms.ledger.LedgerError`) unless for a full refresh, since which files it holds is unknown.
Every other table is built from the ingested tables and the tables before it, never from the JSON again, and only
when the sources it is built from, its options, or its rule or the rule of a table before it (the rule's
fingerprint, :func:`stedi_transforms.registry.fingerprint`) have changed since it was last built; a table rebuilt
for its own rule's change is named in the job's result (``rules_changed``). So after any run the lake equals a full
rebuild from the landing as it is now: a consent revoked in a new customer file reaches every table on the next run.

A downstream job reads what the upstream one wrote, exactly as the Glue jobs do, so ``stedi run`` and the Glue
scripts run the same code. Parquet and JSON lakes are rebuilt in full every run.

Within one :func:`run`, a table that was up to date before the run and whose inputs only *gained* rows in it (a
source that only had new files, and the tables brought up to date from it this way) gains what those rows add,
appended, instead of being rebuilt: the common case of new readings landing costs the new rows, not the lake. Each
table's rule in the registry says what new input rows add (``added``; :class:`RunChanges` holds the rows); a table
whose inputs changed otherwise, or gained more than :data:`APPEND_LIMIT` rows, is rebuilt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from stedi_transforms import registry
from stedi_transforms.engines import counted, engine_message, local_frame
from stedi_transforms.errors import FAILED, StediError
from stedi_transforms.lake import (
    INGESTED_TABLES,
    OUTPUT_TABLES,
    REJECTED_TABLES,
    Table,
    ingested_table,
)
from stedi_transforms.ledger import (
    STATE,
    FileChanges,
    IngestedFile,
    LakeState,
    LedgerError,
    RunRecord,
    compare,
    load_state,
    now,
    record_run,
    save_state,
)
from stedi_transforms.lock import Lease, lake_lock, new_run_id
from stedi_transforms.parsing import Limits
from stedi_transforms.reader import landing_files, read_files
from stedi_transforms.registry import TableRule
from stedi_transforms.schemas import FILE, REASON, SOURCES, Source
from stedi_transforms.signals import wait_all
from stedi_transforms.storage import FileEntry, Store
from stedi_transforms.transforms import Options


class TableIO(Protocol):
    """Where the jobs read and write their tables: :class:`stedi_transforms.lake.Lake` or the Glue adapter."""

    @property
    def table_format(self) -> str: ...

    @property
    def incremental(self) -> bool:
        """Whether tables take rows file by file (Delta), or are rewritten whole."""
        ...

    @property
    def store(self) -> Store:
        """Where the lake keeps its ledger and run history."""
        ...

    def exists(self, table: Table) -> bool: ...

    def read(self, spark: SparkSession, table: Table) -> DataFrame: ...

    def write(self, df: DataFrame, table: Table) -> int | None:
        """Replace ``table`` with ``df``; return the rows written if the engine counted them on the way."""
        ...

    def append(self, df: DataFrame, table: Table) -> None: ...

    def replace_files(self, df: DataFrame, table: Table, files: Sequence[str]) -> None: ...


def open_state(io: TableIO, full_refresh: bool) -> LakeState:
    """The lake's state (:func:`stedi_transforms.ledger.load_state`); LedgerError for a lake that has tables but
    no state, unless for a ``full_refresh`` (without its ledger every landing file would look new)."""
    state = load_state(io.store, io.table_format, full_refresh)
    if state.version is None and not full_refresh:
        found = next((table for table in registry.tables() if io.exists(table)), None)
        if found is not None:
            raise LedgerError(
                f"lake {io.store.root} has tables ({found.name}, …) but no state ({STATE}), so which landing files "
                "it holds is unknown; run with --full-refresh to rebuild it from the landing"
            )
    return state


class JobError(StediError, RuntimeError):
    """A job failed in the engine; the message names the job, the table and the engine's own words."""

    exit_code = FAILED


class LandingError(StediError, ValueError):
    """The landing folder is missing, or holds no files for a source."""


def check_landing(landing_root: str) -> None:
    """Raise LandingError unless every source has landing files."""
    from stedi_transforms.storage import is_s3, open_store

    if not is_s3(landing_root) and not open_store(landing_root).exists(""):
        raise LandingError(f"landing folder {landing_root} does not exist")
    for source in SOURCES:
        if not landing_files(landing_root, source):
            raise LandingError(
                f"no landing files for {source.name}: nothing under {landing_root.rstrip('/')}/{source.name}/landing/"
            )


@dataclass
class JobResult:
    """What one job did: per source, how its files compared with the ledger and how many lines it parsed; and the
    tables it wrote, in order."""

    name: str
    seconds: float = 0.0
    files: dict[str, FileChanges] = field(default_factory=dict)
    lines_parsed: dict[str, int] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    rules_changed: list[str] = field(default_factory=list)


APPEND_LIMIT = 10_000
"""The most rows a run appends to a table built from others; a table that gains more is rebuilt."""


@dataclass
class RunChanges:
    """What a run did so far to the tables it wrote, for the tables built after them (see the module's docstring).

    ``appended`` holds, per table that only gained rows, those rows (a DataFrame that reads them whatever is
    written later: the new files' rows of an ingested table, or the rows themselves, held here) and how many;
    ``rewritten`` the tables written otherwise; ``files``, per ingested table that only gained rows, the files
    they came from. ``before`` is the lake's state when the run started.
    """

    before: LakeState
    appended: dict[str, tuple[DataFrame, int]] = field(default_factory=dict)
    rewritten: set[str] = field(default_factory=set)
    files: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """How a job runs: ``full_refresh`` parses every landing file again and rebuilds every table; ``ingest=False``
    leaves out the job's own ingestion (:func:`run` ingests every source first); ``options`` are the ML table's
    (:class:`stedi_transforms.transforms.Options`); ``changes`` is the run's record of what it wrote, which
    :func:`run` passes from job to job (a job run alone, as on Glue, rebuilds what changed); ``lease`` is the lake's
    lock held by the caller, checked before every commit and every save of the state (None: no lock is held);
    ``limits`` bound what the reader takes of each landing file (:class:`stedi_transforms.parsing.Limits`)."""

    full_refresh: bool = False
    ingest: bool = True
    options: Options = field(default_factory=Options)
    changes: RunChanges | None = None
    lease: Lease | None = field(default=None, compare=False)
    limits: Limits = field(default_factory=Limits)


class _Job:
    """One job's view of the lake: its state, loaded at the start and saved after every commit."""

    def __init__(self, name: str, spark: SparkSession, landing_root: str, io: TableIO, settings: Settings) -> None:
        self.spark = spark
        self.landing_root = landing_root
        self.io = io
        self.full_refresh = settings.full_refresh or not io.incremental
        self.ingests = settings.ingest
        self.options = settings.options
        self.limits = settings.limits
        self.changes = None if self.full_refresh else settings.changes
        self.lease = settings.lease
        self.state = open_state(io, self.full_refresh)
        self.result = JobResult(name)
        self._lock = threading.Lock()  # sources may be ingested side by side (see :func:`run`)
        self.rejected_lines: dict[str, int | None] = {}  # per source, where this run rebuilt its ingested table

    @contextmanager
    def saving(self) -> Iterator[LakeState]:
        """Change the state, then save it, while no other source's ingestion saves it half changed."""
        with self._lock:
            yield self.state
            self.fence()
            save_state(self.io.store, self.state)

    def fence(self) -> None:
        """Stop (LeaseLostError) unless the lake is still this run's: before every commit and save."""
        if self.lease is not None:
            self.lease.check()

    @contextmanager
    def step(self, table: Table) -> Iterator[None]:
        """Turn an engine error while writing ``table`` into a JobError that names the job and the table."""
        try:
            yield
        except Exception as error:
            message = engine_message(error)
            if message is None:
                raise
            raise JobError(f"job {self.result.name} failed writing {table.name}: {message}") from error

    def read(self, table: Table) -> DataFrame:
        return self.io.read(self.spark, table)

    def inputs(self, rule: TableRule) -> Mapping[str, DataFrame]:
        """The rule's input tables as they are now, each read when the rule first asks for it."""
        return _Reads(self, rule.inputs)


class _Reads(Mapping[str, DataFrame]):
    """Tables of the lake by name, read on first use."""

    def __init__(self, job: _Job, tables: Sequence[Table]) -> None:
        self._job, self._tables, self._read = job, {table.name: table for table in tables}, dict[str, DataFrame]()

    def __getitem__(self, name: str) -> DataFrame:
        if name not in self._read:
            self._read[name] = self._job.read(self._tables[name])
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)


def ingest(job: _Job, source: Source) -> None:
    """Bring ``<source>/ingested`` up to date with the landing files, then the tables the job builds from its files
    alone (its quarantine), unless the job was told that its source is ingested already."""
    if not job.ingests:
        return
    table = ingested_table(source)
    ledger = job.state.ledger(source.name)
    listing = landing_files(job.landing_root, source)
    changes = compare(listing, ledger)
    job.result.files[source.name] = changes
    rebuild = job.full_refresh or not job.io.exists(table)
    if rebuild or changes.any or ledger.pending:
        with job.step(table):
            _ingest(job, source, table, listing, changes, rebuild)
    for rule in registry.RULES:
        if rule.by_file and rule.inputs == (table,):
            # None to read when this run rebuilt the ingested table and the engine saw no rejected line on the way.
            build(job, rule, empty=job.rejected_lines.get(source.name) == 0)


def _ingest(
    job: _Job, source: Source, table: Table, listing: list[FileEntry], changes: FileChanges, rebuild: bool
) -> None:
    """Parse into ``table`` the new and changed files, and those a killed run left pending whatever the ledger
    says of them (a killed full refresh leaves every file pending, each as the ledger has it), or every file
    when rebuilding; then record them."""
    ledger = job.state.ledger(source.name)
    again = {entry.path for entry in changes.new + changes.changed} | set(ledger.pending)
    parse = listing if rebuild else [entry for entry in listing if entry.path in again]
    parsed = {entry.path for entry in parse}
    # Rows of files a killed run was writing may be in the table already: replace them, never add them twice.
    replace = sorted(parsed | set(changes.removed) | set(ledger.pending))
    only_new = not (changes.changed or changes.removed or ledger.pending)
    with job.saving():  # until the next save, a killed run leaves these files to be replaced by the next one
        ledger.pending = replace
    if only_new and not rebuild and _holds_rows_of(job, table, sorted(parsed)):
        only_new = False  # files new to the ledger, not to the table (a ledger restored or edited): replaced
    rows = read_files(job.spark, job.landing_root, parse, source, job.limits)
    written = None
    job.fence()
    if rebuild:
        rows, rejected_lines = counted(rows, F.col(REASON).isNotNull())
        written = job.io.write(rows, table)
        if written is not None:  # counted on the way, by the write's own action (classic Spark)
            job.rejected_lines[source.name] = rejected_lines()
    else:  # never an append, even of new files: rows a ledger did not know of are replaced, not doubled
        job.io.replace_files(rows, table, replace)
    new_rows = None  # the rows of the parsed files, read back where the run goes on incrementally
    if written is not None:  # a rebuild from every file, counted by the write itself: nothing to read back
        lines = parsed_lines = written
    elif rebuild:
        lines = parsed_lines = job.read(table).count()
    else:
        new_rows = job.read(table).filter(F.col(FILE).isin(sorted(parsed)))
        parsed_lines = new_rows.count()
        before = job.state.rows.get(table.name)
        lines = before + parsed_lines if only_new and before is not None else job.read(table).count()
    with job.saving() as state:
        ledger.files = {entry.path: IngestedFile(entry.path, entry.size, entry.version) for entry in listing}
        ledger.pending = []
        ledger.generation += 1
        state.rows[table.name] = lines
        if job.changes is not None and only_new and new_rows is not None:
            job.changes.appended[table.name] = (new_rows, parsed_lines)
            job.changes.files[table.name] = sorted(parsed)
        elif job.changes is not None:
            job.changes.rewritten.add(table.name)
    job.result.written.append(table.name)
    job.result.lines_parsed[source.name] = parsed_lines


def _holds_rows_of(job: _Job, table: Table, files: list[str]) -> bool:
    """Whether ``table`` has rows of any of ``files`` (read by the file statistics the ingested tables keep)."""
    return bool(job.read(table).filter(F.col(FILE).isin(files)).limit(1).count())


RULE = "rule:"
"""The key, before a table's name, under which the state records the fingerprint of the rule a table was built by."""


def built_from(rule: TableRule, options: Options, state: LakeState) -> dict[str, int | str]:
    """What ``rule``'s table built now (or when ``state`` was the lake's) would reflect: the fingerprint of its rule
    and of the rules before it, the generations of the sources behind it, and the options it and its inputs were
    built with (a conflict makes it always out of date)."""
    seen: dict[str, int | str] = {f"{RULE}{rule.name}": registry.fingerprint(rule), **rule.option_values(options)}
    for table in rule.inputs:
        if table.zone == "ingested":
            reflected: Mapping[str, int | str] = state.generations((table.entity,))
        else:
            reflected = state.built.get(table.name, {})
        for key, value in reflected.items():
            seen[key] = value if seen.get(key, value) == value else -1
    return seen


def build(job: _Job, rule: TableRule, empty: bool = False) -> None:
    """Write ``rule``'s table from its inputs, unless it already reflects what they hold now, its rule and the
    options: by appending what the rule's ``added`` says the inputs' new rows add, where it can, else in full
    (``empty``: the caller knows the table holds no row, none to compute). A table built by another rule than
    last time is rebuilt, and the job's result says so."""
    table, seen = rule.table, built_from(rule, job.options, job.state)
    recorded = job.state.built.get(table.name)
    exists = job.io.exists(table)
    if not job.full_refresh and recorded == seen and exists:
        return
    with job.step(table):
        if rule.added is not None and _append(job, rule, seen):
            return
        job.fence()
        rows = local_frame(job.spark, [], table.schema) if empty else rule.build(job.inputs(rule), job.options)
        written = job.io.write(rows, table)
        count = job.read(table).count() if written is None else written
        with job.saving() as state:
            state.built[table.name] = seen
            state.rows[table.name] = count
            if job.changes is not None:
                job.changes.rewritten.add(table.name)
        job.result.written.append(table.name)
        key = f"{RULE}{table.name}"
        if not job.full_refresh and exists and recorded is not None and recorded.get(key) != seen[key]:
            job.result.rules_changed.append(table.name)


def _append(job: _Job, rule: TableRule, seen: dict[str, int | str]) -> bool:
    """Bring ``rule``'s table up to date by appending what its inputs' new rows add: only if it was up to date when
    the run started, its inputs only gained rows since, and it gains at most APPEND_LIMIT rows."""
    table, changes, added = rule.table, job.changes, rule.added
    if changes is None or added is None or table.name not in job.state.rows or not job.io.exists(table):
        return False
    if job.state.built.get(table.name) != built_from(rule, job.options, changes.before):
        return False
    if any(source.name in changes.rewritten for source in rule.inputs):
        return False
    names = {source.name for source in rule.inputs}
    new = {name: rows for name, (rows, count) in changes.appended.items() if count and name in names}
    rows: list[Row] = []
    if new:
        gained = added(job.inputs(rule), new, job.read(table), job.options)
        if gained is None:
            return False
        rows = gained.select(*table.schema.fieldNames()).limit(APPEND_LIMIT + 1).collect()
        if len(rows) > APPEND_LIMIT:
            return False
    held = local_frame(job.spark, rows, table.schema)
    files = changes.files.get(rule.inputs[0].name) if rule.by_file else None
    if rows:
        job.fence()
        if files is not None:
            job.io.replace_files(held, table, files)
        else:
            job.io.append(held, table)
    with job.saving() as state:
        state.built[table.name] = seen
        state.rows[table.name] += len(rows)
        changes.appended[table.name] = (held, len(rows))
    if rows:
        job.result.written.append(table.name)
    return True


def run_job(
    name: str, spark: SparkSession, landing_root: str, io: TableIO, settings: Settings = Settings()
) -> JobResult:
    """Run the job ``name`` of the registry: ingest its sources (unless ``settings.ingest`` is off), then build its
    tables in order (:func:`build`)."""
    rules = registry.job_rules(name)
    job = _Job(name, spark, landing_root, io, settings)
    for source in registry.job_sources(name, SOURCES):
        ingest(job, source)
    for rule in rules:
        if not rule.by_file:
            build(job, rule)
    return job.result


class Job(Protocol):
    __name__: str

    def __call__(
        self, spark: SparkSession, landing_root: str, io: TableIO, settings: Settings = Settings()
    ) -> JobResult: ...


def job(name: str) -> Job:
    """The job ``name`` of the registry as a function, named as the Glue script in ``jobs/`` is; ValueError for a
    job no table names."""
    registry.job_rules(name)

    def run_named(spark: SparkSession, landing_root: str, io: TableIO, settings: Settings = Settings()) -> JobResult:
        return run_job(name, spark, landing_root, io, settings)

    run_named.__name__ = run_named.__qualname__ = name
    return run_named


def jobs() -> tuple[Job, ...]:
    """The registry's jobs in dependency order."""
    return tuple(job(name) for name in registry.job_names())


JOBS: tuple[Job, ...] = jobs()
"""The jobs in dependency order, named as the Glue scripts in ``jobs/`` are."""


def ingest_all(spark: SparkSession, landing_root: str, io: TableIO, settings: Settings = Settings()) -> JobResult:
    """Ingest every source side by side (each landing job would ingest its own, one after the other): the engine's
    tasks for one source's files overlap another's, and a small source does not wait for a big one."""
    job = _Job("ingest", spark, landing_root, io, settings)
    for source in SOURCES:  # before the threads start: none may add a ledger to the state while another saves it
        job.state.ledger(source.name)
    pool = ThreadPoolExecutor(len(SOURCES))
    try:
        ingests = [pool.submit(ingest, job, source) for source in SOURCES]
        wait_all(ingests)  # all of them, before an error goes up (and the lake's lock with it)
        for finished in ingests:
            finished.result()
    finally:  # interrupted, nothing waits for the others: the engine was told to cancel their jobs
        pool.shutdown(wait=False, cancel_futures=True)
    result = job.result  # in the sources' order, whichever finished first
    result.files = {source.name: result.files[source.name] for source in SOURCES if source.name in result.files}
    parsed = result.lines_parsed
    result.lines_parsed = {source.name: parsed[source.name] for source in SOURCES if source.name in parsed}
    result.written = [table.name for table in (*INGESTED_TABLES, *REJECTED_TABLES) if table.name in result.written]
    return result


def run(
    spark: SparkSession,
    landing_root: str,
    io: TableIO,
    settings: Settings = Settings(),
    on_job_done: Callable[[JobResult], None] = lambda result: None,
) -> list[JobResult]:
    """Ingest every source, then run every job in order (without its own ingestion); the caller holds the lake's
    lock (:func:`update` takes it).

    >>> run(spark, "fixtures", Lake("lake"))  # doctest: +SKIP
    """
    check_landing(landing_root)
    results = []
    settings = replace(settings, changes=RunChanges(open_state(io, settings.full_refresh or not io.incremental)))
    steps: list[Callable[[SparkSession, str, TableIO, Settings], JobResult]] = [ingest_all, *jobs()]
    for step in steps:
        started = time.perf_counter()
        result = step(spark, landing_root, io, settings if step is ingest_all else replace(settings, ingest=False))
        result.seconds = time.perf_counter() - started
        results.append(result)
        on_job_done(result)
    return results


def lake_rows(spark: SparkSession, io: TableIO, lease: Lease | None = None) -> dict[str, int]:
    """Rows of every table, landing (one row per non-blank line: its ingested table) to curated, as the lake's state
    recorded them when each was written. A table the state has no figure for (in a lake written before they were
    recorded) is counted, and its figure recorded: the caller holds the lake's lock (``lease``)."""
    state = load_state(io.store, io.table_format)
    tables = (*INGESTED_TABLES, *OUTPUT_TABLES)
    missing = {table.name: io.read(spark, table).count() for table in tables if table.name not in state.rows}
    if missing:
        state.rows.update(missing)
        if lease is not None:
            lease.check()
        save_state(io.store, state)
    return {_landing_name(table.name): state.rows[table.name] for table in tables}


def run_record(
    io: TableIO,
    landing_root: str,
    settings: Settings,
    results: Sequence[JobResult],
    *,
    job: str,
    run_id: str,
    started_at: str,
    seconds: float,
    engine: str,
    rows: Mapping[str, int] | None = None,
) -> RunRecord:
    """The record of a run of ``results`` for the lake's history: ``rows`` are the rows of every table
    (:func:`lake_rows`), or None for a job run alone, whose record gives only the rows of the tables it wrote, as the
    lake's state recorded them when each was written. An ingested table is counted as its landing table (one row
    per non-blank landing line), under its own name."""
    figures = rows
    if figures is None:
        figures = {_landing_name(name): count for name, count in load_state(io.store, io.table_format).rows.items()}
    return RunRecord(
        run_id=run_id,
        job=job,
        started=started_at,
        seconds=round(seconds, 3),
        engine=engine,
        table_format=io.table_format,
        landing=landing_root,
        files={name: changes.as_json() for result in results for name, changes in result.files.items()},
        lines_ingested={name: lines for result in results for name, lines in result.lines_parsed.items()},
        rows_written={name: figures[_landing_name(name)] for result in results for name in result.written},
        rows=dict(rows or {}),
        full_refresh=settings.full_refresh,
        options=asdict(settings.options),
    )


def _landing_name(table: str) -> str:
    return table.replace("_ingested", "_landing")


def update(
    spark: SparkSession,
    landing_root: str,
    io: TableIO,
    engine: str,
    settings: Settings = Settings(),
    on_job_done: Callable[[JobResult], None] = lambda result: None,
    record_idle: bool = True,
) -> RunRecord:
    """Bring the lake up to date with the landing, holding its lock, and record the run in its history: what
    ``stedi run`` does (a run that found nothing to do is recorded only with ``record_idle``). Raises LakeBusyError
    at once when another run holds the lake.

    >>> update(spark, "fixtures", Lake("lake"), engine="sail").rows_written  # doctest: +SKIP
    """
    started, started_at, run_id = time.perf_counter(), now(), new_run_id()
    with lake_lock(io.store.root, run_id, "stedi run") as lease:
        results = run(spark, landing_root, io, replace(settings, lease=lease), on_job_done)
        record = run_record(
            io,
            landing_root,
            settings,
            results,
            job="stedi run",
            run_id=run_id,
            started_at=started_at,
            seconds=time.perf_counter() - started,
            engine=engine,
            rows=lake_rows(spark, io, lease),
        )
        if record_idle or record.rows_written:
            lease.check()
            record_run(io.store, record)
    return record
