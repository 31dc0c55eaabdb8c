"""The acceptance run: the real STEDI landing data (STEDI_LANDING) gives the exercise's figures on both engines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms.cli import main
from tests.conftest import classic_in_integration

pytestmark = pytest.mark.real_data

SEED_COUNTS = {
    "customer_landing": 956,
    "accelerometer_landing": 81_273,
    "step_trainer_landing": 28_680,
    "customer_rejected": 0,
    "accelerometer_rejected": 0,
    "step_trainer_rejected": 0,
    "customer_trusted": 482,
    "accelerometer_trusted": 40_981,
    "step_trainer_trusted": 14_460,
    "customer_curated": 482,
    "machine_learning_curated": 43_681,
}


@classic_in_integration  # 80,000 lines through the classic engine: the pipeline's classic part is in make test
def test_the_real_data_gives_the_seed_counts(
    spark: SparkSession, engine: str, real_landing: str, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    run_code = main(["run", "--landing", real_landing, "--lake", lake, "--format", "delta", "--engine", engine])
    out = io.StringIO()
    verify_code = main(["verify", "--lake", lake, "--engine", engine, "--json"], out=out)
    report = json.loads(out.getvalue())
    # What failed first, then the exit codes: a failure names its check or rule.
    assert report["counts"] == SEED_COUNTS
    assert [check for check in report["checks"] if not check["passed"]] == []
    assert [(table, row) for table, rows in report["rules"].items() for row in rows if row["Outcome"] != "Passed"] == []
    assert (run_code, verify_code) == (0, 0)
