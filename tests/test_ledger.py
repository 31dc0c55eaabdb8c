"""The lake's state is never silently lost, nothing is ever ingested twice, and a run that lost the lake stops
before its next write."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from stedi_transforms import ledger
from stedi_transforms.cli import main
from stedi_transforms.lake import INGESTED_TABLES, Lake, Table
from stedi_transforms.lock import LeaseLostError
from stedi_transforms.pipeline import Settings, lake_rows, run
from stedi_transforms.storage import Store
from tests.compare import assert_lake_holds_the_expected_tables
from tests.conftest import only_on
from tests.fixture_tables import EXPECTED_COUNTS


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def last_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()[-1]


def assert_lake_holds_the_expected_tables_once(spark: SparkSession, lake: Lake) -> None:
    """The tables the fixtures give, and each landing line ingested once: the rows each ingested table holds, as
    a scan counts them (not as the state recorded them)."""
    assert_lake_holds_the_expected_tables(spark, lake)
    ingested = {
        table.name.replace("_ingested", "_landing"): lake.read(spark, table).count() for table in INGESTED_TABLES
    }
    assert ingested == {name: rows for name, rows in EXPECTED_COUNTS.items() if name.endswith("_landing")}


@only_on("sail")  # the refusal is the library's own Python, the same whatever the engine
def test_a_lake_whose_state_was_removed_is_refused_and_a_full_refresh_rebuilds_it(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without its state every landing file looked new, and was appended again: every ingested and rejected row,
    and every landing count, doubled."""
    lake = Lake(str(tmp_path / "lake"))
    assert stedi("run", "--landing", fixtures_landing, "--lake", lake.root, "--engine", engine)[0] == 0
    (tmp_path / "lake" / ledger.STATE).unlink()
    capsys.readouterr()
    code, _ = stedi("run", "--landing", fixtures_landing, "--lake", lake.root, "--engine", engine)
    assert (code, last_error_line(capsys)) == (
        2,
        f"stedi: error: lake {lake.root} has tables (customer_ingested, …) but no state (_stedi/state.json), so "
        "which landing files it holds is unknown; run with --full-refresh to rebuild it from the landing",
    )
    assert (
        stedi("run", "--landing", fixtures_landing, "--lake", lake.root, "--engine", engine, "--full-refresh")[0] == 0
    )
    assert_lake_holds_the_expected_tables_once(spark, lake)
    assert lake_rows(spark, lake) == EXPECTED_COUNTS


@only_on("sail")  # the state is the library's own Python, the same for both engines
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"state_version": 0},
            "the lake's state is of state version 0, and this stedi reads version 1; run with --full-refresh to "
            "rebuild the lake from the landing",
        ),
        (
            {"table_format": "parquet"},
            "the lake's tables were written as 'parquet', not 'delta'; run with --format parquet, or with "
            "--full-refresh to rebuild the lake as delta",
        ),
    ],
    ids=["version", "format"],
)
def test_a_state_of_another_version_or_format_is_refused_in_one_line(
    spark: SparkSession,
    fixtures_landing: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, object],
    message: str,
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    run(spark, fixtures_landing, lake)
    state = tmp_path / "lake" / ledger.STATE
    state.write_text(json.dumps(json.loads(state.read_text()) | change))
    before = state.read_text()
    code, _ = stedi("run", "--landing", fixtures_landing, "--lake", lake.root)
    assert (code, last_error_line(capsys), state.read_text()) == (2, f"stedi: error: {message}", before)
    assert_lake_holds_the_expected_tables_once(spark, lake)


