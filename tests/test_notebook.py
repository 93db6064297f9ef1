"""notebooks/explore_gaps.ipynb runs top to bottom on the sample corpus's outputs, and is committed without outputs."""

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.report import write_reports
from pipeline.types import Coverage, Evidence, Match, Passage, Signal, Status
from tests.conftest import REPO, SAMPLE_CORPUS, run_store

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (report dependencies)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (report dependencies)")

NOTEBOOK = REPO / "notebooks" / "explore_gaps.ipynb"
#: Seconds one cell may take before the run counts as hung.
CELL_TIMEOUT = 180


def run_notebook(run, monkeypatch):
    monkeypatch.setenv("PROMISE_MAP_RUN", str(run))
    monkeypatch.setenv("PROMISE_MAP_ITEM", "CARE-3")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    return notebook


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
    notebook = run_notebook(run, monkeypatch)
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


# A run whose ids carry the CSV formula guard, and a run without passages

def write_one_document_run(out, reference_set, *, document, passage_texts):
    """A run of one document through the real report writer, with a CARE-3 match for each passage."""
    passages = [Passage(id=f"{document}#{n:04d}", doc=document, page=1, start=0, end=len(text), heading="H",
                        text=text) for n, text in enumerate(passage_texts, start=1)]
    evidence = tuple(Evidence(passage_id=p.id, page=1, heading="H", text=p.text, score=0.9, signal=Signal.TFIDF,
                              matched="siblings") for p in passages)
    coverages = [Coverage(doc=document, item=reference_set.item("CARE-3"),
                          status=Status.COVERED if passages else Status.MISSING, score=0.9 if passages else 0.0,
                          evidence=evidence),
                 Coverage(doc=document, item=reference_set.item("CARE-4"), status=Status.MISSING, score=0.0)]
    matches = [Match(p.id, "CARE-3", 0.9, Signal.TFIDF, "siblings") for p in passages]
    out.mkdir(parents=True)
    store = run_store(out.parent / f"{out.name}.sqlite", [{"name": document, "coverages": coverages,
                                                          "passages": passages, "matches": matches}])
    write_reports(out, store=store, reference=reference_set, run_record={})
    return out


def last_result(notebook):
    """The text of the last cell's displayed value: the item's evidence table."""
    [result] = [output for output in notebook.cells[-1].outputs if output.output_type == "execute_result"]
    return result["data"]["text/plain"]


@pytest.mark.slow
def test_notebook_joins_matches_to_passages_of_a_formula_like_document(tmp_path, reference_set, monkeypatch):
    run = write_one_document_run(tmp_path / "run", reference_set, document="=cmd.txt",
                                 passage_texts=["Brothers and sisters stay together."])
    notebook = run_notebook(run, monkeypatch)
    shown = last_result(notebook)
    assert "Brothers and sisters stay together." in shown and "=cmd.txt" in shown and "'=cmd" not in shown


@pytest.mark.slow
def test_notebook_runs_on_a_run_without_passages(tmp_path, reference_set, monkeypatch):
    run = write_one_document_run(tmp_path / "run", reference_set, document="empty.txt", passage_texts=[])
    assert (run / "passages.jsonl").read_text(encoding="utf-8") == ""
    notebook = run_notebook(run, monkeypatch)
    assert "Empty DataFrame" in last_result(notebook)


@pytest.mark.slow
def test_a_relative_run_path_is_taken_from_the_folder_the_notebook_was_started_in(tmp_path, reference_set,
                                                                                   monkeypatch):
    """Regression: PROMISE_MAP_RUN=outputs/corpus was looked for in notebooks/, where the kernel runs.

    The notebook is started from tmp_path, as a shell there would start it: working directory and $PWD.
    """
    write_one_document_run(tmp_path / "outputs" / "my corpus", reference_set, document="plan.txt",
                           passage_texts=["Brothers and sisters stay together."])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    notebook = run_notebook("outputs/my corpus", monkeypatch)
    assert "Brothers and sisters stay together." in last_result(notebook)
    first_result = next(output for output in notebook.cells[1].outputs if output.output_type == "execute_result")
    assert str(tmp_path / "outputs" / "my corpus") in first_result["data"]["text/plain"]


def test_the_first_cell_says_how_a_relative_run_path_is_read():
    first = nbformat.read(NOTEBOOK, as_version=4).cells[0].source
    assert "relative" in first and "started" in first
