"""The package's modules import each other in layers: no import circle among the imports at their tops (an import
inside a function is deferred on purpose: the entry point imports the CLI only once its signal handlers are in
place), and the registry of tables sits below the pipeline that runs it."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stedi_transforms"


def imports() -> dict[str, set[str]]:
    """Per module of the package, the modules of the package it imports at its top."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        found: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "stedi_transforms":
                    found.update(alias.name for alias in node.names)
                elif node.module.startswith("stedi_transforms."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("stedi_transforms."))
        graph[path.stem] = found - {path.stem}
    return graph


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    graphlib.TopologicalSorter(imports()).prepare()  # CycleError names the circle


def test_the_registry_imports_the_transforms_the_lake_and_the_options_and_nothing_that_runs_jobs() -> None:
    assert imports()["registry"] == {"lake", "options", "reader", "schemas", "transforms"}
    assert "registry" in imports()["pipeline"]
