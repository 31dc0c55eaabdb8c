"""The wheel: built from this tree, installed into a clean virtual environment next to pyspark and awsglue (as Glue
has them), and a job script run from it on the bundled sample with the Glue double. Proves the packaging: the
library, its SQL files and its sample are all in the wheel, and it needs nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.processes import child_environment

ROOT = Path(__file__).resolve().parent.parent

# A clean environment and a JVM of its own: in make test-integration, first (``long``) as it needs no engine session.
pytestmark = [pytest.mark.integration, pytest.mark.long]

RUNNER = """
import importlib.util, json, runpy, sys
import stedi_transforms
from pyspark import SparkContext
from pyspark.sql import SparkSession
from stedi_transforms import glue
from stedi_transforms.reader import sample_landing
from stedi_transforms.queries import sql_files

double_path, job_path, lake = sys.argv[1:4]
spec = importlib.util.spec_from_file_location("glue_double", double_path)
double = importlib.util.module_from_spec(spec)
spec.loader.exec_module(double)
glue._runtime = lambda: (SparkContext, double.GlueContext, double.DynamicFrame, double.Job)
# Glue brings its own session; this one starts as the tests' classic sessions do: the quick JIT, no generated code.
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseParallelGC")
         .config("spark.sql.codegen.factoryMode", "NO_CODEGEN").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
sys.argv = ["job", "--JOB_NAME", "customer_landing_to_trusted", "--LAKE", lake, "--DATABASE", "stedi",
            "--FORMAT", "json", "--LANDING", str(sample_landing())]
runpy.run_path(job_path, run_name="__main__")
rows = spark.read.schema("email string").json(lake + "/customer/trusted").count()
print(json.dumps({"package": stedi_transforms.__file__, "sql": sql_files(), "customer_trusted": rows,
                  "journal": [entry[0] for entry in double.JOURNAL]}))
"""


def glue_like_environment(python: Path) -> dict[str, str]:
    """This environment without the Spark Connect flags a Sail session in this process may have set, and with the
    Python workers pointed at the clean interpreter, as Glue points them at its own. Its processes may write the
    compiled modules that a new environment lacks (whatever this one says): Spark's Python workers then load what
    the driver compiled instead of compiling PySpark, pandas and Arrow again (3 s), as Glue's are compiled already."""
    environment = child_environment(PYSPARK_PYTHON=str(python))
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def pyspark_wheel_folder() -> Path:
    """PySpark is published as a source archive, which uv builds anew at every install (twenty seconds and more):
    build its wheel once, into the project's cache, and install from there."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stedi-transforms" / "wheels"
    if not any(folder.glob("pyspark-4.1.1-*.whl")):
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "pyspark==4.1.1", "-w", str(folder)]
        subprocess.run(command, check=True, capture_output=True)
    return folder


def test_the_wheel_runs_a_glue_job_in_a_clean_environment(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed next to this interpreter")
    # uv's build keeps the build backend's environment in its cache: `python -m build` makes one at every call.
    subprocess.run([uv, "build", "--quiet", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)], check=True)
    (wheel,) = (tmp_path / "dist").glob("stedi_transforms-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    hard_requirements = [line for line in lines if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert hard_requirements == []

    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "--find-links",
            str(pyspark_wheel_folder()),
            str(wheel),
            "pyspark==4.1.1",
            "AWSGlueDataplanePython==5.1.0",
            # Glue's own Python modules that the library uses.
            "pyarrow",
            "pandas",
            "numpy",
            "boto3",
        ],
        check=True,
    )
    job = ROOT / "jobs" / "customer_landing_to_trusted.py"
    result = subprocess.run(
        [str(python), "-c", RUNNER, str(ROOT / "tests" / "glue_double.py"), str(job), str(tmp_path / "lake")],
        cwd=tmp_path,
        env=glue_like_environment(python),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["package"].startswith(str(venv))
    assert report["sql"] == [
        "accelerometer_landing.sql",
        "customer_landing.sql",
        "delta_tables.sql",
        "step_trainer_landing.sql",
        "validation.sql",
        "validation_consent_cutoff.sql",
        "validation_owner_join.sql",
    ]
    assert report["customer_trusted"] == 4
    assert report["journal"][0] == "init"
    assert report["journal"][-1] == "commit"
