"""The whole pipeline through ``--remote`` on engines in other processes: Sail's server, Sail's local cluster,
and classic Spark's Connect server in front of a cluster of two executor processes whose Python lacks this package.

Each lake must equal the one this process builds in itself from the same landing, and ``stedi verify --remote``
must pass on it. The comparison runs on Sail in this process (it reads any engine's Delta tables); the engines
under test are the remote ones. These tests start servers and JVMs of their own: they run in ``make test-integration``
(``.ci/run``), outside ``make test``'s budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms.lake import Lake
from stedi_transforms.pipeline import run
from tests.compare import assert_same_lakes
from tests.conftest import only_on
from tests.processes import STEDI, child_environment, free_port, listening, stedi_serve

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def reference(spark: SparkSession, fixtures_landing: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The fixtures' lake as this process builds it, with its own engine."""
    lake = Lake(str(tmp_path_factory.mktemp("reference") / "lake"))
    run(spark, fixtures_landing, lake)
    return lake


def _stedi(*argv: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STEDI, *argv], capture_output=True, text=True, env=environment or child_environment(), timeout=900
    )


def _run_and_verify(spark: SparkSession, address: str, landing: str, reference: Lake, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    done = _stedi("run", "--remote", address, "--landing", landing, "--lake", lake.root)
    assert done.returncode == 0, done.stderr
    assert_same_lakes(spark, lake, reference)
    verified = _stedi("verify", "--remote", address, "--lake", lake.root, "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["passed"]


@only_on("sail")
def test_the_pipeline_runs_exactly_on_a_sail_server_of_its_own(
    spark: SparkSession, fixtures_landing: str, reference: Lake, tmp_path: Path
) -> None:
    with stedi_serve("--engine", "sail") as address:
        _run_and_verify(spark, address, fixtures_landing, reference, tmp_path)


@only_on("sail")
def test_the_pipeline_runs_exactly_on_sails_local_cluster(
    spark: SparkSession, fixtures_landing: str, reference: Lake, tmp_path: Path
) -> None:
    """Sail's cluster mode: a driver and workers that exchange tasks and shuffles over RPC (in Sail 0.7 its local
    cluster runs them in the server's process; a real Sail cluster runs them in pods of their own)."""
    cluster = child_environment(SAIL_MODE="local-cluster", SAIL_CLUSTER__WORKER_INITIAL_COUNT="2")
    with stedi_serve("--engine", "sail", environment=cluster) as address:
        _run_and_verify(spark, address, fixtures_landing, reference, tmp_path)


@pytest.fixture
def python_without_the_package(tmp_path: Path) -> Path:
    """A Python that has this environment's packages (PySpark, Arrow) but not this project: ``-S`` skips the
    site-packages' ``.pth`` files, which is how an editable install puts the project on the path."""
    wrapper = tmp_path / "python-without-stedi"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{sysconfig.get_paths()["purelib"]}" exec {sys.executable} -S "$@"\n'
    )
    wrapper.chmod(0o755)
    check = subprocess.run([str(wrapper), "-c", "import stedi_transforms.reader"], cwd=tmp_path, capture_output=True)
    assert check.returncode == 1, "the package is still importable"
    return wrapper


@only_on("sail")
def test_the_pipeline_runs_exactly_on_a_classic_connect_server_in_front_of_a_two_executor_cluster(
    spark: SparkSession,
    fixtures_landing: str,
    reference: Lake,
    python_without_the_package: Path,
    tmp_path: Path,
) -> None:
    """Classic Spark's own Connect server (``stedi serve --engine spark``) with a local cluster of two executor
    JVMs, in Delta; its Python workers lack this package, so the reader reaches them as a Spark Connect artifact."""
    environment = child_environment(PYSPARK_PYTHON=str(python_without_the_package))
    with stedi_serve("--engine", "spark", "--master", "local-cluster[2,1,1024]", environment=environment) as address:
        assert ";token=" in address
        _run_and_verify(spark, address, fixtures_landing, reference, tmp_path)
        refused = _stedi("verify", "--remote", address.split("/;")[0], "--lake", str(tmp_path / "lake"))
    assert refused.returncode == 2  # without the token the server refuses the client
    assert refused.stderr.startswith("stedi: error: the engine at sc://localhost:")
    assert len(refused.stderr.splitlines()) == 1, refused.stderr


@only_on("sail")
def test_a_sail_server_whose_python_lacks_the_package_is_one_line_saying_what_to_install(
    spark: SparkSession, fixtures_landing: str, python_without_the_package: Path, tmp_path: Path
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(python_without_the_package), "-m", "pysail", "spark", "server", "--port", str(port)],
        cwd=tmp_path,
        env=child_environment(RUST_LOG="error"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not listening(port):
            assert server.poll() is None, "Sail's server did not start"
        address = f"sc://127.0.0.1:{port}"
        done = _stedi("run", "--remote", address, "--landing", fixtures_landing, "--lake", str(tmp_path / "lake"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].endswith(
        "the engine's Python cannot import stedi_transforms, which its tasks run; install stedi-transforms "
        "0.1.0 in the server's Python (Sail takes no Spark Connect artifacts)"
    )
