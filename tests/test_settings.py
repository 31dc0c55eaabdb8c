"""The environment is read in one module, into one object, once per command."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms import settings
from stedi_transforms.cli import main
from stedi_transforms.settings import S3Settings, Settings
from tests.conftest import FIXTURES, only_on

PACKAGE = Path(__file__).resolve().parent.parent / "stedi_transforms"


def test_the_settings_hold_every_variable_the_library_reads() -> None:
    environ = {
        "SPARK_REMOTE": "sc://engine:15002",
        "STEDI_JARS": "/opt/jars",
        "XDG_CACHE_HOME": "/ignored/when/stedi/jars/is/set",
        "JAVA_HOME": "/opt/java",
        "PYSPARK_PYTHON": "/opt/python/bin/python3",
        "SPARK_HOME": "/opt/spark",
        "STEDI_DEBUG": "1",
        "AWS_ENDPOINT_URL": "http://general:9000",
        "AWS_ENDPOINT_URL_S3": "http://s3:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
    }
    assert Settings.from_environment(environ) == Settings(
        remote="sc://engine:15002",
        jar_cache=Path("/opt/jars"),
        java_home="/opt/java",
        worker_python="/opt/python/bin/python3",
        spark_home="/opt/spark",
        debug=True,
        s3=S3Settings("http://s3:9000", "eu-west-1", "key", "secret", "token"),
    )


def test_unset_and_empty_variables_are_the_defaults() -> None:
    home = Path.home()
    assert Settings.from_environment({}) == Settings(jar_cache=home / ".cache" / "stedi-transforms" / "jars")
    environ = {"SPARK_REMOTE": "", "JAVA_HOME": "", "STEDI_DEBUG": "0", "XDG_CACHE_HOME": "/cache"}
    assert Settings.from_environment(environ) == Settings(jar_cache=Path("/cache/stedi-transforms/jars"))


def _environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read ``os.environ`` (``.get``, ``[name]``, ``in``) or call ``os.getenv``."""

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    def reads(node: ast.AST) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return node.func.attr == "getenv" or (node.func.attr == "get" and is_environ(node.func.value))
        if isinstance(node, ast.Subscript):
            return is_environ(node.value) and isinstance(node.ctx, ast.Load)
        return isinstance(node, ast.Compare) and any(is_environ(right) for right in node.comparators)

    return sorted(node.lineno for node in ast.walk(tree) if reads(node))


def test_the_check_finds_every_kind_of_read() -> None:
    code = 'os.environ.get("A")\nos.environ["B"]\n"C" in os.environ\nos.getenv("D")\nos.environ["E"] = "set"\n'
    assert _environment_reads(ast.parse(code)) == [1, 2, 3, 4]


def test_no_module_but_the_settings_reads_the_environment() -> None:
    reads = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "settings.py" and (found := _environment_reads(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert reads == {}


@only_on("sail")  # which settings a command reads is the library's own Python, whatever engine it starts
def test_a_command_reads_the_environment_once_and_its_threads_use_that_reading(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings: list[Settings] = []
    read = Settings.from_environment

    def counted(environ: object = None) -> Settings:
        readings.append(read())
        return readings[-1]

    monkeypatch.setattr(Settings, "from_environment", staticmethod(counted))
    seen: list[Settings] = []
    current = settings.current

    def watched() -> Settings:
        seen.append(current())
        return seen[-1]

    monkeypatch.setattr(settings, "current", watched)
    for module in ("engines", "reader", "storage", "jars"):  # the modules that took it by name
        monkeypatch.setattr(f"stedi_transforms.{module}.current", watched)
    code = main(["run", "--landing", str(FIXTURES), "--lake", str(tmp_path / "lake"), "--engine", "sail"])
    assert (code, len(readings)) == (0, 1)
    assert seen  # the engine's address and the reader's S3 settings, in the pipeline's threads
    assert all(found is readings[0] for found in seen)
