"""Classic Spark's Python daemon for local runs: PySpark's own (``pyspark.daemon``), run from the installed PySpark
rather than from the zipped copy of the same files that Spark puts first on its Python workers' path.

Spark starts the daemon with ``<pyspark>/python/lib/pyspark.zip`` and py4j's zip first on ``PYTHONPATH``. Python
compiles each module it imports from a zip anew in every worker (a zip keeps no bytecode cache), and PySpark's worker
calls ``importlib.invalidate_caches()`` before each task, which makes every zip importer read its archive's index
again: about 90 ms of each Python task here, most of a small task (SPARK-54744 stops it in later Spark). Only the
zips inside the installed PySpark are left out, so the workers run the very files the driver runs; a Spark
installation of its own (``SPARK_HOME``) keeps its zips.

Spark runs it as ``python -m stedi_transforms.python_daemon <worker module>``
(:func:`stedi_transforms.engines._start_spark` sets ``spark.python.daemon.module``).
"""

from __future__ import annotations

import runpy
import sys
from importlib.machinery import PathFinder
from pathlib import Path


def without_installed_zips(path: list[str]) -> list[str]:
    """``path`` without the zips that ship inside the PySpark installed on the rest of it."""
    unzipped = [entry for entry in path if not entry.endswith(".zip")]
    spec = PathFinder.find_spec("pyspark", unzipped)
    if spec is None or not spec.submodule_search_locations:
        return path
    bundled = (Path(next(iter(spec.submodule_search_locations))) / "python" / "lib").resolve()
    return [entry for entry in path if not (entry.endswith(".zip") and Path(entry).resolve().parent == bundled)]


if __name__ == "__main__":
    sys.path[:] = without_installed_zips(sys.path)
    runpy.run_module("pyspark.daemon", run_name="__main__", alter_sys=True)
