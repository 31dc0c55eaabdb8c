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


def sql_text(name: str) -> str:
    """The text of the packaged SQL file ``name`` (e.g. ``validation.sql``)."""
    return (resources.files("stedi_transforms") / "sql" / name).read_text(encoding="utf-8")


def named_queries(text: str) -> list[Query]:
    """Split SQL text into the blocks headed ``-- <kind>: <name>``, without their trailing semicolons."""
    heads = list(_BLOCK.finditer(text))
    ends = [head.start() for head in heads[1:]] + [len(text)]
    return [
        Query(head.group(1), head.group(2), text[head.end() : end].strip().rstrip(";").strip())
        for head, end in zip(heads, ends, strict=True)
    ]


def validation_queries() -> list[Query]:
    """The validation queries of ``validation.sql``."""
    return named_queries(sql_text("validation.sql"))
