"""The benchmark's machinery at a tiny scale, its memory measurement on small processes of known size, and its two
references checked against the library's tables."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import psutil
import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from rich.console import Console

from benchmarks import bench_run, high_water
from benchmarks.duckdb_reference import run_duckdb
from benchmarks.naive import run_naive
from stedi_transforms.generate import Plan, generate
from stedi_transforms.lake import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    CUSTOMER_TRUSTED,
    MACHINE_LEARNING_CURATED,
    STEP_TRAINER_TRUSTED,
    Lake,
)
from stedi_transforms.pipeline import run
from tests.conftest import only_on
from tests.processes import child_environment

REFERENCE_TABLES = (
    CUSTOMER_TRUSTED,
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    STEP_TRAINER_TRUSTED,
    MACHINE_LEARNING_CURATED,
)

# Records that tie on both dates, which the generator never makes: the one without consent wins Tia's tie (a tie
# never grants consent, whatever the names); Teo's two consenting records tie on consent too, and the earlier name
# wins; Tom's tie on lastUpdateDate goes to the later registration.
TIES = """\
{"customerName": "Tia A", "email": "tia@stedi.test", "serialNumber": "dev-tia", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 9}
{"customerName": "Tia B", "email": "tia@stedi.test", "serialNumber": "dev-tia", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": null}
{"customerName": "Teo B", "email": "teo@stedi.test", "serialNumber": "dev-teo", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 7}
{"customerName": "Teo A", "email": "teo@stedi.test", "serialNumber": "dev-teo", "registrationDate": 5, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 7}
{"customerName": "Tom Older", "email": "tom@stedi.test", "serialNumber": "dev-tom", "registrationDate": 4, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": null}
{"customerName": "Tom Newer", "email": "tom@stedi.test", "serialNumber": "dev-tom", "registrationDate": 6, \
"lastUpdateDate": 9, "shareWithResearchAsOfDate": 6}
"""
TIED_READINGS = """\
{"user":"teo@stedi.test","timestamp":1693526459700,"x":1.0,"y":0.0,"z":0.0}
{"user":"tom@stedi.test","timestamp":1693526459700,"x":0.0,"y":1.0,"z":0.0}
"""


@only_on("sail")  # the references are engine-neutral code; the library's tables are proven on both engines
def test_the_references_build_the_same_tables_as_the_library(spark: SparkSession, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(landing, Plan(scale=0.1, seed=3))  # with later records that revoke and grant consent
    (landing / "customer" / "landing" / "customer-ties.json").write_text(TIES)
    (landing / "accelerometer" / "landing" / "accelerometer-ties.json").write_text(TIED_READINGS)
    library, naive = Lake(str(tmp_path / "library"), "parquet"), Lake(str(tmp_path / "naive"), "parquet")
    run(spark, str(landing), library)
    run_naive(spark, str(landing), naive)
    run_duckdb(str(landing), str(tmp_path / "duckdb"))

    for table in REFERENCE_TABLES:
        expected = library.read(spark, table)
        assert_df_equality(naive.read(spark, table), expected, ignore_row_order=True)
        duckdb = spark.read.schema(table.schema).parquet(str(tmp_path / "duckdb" / table.entity / table.zone))
        assert_df_equality(duckdb, expected, ignore_row_order=True, ignore_nullable=True)
    trusted = {row.email: row.customerName for row in library.read(spark, CUSTOMER_TRUSTED).collect()}
    assert {email: trusted.get(email) for email in ("tia@stedi.test", "teo@stedi.test", "tom@stedi.test")} == {
        "tia@stedi.test": None,
        "teo@stedi.test": "Teo A",
        "tom@stedi.test": "Tom Newer",
    }


@pytest.mark.integration  # a dozen cold processes; the measuring itself is tested below on small commands
def test_the_benchmark_measures_every_process_at_a_tiny_scale(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    argv = ["--scales", "0.01", "--engines", "sail", "--no-real", "--data", str(tmp_path), "--json", str(results)]
    assert bench_run.main(argv) == 0
    rows = json.loads(results.read_text())["rows"]
    assert [(row["data"], row["lines"], row["engine"], row["format"]) for row in rows] == [
        ("scale 0.01", 1_089, "sail", "delta")
    ]
    for kind in bench_run.MEASURED:
        assert 0 < rows[0][kind]["seconds"] < 60
        assert 20 < rows[0][kind]["peak_mb"] < 4_000  # a Python process at least, a machine's memory at most


def test_the_table_shows_every_figure_and_a_dash_for_runs_left_out() -> None:
    def figures(seconds: float, peak_mb: float) -> dict[str, float]:
        return {"seconds": seconds, "peak_mb": peak_mb}

    row = {"data": "scale 1", "lines": 110_192, "format": "delta", "duckdb": figures(0.31, 1_107)}
    rows = [
        row
        | {
            "engine": "sail",
            "stedi_run": figures(1.26, 436),
            "incremental": figures(0.94, 299),
            "remote": figures(0.61, 702),
            "remote_incremental": figures(0.2, 650),
            "naive": figures(1.1, 316),
        },
        row
        | {
            "engine": "spark",
            "stedi_run": figures(17.94, 1_716),
            "incremental": figures(14.5, 1_690),
            "remote": None,  # --no-remote
            "remote_incremental": None,
            "naive": figures(18.1, 1_103),
        },
    ]
    printed = io.StringIO()
    bench_run.print_table(rows, Console(file=printed, width=150))
    assert printed.getvalue() == (
        "data       lines  engine         stedi run s     MB  +1 file s     MB  remote s   MB  +1 remote s   MB  "
        "naive read s     MB  DuckDB s     MB\n"
        "scale 1  110,192  sail (delta)           1.3    436        0.9    299       0.6  702          0.2  650  "
        "         1.1    316       0.3  1,107\n"
        "scale 1  110,192  spark (delta)         17.9  1,716       14.5  1,690         -    -            -    -  "
        "        18.1  1,103       0.3  1,107\n"
    )


def children() -> set[int]:
    return {child.pid for child in psutil.Process().children()}


# A process that allocates MiB (its first argument) and holds them for seconds (its second), then ends.
ALLOCATE = "import sys, time; block = b'x' * (int(sys.argv[1]) << 20); time.sleep(float(sys.argv[2]))"
# The same, but only once its parent (its third argument) has ended.
ALLOCATE_AS_ORPHAN = f"""\
import os, sys, time
while os.getppid() == int(sys.argv[3]):
    time.sleep(0.01)
{ALLOCATE}
"""


def test_a_command_counts_the_peak_of_each_of_its_processes_even_one_that_outlives_it(tmp_path: Path) -> None:
    # The command holds 64 MiB while it starts a child, and ends without waiting for it; only then does the
    # child, by now an orphan, allocate 256 MiB and hold them for a second. Watching the command's process tree
    # until the command ends, or waiting for the command's process alone, sees none of the child's memory.
    command = (
        "import os, subprocess, sys; held = b'x' * (64 << 20); "
        f"subprocess.Popen([sys.executable, '-c', {ALLOCATE_AS_ORPHAN!r}, '256', '1', str(os.getpid())])"
    )
    before = children()

    started = time.perf_counter()
    measured = high_water.measure([sys.executable, "-c", command], child_environment(), tmp_path)
    elapsed = time.perf_counter() - started

    # Both processes at their peaks, with the few MiB of each Python interpreter itself.
    assert 64 + 256 + 2 * 5 <= measured.peak_mb <= 64 + 256 + 2 * 40
    # The command's own time, which is what its user waits for, and not the orphan's second after it.
    assert measured.seconds <= elapsed - 1
    assert children() == before  # the orphan reaped


# A stand-in for `stedi serve`: it reaches 384 MiB while it starts, frees them and prints its address. Its helper
# process waits for a file `go` in the folder it is given, then reaches 160 MiB for a moment, frees them and
# writes `done`; it ends with the server (when its stdin closes).
HELPER = """\
import pathlib, sys, time
folder = pathlib.Path(sys.argv[1])
while not (folder / "go").exists():
    time.sleep(0.01)
block = b"x" * (160 << 20)
del block
(folder / "done").touch()
sys.stdin.read()
"""
SERVER = f"""\
import subprocess, sys
block = b"x" * (384 << 20)
del block
helper = subprocess.Popen([sys.executable, "-c", {HELPER!r}, sys.argv[1]], stdin=subprocess.PIPE)
print("sc://127.0.0.1:1", flush=True)
helper.wait()
"""
CLIENT = """\
import pathlib, sys, time
folder = pathlib.Path(sys.argv[1])
(folder / "go").touch()
while not (folder / "done").exists():
    time.sleep(0.01)
"""


def test_a_command_through_a_warm_server_counts_the_servers_processes_peaks_while_it_ran(tmp_path: Path) -> None:
    before = children()
    environment = child_environment()
    with high_water.local_server([sys.executable, "-c", SERVER, str(tmp_path)], environment, tmp_path) as server:
        assert server.address == "sc://127.0.0.1:1"
        measured = high_water.measure([sys.executable, "-c", CLIENT, str(tmp_path)], environment, tmp_path, server)

    # The helper's 160 MiB and three interpreters; not the 384 MiB the server reached before the command.
    assert 160 + 3 * 5 <= measured.peak_mb <= 160 + 3 * 40
    assert children() == before  # the server stopped, and its helper reaped


def test_a_command_that_leaves_a_process_running_fails(tmp_path: Path) -> None:
    command = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {ALLOCATE!r}, '1', '60'])"
    before = children()

    with pytest.raises(RuntimeError, match=r"left processes \[\d+\] running 0.5 s after it"):
        high_water.measure([sys.executable, "-c", command], child_environment(), tmp_path, orphans_within=0.5)

    assert children() == before  # killed and reaped
