"""The SQL files shipped in the package: Athena DDL and the validation queries ``stedi verify`` runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_BLOCK = re.compile(r"^-- (count|check|info): (\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Query:
    """One named query of a SQL file: ``count`` (row counts), ``check`` (violations, must be 0) or ``info``."""

    kind: str
    name: str
    sql: str


DEFAULT_DATABASE = "stedi"


def sql_files() -> list[str]:
    """The names of the packaged SQL files: the landing DDL, the Delta registrations, the validation queries."""
    return sorted(
        entry.name for entry in (resources.files("stedi_transforms") / "sql").iterdir() if entry.name.endswith(".sql")
    )


def sql_text(name: str) -> str:
    """The text of the packaged SQL file ``name`` (e.g. ``validation.sql``)."""
    if name not in sql_files():
        raise ValueError(f"no SQL file {name!r}; the files are {', '.join(sql_files())}")
    return (resources.files("stedi_transforms") / "sql" / name).read_text(encoding="utf-8")


def render(name: str, bucket: str, database: str = DEFAULT_DATABASE) -> str:
    """A SQL file with its ``${bucket}`` and ``${database}`` placeholders filled in.

    >>> "s3://my-bucket/customer/landing/" in render("customer_landing.sql", "my-bucket")
    True
    """
    return sql_text(name).replace("${bucket}", bucket).replace("${database}", database)


def named_queries(text: str) -> list[Query]:
    """Split SQL text into the blocks headed ``-- <kind>: <name>``, without their trailing semicolons."""
    heads = list(_BLOCK.finditer(text))
    ends = [head.start() for head in heads[1:]] + [len(text)]
    return [
        Query(head.group(1), head.group(2), text[head.end() : end].strip().rstrip(";").strip())
        for head, end in zip(heads, ends, strict=True)
    ]


def validation_queries(name: str = "validation.sql") -> list[Query]:
    """The validation queries of ``validation.sql`` (or of another file of them, such as the checks of an option)."""
    return named_queries(sql_text(name))
