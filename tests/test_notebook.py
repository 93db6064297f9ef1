"""notebooks/explore_gaps.ipynb runs top to bottom on the sample corpus's outputs, and is committed without outputs."""

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import REPO, SAMPLE_CORPUS

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (report dependencies)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (report dependencies)")

NOTEBOOK = REPO / "notebooks" / "explore_gaps.ipynb"
#: Seconds one cell may take before the run counts as hung.
CELL_TIMEOUT = 180


def test_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def printed(notebook):
    return "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.outputs if output.output_type == "stream")


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_on_the_sample_run(tmp_path, monkeypatch):
    run = tmp_path / "sample"
    result = CliRunner().invoke(app, ["map", str(SAMPLE_CORPUS), "--out", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("PROMISE_MAP_RUN", str(run))
    monkeypatch.setenv("PROMISE_MAP_ITEM", "CARE-3")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert errors == []
    text = printed(notebook)
    assert "4 documents x 68 items" in text
    assert "weakest foundation: " in text
    assert "items are covered by no document" in text
    assert "CARE-3: BROTHERS and SISTERS" in text


@pytest.mark.slow
def test_notebook_says_how_to_fix_a_missing_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMISE_MAP_RUN", str(tmp_path / "no-such-run"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="run `make map` first"):
        client.execute()
