"""One session fixture for both engines: every test that takes ``spark`` runs on Sail and on classic Spark.

PySpark keeps one kind of session per process, so the suite runs on xdist workers grouped by engine (``make test``
passes ``-n 2 --dist loadgroup``: Sail's tests in one worker, classic Spark's in the other); in one worker, or run
serially, the fixture stops one engine before the next starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pyspark.sql import SparkSession

from stedi_transforms import engines
from tests.processes import moto_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL_DATA_VARIABLE = "STEDI_LANDING"

Test = TypeVar("Test", bound=Callable[..., None])


def only_on(engine: str) -> Callable[[Test], Test]:
    """Run a test that takes ``spark`` on one engine: for behaviour of the library's own Python (the CLI's
    arguments, the report) that both engines already share through tests of their own."""

    def decorate(test: Test) -> Test:
        test = pytest.mark.parametrize("spark", [engine], indirect=True)(test)
        return pytest.mark.xdist_group(engine)(test)

    return decorate


def classic_in_integration(test: Test) -> Test:
    """Run a test that takes ``spark`` on Sail in ``make test`` and on classic Spark in ``make test-integration``
    (which ``.ci/run`` runs too): for the long scenarios of many runs, where a classic run is ten times a Sail one
    and the engine's part is what other tests check on both engines in ``make test``."""
    engines_ = [
        pytest.param("sail", marks=pytest.mark.xdist_group("sail")),
        pytest.param("spark", marks=[pytest.mark.xdist_group("spark"), pytest.mark.integration]),
    ]
    return pytest.mark.parametrize("spark", engines_, indirect=True)(test)


def pytest_configure(config: pytest.Config) -> None:
    # The ``stedi`` processes that tests start use the engine they start, never one a user's environment names.
    os.environ.pop("SPARK_REMOTE", None)
    # Classic Spark in the tests (this process and the ones it starts) evaluates its projections as Spark's own
    # test suites do, without generating and compiling Java for each: the tests' tables are tiny, and most of their
    # time went into compiling code for the many small queries Delta runs over its log (a sixth of the classic
    # tests' time). The same results by Spark's contract: its default mode falls back to this one wherever
    # generated code fails to compile. Whole-stage code generation stays on; `stedi` itself keeps the defaults.
    os.environ["PYSPARK_SUBMIT_ARGS"] = "--conf spark.sql.codegen.factoryMode=NO_CODEGEN pyspark-shell"


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which hands out the tests in this order
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests that need no engine session (marked ``long``) first. ``--dist loadgroup`` hands each worker an
    engine's group, then the tests of no group in this order as workers come free: a long one taken last would
    leave the other workers idle until it ends."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


TEST_CLASSIC_SHUFFLES = {"spark.sql.shuffle.partitions": "1", "spark.databricks.delta.snapshotPartitions": "1"}
"""Classic Spark's session in the tests shuffles into one partition (and rebuilds a Delta table's state in one task),
as PySpark test suites commonly do for tiny tables: a third less of the classic tests' work, most of it per-task
overhead. The same results by Spark's contract; the rows still come from several input partitions (``local[2]``),
Sail's tests shuffle into two, and classic Spark keeps the shipped settings wherever a ``stedi`` process of its own
starts it (in ``make test-integration``: cold classic runs, and the Connect server in front of a cluster)."""


@pytest.fixture(
    scope="session",
    params=[pytest.param(engine, marks=pytest.mark.xdist_group(engine)) for engine in engines.ENGINES],
)
def spark(request: pytest.FixtureRequest) -> Iterator[SparkSession]:
    engine: str = request.param
    # The S3 tests need hadoop-aws on classic Spark's class path from the start; the Spark 3.5 run has none.
    needs_s3 = any(item.get_closest_marker("s3") for item in request.session.items)
    engines.require(engine, delta=True, s3=needs_s3)
    session = engines.get_session(engine)
    if engine == "spark":
        for name, value in TEST_CLASSIC_SHUFFLES.items():
            session.conf.set(name, value)
    yield session
    engines.stop_session(engine)
    # A stopped Spark Connect session leaves this flag behind, and PySpark would keep routing to Connect.
    os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


@pytest.fixture
def engine(request: pytest.FixtureRequest, spark: SparkSession) -> str:
    """The name of the engine ``spark`` runs on."""
    name: str = request.node.callspec.params["spark"]
    return name


@pytest.fixture(scope="session")
def fixtures_landing() -> str:
    return str(FIXTURES)


@pytest.fixture(scope="session")
def real_landing() -> str:
    landing = os.environ.get(REAL_DATA_VARIABLE)
    if not landing:
        pytest.skip(f"{REAL_DATA_VARIABLE} is not set: the real STEDI landing data is not available")
    return landing


@dataclass(frozen=True)
class LocalS3:
    """A real S3 API on loopback (moto's server), with the standard AWS environment pointing at it."""

    endpoint: str
    client: Any

    def upload(self, folder: str | Path, bucket: str, prefix: str) -> str:
        """Upload every file under ``folder`` to ``s3://bucket/prefix/`` and return that URI."""
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                self.client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
        return f"s3://{bucket}/{prefix}"


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    """One server per test process (Sail keeps the endpoint it first used for a bucket for the process's life), in
    a process of its own, so that it does not share this process's interpreter lock with Sail's Python."""
    with moto_server() as endpoint:
        yield endpoint


S3_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ALLOW_HTTP")


@pytest.fixture(scope="module")
def s3(_moto_server: str) -> Iterator[LocalS3]:
    """The local S3 server, with the AWS environment set for the module's tests (and restored after them)."""
    import boto3

    saved = {name: os.environ.get(name) for name in S3_ENVIRONMENT}
    os.environ.update(
        AWS_ENDPOINT_URL=_moto_server,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_ALLOW_HTTP="true",
    )
    yield LocalS3(_moto_server, boto3.client("s3", endpoint_url=_moto_server))
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
