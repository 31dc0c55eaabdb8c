"""One session fixture for both engines: every test that takes ``spark`` runs on Sail and on classic Spark.

PySpark keeps one kind of session per process, so the suite runs on two xdist workers grouped by engine
(``make test`` passes ``-n 2 --dist loadgroup``); run serially, the fixture stops one engine before the next starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from pyspark.sql import SparkSession

from stedi_transforms import engines

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


@pytest.fixture(
    scope="session",
    params=[pytest.param(engine, marks=pytest.mark.xdist_group(engine)) for engine in engines.ENGINES],
)
def spark(request: pytest.FixtureRequest) -> Iterator[SparkSession]:
    engine: str = request.param
    engines.require(engine, delta=True)
    yield engines.get_session(engine)
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
