"""The `stedi` command: arguments, defaults, the printed counts, the JSON report and the clear errors."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from stedi_transforms import jars
from stedi_transforms.cli import main
from stedi_transforms.lake import CUSTOMER_TRUSTED, Lake
from tests.conftest import only_on
from tests.fixture_tables import EXPECTED_COUNTS
from tests.processes import STEDI

EXPECTED_COUNTS_WRITTEN = [
    *[f"{source}_ingested" for source in ("customer", "accelerometer", "step_trainer")],
    *[name for name in EXPECTED_COUNTS if not name.endswith("_landing")],
]

FIRST_RUN = """\
source         new  changed  removed  unchanged  lines parsed
customer         1        0        0          0            16
accelerometer    2        0        0          0            15
step_trainer     1        0        0          0            13
zone      table                     rows
landing   customer_landing            16
landing   accelerometer_landing       15
landing   step_trainer_landing        13
rejected  customer_rejected            6
rejected  accelerometer_rejected       5
rejected  step_trainer_rejected        4
trusted   customer_trusted             4
trusted   accelerometer_trusted        6
trusted   step_trainer_trusted         6
curated   customer_curated             3
curated   machine_learning_curated     7
"""


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@only_on("sail")  # the library's Python; `stedi run` on classic Spark: the real-data acceptance test
def test_run_prints_every_table_count_by_zone(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    code, out = stedi(
        "run", "--landing", fixtures_landing, "--lake", str(lake), "--format", "parquet", "--engine", engine
    )
    assert code == 0
    assert out.startswith(FIRST_RUN)
    assert out.splitlines()[-1].startswith("done in ")


@only_on("sail")
def test_verify_json_reports_the_counts_and_every_check(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    stedi("run", "--landing", fixtures_landing, "--lake", lake, "--format", "json", "--engine", engine)
    code, out = stedi("verify", "--lake", lake, "--engine", engine, "--json")
    report = json.loads(out)
    assert code == 0
    assert report["counts"] == EXPECTED_COUNTS
    assert report["files"] == []
    assert {check["name"]: check["passed"] for check in report["checks"]} == {
        "customer_trusted_has_consent": True,
        "customer_trusted_one_row_per_email": True,
        "accelerometer_trusted_no_duplicates": True,
        "step_trainer_trusted_no_duplicates": True,
        "accelerometer_trusted_users_are_trusted_customers": True,
        "customer_curated_customers_have_readings": True,
        "step_trainer_trusted_devices_are_curated": True,
        "customer_landing_accepted_or_rejected": True,
        "customer_landing_files_ingested": True,
        "accelerometer_landing_accepted_or_rejected": True,
        "accelerometer_landing_files_ingested": True,
        "step_trainer_landing_accepted_or_rejected": True,
        "step_trainer_landing_files_ingested": True,
    }


@only_on("sail")
def test_verify_exits_1_when_a_check_fails(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path / "lake"), "parquet")
    stedi("run", "--landing", fixtures_landing, "--lake", lake.root, "--format", "parquet", "--engine", engine)
    revoked = lake.read(spark, CUSTOMER_TRUSTED).withColumn("shareWithResearchAsOfDate", F.lit(None).cast("bigint"))
    lake.write(revoked, CUSTOMER_TRUSTED)
    code, out = stedi("verify", "--lake", lake.root, "--engine", engine)
    assert code == 1
    unmet = "does not meet the constraint requirement!"
    assert [line for line in out.splitlines() if line.startswith("FAIL")] == [
        "FAIL  customer_trusted_has_consent (4 violations)",
        f'FAIL  customer_trusted: IsComplete "shareWithResearchAsOfDate" (Value: 0.0 {unmet})',
        f'FAIL  customer_trusted: ColumnValues "shareWithResearchAsOfDate" > 0 (Value: NULL {unmet})',
    ]


@only_on("sail")
def test_run_reads_landing_from_the_lake_when_only_the_lake_is_given(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(fixtures_landing, lake)
    code, out = stedi("run", "--lake", str(lake), "--format", "parquet", "--engine", engine)
    assert code == 0
    assert out.startswith(FIRST_RUN)
    assert [run["landing"] for run in json.loads(stedi("history", "--lake", str(lake), "--json")[1])] == [
        str(lake.resolve())
    ]


@only_on("sail")
def test_run_with_no_paths_builds_the_default_lake_from_the_bundled_sample(
    spark: SparkSession, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = stedi("run", "--format", "parquet", "--engine", engine)
    assert code == 0
    assert out.startswith(FIRST_RUN)
    assert (tmp_path / "lake" / "step_trainer" / "curated").is_dir()


def test_a_missing_landing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = stedi("run", "--landing", str(tmp_path / "nowhere"), "--lake", str(tmp_path / "lake"))
    assert code == 2
    assert capsys.readouterr().err == f"stedi: error: landing folder {tmp_path / 'nowhere'} does not exist\n"


def test_a_source_without_landing_files_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "customer" / "landing").mkdir(parents=True)
    code, _ = stedi("run", "--landing", str(tmp_path), "--lake", str(tmp_path / "lake"))
    assert code == 2
    assert "no landing files for customer" in capsys.readouterr().err


def test_an_unwritable_lake_is_a_clear_error(
    fixtures_landing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _ = stedi("run", "--landing", fixtures_landing, "--lake", str(blocker / "lake"))
    assert code == 2
    assert capsys.readouterr().err.startswith(f"stedi: error: lake {blocker / 'lake'} is not writable")


@pytest.mark.parametrize(("option", "value"), [("--format", "csv"), ("--engine", "duckdb")])
def test_an_unknown_format_or_engine_is_a_usage_error(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        stedi("run", option, value)
    assert exit_info.value.code == 2
    assert f"invalid choice: '{value}'" in capsys.readouterr().err


def test_delta_on_classic_spark_without_maven_access_fails_at_once(
    fixtures_landing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty jar cache and a Maven that cannot reach its repository, as on a machine without Maven access."""
    offline_mvn = tmp_path / "bin" / "mvn"
    offline_mvn.parent.mkdir()
    offline_mvn.write_text(
        "#!/bin/sh\n"
        "echo '[ERROR] Failed to execute goal: Could not transfer artifact: Network is unreachable'\n"
        "exit 1\n"
    )
    offline_mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{offline_mvn.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("STEDI_JARS", str(tmp_path / "jars"))
    lake = tmp_path / "lake"
    code, _ = stedi("run", "--landing", fixtures_landing, "--lake", str(lake), "--engine", "spark")
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "stedi: error: the classic Spark engine cannot read and write Delta here: cannot fetch the delta jars "
        f"({jars.delta_jars().coordinates[0]}): [ERROR] Failed to execute goal: Could not transfer artifact: "
        "Network is unreachable. Use --engine sail (native Delta) or --format parquet (or json).\n"
    )
    assert not lake.exists()
    assert list((tmp_path / "jars").iterdir()) == []


