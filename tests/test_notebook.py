"""The exploration notebook runs top to bottom on the bundled sample, so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

PLOTLY = "application/vnd.plotly.v1+json"
"""The output type of a plotly figure: what the report's charts leave in the executed notebook."""

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "explore.ipynb"


def test_the_notebook_shows_the_zones_the_collisions_and_the_reports_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEDI_LAKE", str(tmp_path / "lake"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    printed = [
        "".join(output.get("text", "") for output in cell.get("outputs", []))
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    assert "curated   machine_learning_curated             7" in printed[1]
    assert printed[4].startswith("2 step-trainer readings matched more than one accelerometer reading\n")
    assert printed[8] == (
        "timestamp                            7 rows        2 with another customer's phone\n"
        "owner                                5 rows        0 with another customer's phone\n"
        "timestamp + consent cutoff           6 rows        2 with another customer's phone\n"
        "owner + consent cutoff               4 rows        0 with another customer's phone\n"
    )
    charts = [
        output["data"][PLOTLY]["layout"]["title"]["text"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if PLOTLY in output.get("data", {})
    ]
    assert charts == [
        "Rows at each zone, per source",
        "Rejected lines by reason",
        "Readings of A***** L***** (ad*****@stedi.test)",
        "machine_learning_curated under each option",
    ]
