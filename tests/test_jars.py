"""The classic engine's jar sets: which artifacts, how they are cached, and that a cached set needs no resolver."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from stedi_transforms import jars


@pytest.mark.parametrize(
    ("jar_name", "artifact"),
    [
        ("hadoop-client-api-3.4.2.jar", "hadoop-client-api"),
        ("zstd-jni-1.5.7-3.jar", "zstd-jni"),
        ("delta-spark_4.1_2.13-4.2.0.jar", "delta-spark_4.1_2.13"),
        ("jackson-datatype-jdk8-2.13.5.jar", "jackson-datatype-jdk8"),
        ("log4j-slf4j2-impl-2.25.3.jar", "log4j-slf4j2-impl"),
        ("wildfly-openssl-2.1.4.Final.jar", "wildfly-openssl"),
        ("RoaringBitmap-1.3.0.jar", "RoaringBitmap"),
        ("README.txt", None),
    ],
)
def test_artifacts_are_read_from_jar_names(jar_name: str, artifact: str | None) -> None:
    assert jars.artifact_of(jar_name) == artifact


def test_the_delta_jars_are_the_ones_delta_spark_itself_would_fetch() -> None:
    builder = configure_spark_with_delta_pip(SparkSession.builder)
    assert jars.delta_jars().coordinates == (builder._options["spark.jars.packages"],)


def test_hadoop_aws_matches_the_hadoop_pyspark_bundles() -> None:
    import pyspark

    bundled = sorted(path.name for path in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    assert [f"hadoop-client-api-{jars.hadoop_version()}.jar"] == bundled
    assert jars.s3a_jars().coordinates == (f"org.apache.hadoop:hadoop-aws:{jars.hadoop_version()}",)


def test_the_cache_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STEDI_JARS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jars.cache_root() == tmp_path / "xdg" / "stedi-transforms" / "jars"
    monkeypatch.setenv("STEDI_JARS", str(tmp_path / "mine"))
    assert jars.cache_root() == tmp_path / "mine"


def test_a_cached_set_is_used_without_resolving(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEDI_JARS", str(tmp_path))
    monkeypatch.setenv("PATH", "")  # neither mvn nor anything else could run
    jar_set = jars.JarSet("demo", ("org.example:demo_2.13:1.0",))
    folder = tmp_path / "demo+demo_2.13-1.0"
    folder.mkdir()
    (folder / "demo_2.13-1.0.jar").write_bytes(b"PK")
    assert jars.cached(jar_set) is None  # no manifest yet: an interrupted resolution
    (folder / jars.MANIFEST).write_text("demo_2.13-1.0.jar\n")
    assert jars.ensure(jar_set) == [folder / "demo_2.13-1.0.jar"]


def test_maven_resolution_keeps_only_what_spark_lacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A stand-in ``mvn`` copies two jars, one of which Spark ships in another version: only the other is kept."""
    fake_mvn = tmp_path / "bin" / "mvn"
    fake_mvn.parent.mkdir()
    fake_mvn.write_text(
        "#!/bin/sh\n"
        'for argument in "$@"; do case "$argument" in -DoutputDirectory=*) out="${argument#*=}";; esac; done\n'
        'grep -q "<artifactId>demo_2.13</artifactId>" pom.xml || exit 1\n'
        'touch "$out/demo_2.13-1.0.jar" "$out/scala-library-2.13.1.jar"\n'
    )
    fake_mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_mvn.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("STEDI_JARS", str(tmp_path / "cache"))
    jar_set = jars.JarSet("demo", ("org.example:demo_2.13:1.0",))
    folder = tmp_path / "cache" / "demo+demo_2.13-1.0"
    assert jars.ensure(jar_set) == [folder / "demo_2.13-1.0.jar"]
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == ["demo+demo_2.13-1.0"]
    assert sorted(path.name for path in folder.iterdir()) == ["demo_2.13-1.0.jar", jars.MANIFEST]


def test_the_first_classic_start_writes_a_class_archive_and_later_starts_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stedi_transforms.engines import _class_data_sharing

    monkeypatch.setenv("STEDI_JARS", str(tmp_path))
    first = _class_data_sharing("a.jar", "java")
    written = first.split()[0].removeprefix("-XX:ArchiveClassesAtExit=")
    assert (first, Path(written).parent) == (
        f"-XX:ArchiveClassesAtExit={written} -Xlog:cds=off,cds+dynamic=off",
        tmp_path / "cds",
    )
    Path(written).write_bytes(b"the JVM's archive")
    twin = Path(written).with_name(Path(written).name.replace("-", "-~", 1))  # from a JVM that started alongside
    twin.write_bytes(b"another JVM's archive")
    assert _class_data_sharing("a.jar", "java") == f"-XX:SharedArchiveFile={written} -Xlog:cds=off,cds+dynamic=off"
    assert list((tmp_path / "cds").iterdir()) == [Path(written)]
    assert _class_data_sharing("b.jar", "java").startswith(
        "-XX:ArchiveClassesAtExit="
    )  # another class path, another archive


def test_a_new_class_archive_makes_room_by_removing_the_least_recently_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stedi_transforms.engines import ARCHIVES_KEPT, _class_data_sharing

    monkeypatch.setenv("STEDI_JARS", str(tmp_path))
    used = Path(
        _class_data_sharing("a.jar", "java").split()[0].split("=", 1)[1]
    )  # the archive a start with a.jar writes
    others = [tmp_path / "cds" / f"other{index}-1.jsa" for index in range(ARCHIVES_KEPT - 1)]
    for age, archive in enumerate([*others, used]):
        archive.write_bytes(b"an archive")
        os.utime(archive, (1_000_000 - age, 1_000_000 - age))  # others[0] the newest, a.jar's the oldest
    _class_data_sharing("a.jar", "java")  # a start that maps a.jar's archive
    _class_data_sharing("b.jar", "java")  # a start that will write another
    assert sorted((tmp_path / "cds").iterdir()) == sorted([*others[:-1], used])