@only_on("sail")  # the state is the library's own Python, the same for both engines
def test_a_corrupt_state_is_one_line_and_a_full_refresh_replaces_it(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    run(spark, fixtures_landing, lake)
    state = tmp_path / "lake" / ledger.STATE
    state.write_text('{"state_version": 1, "sources": {"cust')
    unreadable = (
        f"stedi: error: the lake's state {lake.root}/_stedi/state.json cannot be read (JSONDecodeError: "
        "Unterminated string starting at: line 1 column 34 (char 33)); run with --full-refresh to rebuild the lake "
        "from the landing"
    )
    code, _ = stedi("run", "--landing", fixtures_landing, "--lake", lake.root)
    assert (code, last_error_line(capsys)) == (2, unreadable)
    code, _ = stedi("verify", "--lake", lake.root)  # which read the format from it, with a raw traceback
    assert (code, last_error_line(capsys)) == (2, unreadable)
    assert stedi("run", "--landing", fixtures_landing, "--lake", lake.root, "--full-refresh")[0] == 0
    assert lake_rows(spark, lake) == EXPECTED_COUNTS


# On classic Spark, the engines' interop test (test_incremental) lands new files, replaced by file the same way.
@only_on("sail")
def test_rows_of_files_the_ledger_does_not_know_are_replaced_never_added_twice(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    """A file whose rows are in its ingested table but not in the ledger (a ledger restored from a backup, or
    edited) is new to the run: it was appended, and its rows doubled; now they replace the file's rows."""
    lake = Lake(str(tmp_path / "lake"))
    run(spark, fixtures_landing, lake)
    state = tmp_path / "lake" / ledger.STATE
    saved = json.loads(state.read_text())
    for source in saved["sources"].values():
        source["files"] = {}
    state.write_text(json.dumps(saved))
    run(spark, fixtures_landing, lake)
    assert_lake_holds_the_expected_tables_once(spark, lake)
    assert lake_rows(spark, lake) == EXPECTED_COUNTS


class _LeaseLostAt:
    """A lease that is lost at its ``lost_at``-th check; each check grants the thread that made it one write."""

    def __init__(self, lost_at: int) -> None:
        self.lost_at, self.checks = lost_at, 0
        self._count = threading.Lock()
        self._granted = threading.local()

    def check(self) -> None:
        with self._count:
            self.checks += 1
            if self.checks >= self.lost_at:
                raise LeaseLostError(f"lost at check {self.checks}")
        self._granted.write = True

    def take(self) -> bool:
        """Whether the calling thread's last check granted it a write (taking that grant)."""
        granted = getattr(self._granted, "write", False)
        self._granted.write = False
        return bool(granted)


class _FencedLake(Lake):
    """A lake that records, for every commit, whether a passing check of the lease came right before it."""

    lease: _LeaseLostAt
    writes: list[tuple[str, bool]]

    def write(self, df: DataFrame, table: Table) -> int | None:
        self.writes.append((table.name, self.lease.take()))
        return super().write(df, table)

    def append(self, df: DataFrame, table: Table) -> None:
        self.writes.append((table.name, self.lease.take()))
        super().append(df, table)

    def replace_files(self, df: DataFrame, table: Table, files: Sequence[str]) -> None:
        self.writes.append((table.name, self.lease.take()))
        super().replace_files(df, table, files)


@contextlib.contextmanager
def _recording_saves(lake: _FencedLake, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_save = ledger.save_state

    def save(store: Store, state: ledger.LakeState) -> None:
        lake.writes.append((ledger.STATE, lake.lease.take()))
        real_save(store, state)

    monkeypatch.setattr("stedi_transforms.pipeline.save_state", save)
    yield
    monkeypatch.undo()


@only_on("sail")  # the checks are the library's own Python, made before each write whatever the engine
@pytest.mark.parametrize("lost_at", [1, 4, 12])
def test_a_run_that_lost_the_lake_stops_before_its_next_commit_or_save_and_the_next_run_repairs_it(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lost_at: int
) -> None:
    lake = _FencedLake(str(tmp_path / "lake"))
    object.__setattr__(lake, "lease", _LeaseLostAt(lost_at))
    object.__setattr__(lake, "writes", [])
    with _recording_saves(lake, monkeypatch), pytest.raises(LeaseLostError, match="lost at check"):
        run(spark, fixtures_landing, lake, Settings(lease=lake.lease))
    assert [name for name, fenced in lake.writes if not fenced] == []
    assert len(lake.writes) == lost_at - 1  # each check let exactly one write through, and the lost one none
    run(spark, fixtures_landing, Lake(lake.root))
    assert_lake_holds_the_expected_tables_once(spark, lake)
    assert lake_rows(spark, lake) == EXPECTED_COUNTS


@only_on("sail")  # the CLI's handling of the library's own error, the same whatever the engine
def test_stedi_run_that_lost_its_lease_stops_in_one_line_with_exit_2(
    spark: SparkSession,
    engine: str,
    fixtures_landing: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lost = "lake s3://b/l is no longer this run's: its lock was taken over by run two; stopped before its next write"

    class Lost:
        def check(self) -> None:
            raise LeaseLostError(lost)

    @contextlib.contextmanager
    def lake_lock(*args: object) -> Iterator[Lost]:
        yield Lost()

    monkeypatch.setattr("stedi_transforms.pipeline.lake_lock", lake_lock)
    lake = tmp_path / "lake"
    code, _ = stedi("run", "--landing", fixtures_landing, "--lake", str(lake), "--engine", engine)
    assert (code, last_error_line(capsys), (lake / ledger.STATE).exists()) == (2, f"stedi: error: {lost}", False)