def test_verify_on_a_missing_lake_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = stedi("verify", "--lake", str(tmp_path / "nowhere"))
    assert code == 2
    assert "lake" in capsys.readouterr().err


def test_the_installed_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [STEDI, "run", "--landing", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"stedi: error: landing folder {tmp_path / 'nowhere'} does not exist\n"


@only_on("sail")
def test_a_second_run_parses_nothing_and_history_lists_both(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    stedi("run", "--landing", fixtures_landing, "--lake", lake, "--engine", engine)
    code, out = stedi("run", "--landing", fixtures_landing, "--lake", lake, "--engine", engine)
    assert code == 0
    assert out.startswith(
        "source         new  changed  removed  unchanged  lines parsed\n"
        "customer         0        0        0          1             0\n"
        "accelerometer    0        0        0          2             0\n"
        "step_trainer     0        0        0          1             0\n"
    )
    runs = json.loads(stedi("history", "--lake", lake, "--json")[1])
    assert [(run["job"], run["engine"], run["table_format"], run["lines_ingested"]) for run in runs] == [
        ("stedi run", "sail", "delta", {"customer": 16, "accelerometer": 15, "step_trainer": 13}),
        ("stedi run", "sail", "delta", {}),
    ]
    assert [sorted(run["rows_written"]) for run in runs] == [sorted(EXPECTED_COUNTS_WRITTEN), []]


@only_on("sail")
def test_an_engine_failure_is_one_line_naming_the_job_and_the_table(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    stedi("run", "--landing", fixtures_landing, "--lake", str(lake), "--engine", engine)
    (lake / "customer" / "trusted" / "_delta_log" / "00000000000000000000.json").write_text("not a delta log\n")
    capsys.readouterr()
    argv = ["run", "--landing", fixtures_landing, "--lake", str(lake), "--engine", engine, "--full-refresh"]
    code, _ = stedi(*argv)
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[-1].startswith("stedi: error: job customer_landing_to_trusted failed writing customer_trusted: ")
    assert not any(line.startswith("Traceback") for line in err)
    code, _ = stedi("--debug", *argv)
    assert code == 1
    assert "Traceback (most recent call last):" in capsys.readouterr().err
    code, _ = stedi("verify", "--lake", str(lake), "--engine", engine)
    err = capsys.readouterr().err.splitlines()
    assert (code, len(err)) == (1, 1)
    assert err[0].startswith("stedi: error: the sail engine failed: ")


GENERATED_COUNTS_TABLE = """\
zone      table                       rows
landing   customer_landing             195
landing   accelerometer_landing     16,381
landing   step_trainer_landing       5,785
rejected  customer_rejected              2
rejected  accelerometer_rejected       150
rejected  step_trainer_rejected         54
trusted   customer_trusted              89
trusted   accelerometer_trusted      7,832
trusted   step_trainer_trusted       2,762
curated   customer_curated              86
curated   machine_learning_curated   8,307
"""


@only_on("sail")  # the generator is plain Python; the reader and transforms are tested on both engines elsewhere
def test_run_on_generated_data_gives_the_figures_of_that_set(spark: SparkSession, engine: str, tmp_path: Path) -> None:
    """Scale 0.2, seed 7, delivered as Firehose does (dated prefixes, gzip) with 1 % bad lines of every kind: 184
    customers (9 with a later record), 89 consenting now, 3 of them without readings; the timestamp-only join finds
    6 % more pairs than the 7,832 trusted readings (collisions). The bad lines (blank ones skipped, the rest
    rejected) change no trusted or curated figure: without them, the same set gives the same 89 / 7,832 / 2,762 and
    86 / 8,307."""
    landing, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    argv = ["--scale", "0.2", "--seed", "7", "--bad-fraction", "0.01", "--gzip", "--layout", "firehose"]
    assert stedi("generate", "--out", landing, *argv)[0] == 0
    code, out = stedi("run", "--landing", landing, "--lake", lake, "--engine", engine)
    assert code == 0
    assert GENERATED_COUNTS_TABLE in out
    code, out = stedi("verify", "--lake", lake, "--engine", engine, "--json")
    assert code == 0
    assert [check["name"] for check in json.loads(out)["checks"] if not check["passed"]] == []


def test_generate_prints_what_it_wrote(tmp_path: Path) -> None:
    code, out = stedi("generate", "--out", str(tmp_path), "--scale", "0.05", "--seed", "7", "--bad-fraction", "0.01")
    assert code == 0
    assert out.splitlines()[:4] == [
        "entity         files  records  bad lines   MB",
        "accelerometer      1    4,099         41  0.4",
        "step_trainer       1    1,448         14  0.2",
        "customer           1       48          1  0.0",
    ]
    assert out.splitlines()[-1].startswith("done in ")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--scale", "-1", "scale must be positive"), ("--bad-fraction", "1.5", "bad fraction must be at least 0")],
)
def test_generate_with_a_bad_argument_is_a_usage_error(
    option: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = stedi("generate", "--out", str(tmp_path), option, value)
    assert code == 2
    assert capsys.readouterr().err.startswith(f"stedi: error: {message}")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("remote", "said"),
    [
        ("http://localhost:15002", "a remote engine is given as sc://HOST:PORT, not 'http://localhost:15002'"),
        ("sc://127.0.0.1:1", "no Spark Connect engine answers at 127.0.0.1:1: Connection refused"),
    ],
)
def test_a_remote_engine_that_cannot_be_used_is_one_line_at_once(
    remote: str, said: str, fixtures_landing: str, tmp_path: Path
) -> None:
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = main(["run", "--remote", remote, "--landing", fixtures_landing, "--lake", str(tmp_path / "lake")])
    assert (code, errors.getvalue().splitlines()[-1]) == (2, f"stedi: error: {said}")
