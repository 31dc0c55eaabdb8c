"""The classic engine's extra jars: delta-spark's and hadoop-aws's, matched to the installed PySpark, fetched once.

A jar set is a list of Maven coordinates. The first time it is needed it is resolved with the machine's own Maven
(``mvn dependency:copy-dependencies``, which follows the machine's ``settings.xml``) or, where there is no ``mvn``,
with Spark's own Ivy resolution in a child process; either way the jars land in a folder of the cache and every
later start names them in ``spark.jars``, offline, without resolving again. Jars that Spark already ships (the same
artifact in any version) are left out: Spark's own copy would win on the classpath anyway.

The cache is ``$STEDI_JARS``, else ``$XDG_CACHE_HOME/stedi-transforms/jars``, else ``~/.cache/stedi-transforms/jars``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from stedi_transforms.settings import current

MANIFEST = "jars.txt"
"""Written last into a jar set's folder: the jars to load, one per line. A folder without it is incomplete."""

_JAR_NAME = re.compile(r"^(?P<artifact>.+?)-(?P<version>\d[^-]*(?:-[^-]+)*)\.jar$")


class JarsUnavailableError(RuntimeError):
    """A jar set is not cached and could not be fetched (no Maven access, no ``mvn`` and no Java, …)."""


@dataclass(frozen=True)
class JarSet:
    """Maven coordinates (``group:artifact:version``) that the classic engine loads together for one feature."""

    feature: str
    coordinates: tuple[str, ...]

    @property
    def folder_name(self) -> str:
        """The cache folder of this set: the feature and each artifact with its version, readable in a listing."""
        parts = [coordinate.split(":", 1)[1].replace(":", "-") for coordinate in self.coordinates]
        return "+".join([self.feature, *parts])


def _spark_jars_folder() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def artifact_of(jar_name: str) -> str | None:
    """The artifact id of a jar named ``<artifact>-<version>.jar``, as Maven and Spark name them.

    >>> artifact_of("hadoop-client-api-3.4.2.jar"), artifact_of("zstd-jni-1.5.7-3.jar")
    ('hadoop-client-api', 'zstd-jni')
    """
    match = _JAR_NAME.match(jar_name)
    return match.group("artifact") if match else None


def _spark_artifact_version(artifact: str) -> str:
    for jar in _spark_jars_folder().glob(f"{artifact}-*.jar"):
        if artifact_of(jar.name) == artifact:
            return jar.name.removeprefix(f"{artifact}-").removesuffix(".jar")
    raise JarsUnavailableError(f"this PySpark ships no {artifact} jar, so the matching extra jars cannot be chosen")


def scala_version() -> str:
    """The Scala binary version PySpark's jars are built for: ``2.13`` for Spark 4, ``2.12`` for Spark 3.5."""
    return ".".join(_spark_artifact_version("scala-library").split(".")[:2])


def hadoop_version() -> str:
    """The Hadoop version PySpark's jars bundle (3.4.2 for Spark 4.1, 3.3.4 for Spark 3.5)."""
    return _spark_artifact_version("hadoop-client-api")


def delta_jars() -> JarSet:
    """delta-spark's jars for the installed delta-spark and PySpark, named as ``configure_spark_with_delta_pip``
    names them: ``delta-spark_<spark major.minor>_<scala>`` from Delta 4 on, ``delta-spark_<scala>`` before."""
    import pyspark

    try:
        delta = metadata.version("delta-spark")
    except metadata.PackageNotFoundError as error:
        raise JarsUnavailableError("delta-spark is not installed (it comes with the local extra)") from error
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    scala = scala_version()
    artifact = f"delta-spark_{spark_minor}_{scala}" if int(delta.split(".")[0]) >= 4 else f"delta-spark_{scala}"
    return JarSet("delta", (f"io.delta:{artifact}:{delta}",))


def s3a_jars() -> JarSet:
    """hadoop-aws (the S3A filesystem) for the Hadoop that PySpark bundles, with the AWS SDK it was built with."""
    return JarSet("s3a", (f"org.apache.hadoop:hadoop-aws:{hadoop_version()}",))


def cache_root() -> Path:
    """Where jar sets are cached (see the module's docstring)."""
    return current().jar_cache


