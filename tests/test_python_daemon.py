"""Classic Spark's Python workers run the installed PySpark, not the zipped copy of it that Spark puts on their path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pyspark
from pyspark.sql import SparkSession

from stedi_transforms.python_daemon import without_installed_zips
from tests.conftest import only_on


def _site(root: Path) -> tuple[Path, list[str]]:
    """A folder of installed packages holding a PySpark with its two zips; the zips' paths."""
    lib = root / "pyspark" / "python" / "lib"
    lib.mkdir(parents=True)
    (root / "pyspark" / "__init__.py").write_text("")
    zips = [lib / "pyspark.zip", lib / "py4j-0.10.9.9-src.zip"]
    for archive in zips:
        archive.write_bytes(b"")
    return root, [str(archive) for archive in zips]


def test_only_the_zips_inside_the_installed_pyspark_leave_the_path(tmp_path: Path) -> None:
    site, zips = _site(tmp_path / "site")
    other = str(tmp_path / "other.zip")
    assert without_installed_zips([*zips, other, str(site)]) == [other, str(site)]


def test_a_spark_installation_of_its_own_keeps_its_zips(tmp_path: Path) -> None:
    site, _ = _site(tmp_path / "site")
    _, spark_home_zips = _site(tmp_path / "spark-home")
    path = [*spark_home_zips, str(site)]
    assert without_installed_zips(path) == path


def test_a_path_without_an_installed_pyspark_is_left_as_it_is(tmp_path: Path) -> None:
    _, zips = _site(tmp_path / "site")
    assert without_installed_zips(zips) == zips


@only_on("spark")  # Sail has no Python daemon: its Python runs in its own process
def test_the_workers_import_the_installed_pyspark_with_no_zip_of_it_on_their_path(spark: SparkSession) -> None:
    def probe(_: Iterator[int]) -> Iterator[tuple[str, list[str]]]:
        import sys

        import pyspark as worker_pyspark

        yield worker_pyspark.__file__ or "", [entry for entry in sys.path if entry.endswith((".zip", ".zip/"))]

    seen = spark.sparkContext.parallelize([0], 1).mapPartitions(probe).collect()
    stdlib_zip = [entry for entry in sys.path if entry.endswith(".zip")]  # Python's own, absent or not
    assert seen == [(str(Path(pyspark.__file__ or "").parent / "__init__.py"), stdlib_zip)]