def cached(jar_set: JarSet) -> list[Path] | None:
    """The jars of ``jar_set`` when the cache holds all of them, else None. Needs no network and no JVM."""
    folder = cache_root() / jar_set.folder_name
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    jars = [folder / name for name in manifest.read_text(encoding="utf-8").split()]
    return jars if all(jar.is_file() for jar in jars) else None


def ensure(jar_set: JarSet) -> list[Path]:
    """The jars of ``jar_set``, fetched into the cache first if they are not there yet.

    Raises JarsUnavailableError, within seconds where Maven cannot be reached, with the resolver's own last words.
    """
    found = cached(jar_set)
    if found is not None:
        return found
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".resolving-", dir=root) as scratch:
        staging = Path(scratch) / "jars"
        staging.mkdir()
        if shutil.which("mvn"):
            _resolve_with_maven(jar_set, staging, Path(scratch))
        else:
            _resolve_with_ivy(jar_set, staging, Path(scratch))
        provided = {artifact_of(jar.name) for jar in _spark_jars_folder().glob("*.jar")}
        for jar in staging.glob("*.jar"):
            if artifact_of(jar.name) in provided:
                jar.unlink()
        kept = sorted(jar.name for jar in staging.glob("*.jar"))
        if not kept:
            raise JarsUnavailableError(f"resolving the {jar_set.feature} jars gave no jars")
        (staging / MANIFEST).write_text("\n".join(kept) + "\n", encoding="utf-8")
        with contextlib.suppress(OSError):  # another process cached the same set meanwhile: keep theirs
            staging.rename(root / jar_set.folder_name)
    found = cached(jar_set)
    if found is None:
        raise JarsUnavailableError(f"the {jar_set.feature} jars were resolved but are not in {root}")
    return found


_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>stedi-transforms</groupId><artifactId>classic-engine-jars</artifactId><version>1</version>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


def _resolve_with_maven(jar_set: JarSet, into: Path, scratch: Path) -> None:
    dependencies = "\n".join(
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version></dependency>"
        for group, artifact, version in (coordinate.split(":") for coordinate in jar_set.coordinates)
    )
    (scratch / "pom.xml").write_text(_POM.format(dependencies=dependencies), encoding="utf-8")
    command = ["mvn", "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={into}"]
    _run_resolver(command, scratch, jar_set)


_IVY_RESOLVE = """
import sys
from pyspark.sql import SparkSession
packages, settings, ivy = sys.argv[1:]
SparkSession.builder.master("local[1]").config("spark.jars.packages", packages).config(
    "spark.jars.ivySettings", settings).config("spark.jars.ivy", ivy).getOrCreate().stop()
"""

# Ivy's own default repository only: Spark's default chain also consults ~/.m2, where a pom cached without its
# jar (as `mvn dependency:tree` leaves them) makes the whole resolution fail.
_IVY_SETTINGS = """<ivysettings>
  <settings defaultResolver="default"/>
  <caches defaultCacheDir="{cache}"/>
  <resolvers><ibiblio name="default" m2compatible="true"/></resolvers>
</ivysettings>
"""


def _resolve_with_ivy(jar_set: JarSet, into: Path, scratch: Path) -> None:
    settings = scratch / "ivysettings.xml"
    settings.write_text(_IVY_SETTINGS.format(cache=scratch / "ivy"), encoding="utf-8")
    command = [sys.executable, "-c", _IVY_RESOLVE, ",".join(jar_set.coordinates), str(settings), str(scratch / "ivy")]
    _run_resolver(command, scratch, jar_set)
    for jar in (scratch / "ivy" / "jars").glob("*.jar"):  # Ivy names them <group>_<artifact>-<version>.jar
        jar.rename(into / jar.name.split("_", 1)[1])


def _run_resolver(command: list[str], cwd: Path, jar_set: JarSet) -> None:
    try:
        child = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as error:
        raise JarsUnavailableError(f"cannot fetch the {jar_set.feature} jars: {error}") from error
    if child.returncode != 0:
        output = [line.strip() for line in (child.stdout + child.stderr).splitlines() if line.strip()]
        errors = [line for line in output if "ERROR" in line or "Exception" in line] or output or ["no output"]
        raise JarsUnavailableError(
            f"cannot fetch the {jar_set.feature} jars ({', '.join(jar_set.coordinates)}): {errors[0][:300]}"
        )
