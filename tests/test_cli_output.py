"""What the CLI and the run's files show a person: errors whatever -q says, exit codes, untrusted names printed as
written, gap_table.md inert, and the CSV formula guard undone wherever a run is read back."""

import csv

import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.compare import compare_documents, read_gap_table, without_formula_guard
from pipeline.report import FORMULA_TRIGGERS, GAP_TABLE_COLUMNS, csv_bytes, gap_table_markdown
from tests.conftest import UNRELATED_TEXT

PROMISE_TEXT = """Care and stability

Scotland must limit the number of moves that children experience and support carers to continue to care.
"""


def invoke(*arguments):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def gap_row(document, item_id, status, evidence=""):
    return {"document": document, "framework": "calls_to_action", "group": item_id.split("-")[0].title(),
            "item_id": item_id, "title": f"title of {item_id}", "status": status,
            "score": "0.900" if status != "missing" else "0.000", "signal": "quote" if status != "missing" else "",
            "evidence": evidence, "page": "1" if evidence else "", "heading": "", "evidence_pages": ""}


def write_gap_table(run, rows):
    """gap_table.csv as the report stage writes it: through the same writer, formula guard included."""
    run.mkdir(parents=True, exist_ok=True)
    (run / "gap_table.csv").write_bytes(csv_bytes(GAP_TABLE_COLUMNS, rows))
    return run


def two_document_run(run, doc_a, doc_b):
    return write_gap_table(run, [gap_row(doc_a, "CARE-3", "covered", evidence="siblings stay together"),
                                 gap_row(doc_a, "CARE-4", "missing"),
                                 gap_row(doc_b, "CARE-3", "missing"),
                                 gap_row(doc_b, "CARE-4", "covered", evidence="=SUM(A1) moves are limited")])


# 1. errors are printed whatever -q says

def test_quiet_map_still_prints_the_error_for_a_missing_folder():
    result = invoke("map", "/nonexistent-promise-map-input", "-q")
    assert result.exit_code == 2
    assert "error:" in result.stderr and "/nonexistent-promise-map-input" in result.stderr


def test_quiet_compare_still_prints_the_error_for_an_unknown_document(tmp_path):
    run = two_document_run(tmp_path / "run", "a.txt", "b.txt")
    result = invoke("compare", "nope", "b.txt", "--run", run, "-q")
    assert result.exit_code == 2
    assert "not a document of this run" in result.stderr
    assert not list(run.glob("compare_*"))


def test_quiet_compare_prints_nothing_when_it_succeeds(tmp_path):
    run = two_document_run(tmp_path / "run", "a.txt", "b.txt")
    result = invoke("compare", "a.txt", "b.txt", "--run", run, "-q")
    assert result.exit_code == 0, result.output
    assert result.output == ""


# 2. a run that mapped no document fails

@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_a_run_where_no_document_could_be_mapped_exits_1_but_writes_its_outputs(tmp_path, quiet):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really a PDF")
    (corpus / "empty.txt").write_bytes(b"")
    out = tmp_path / "out"
    result = invoke("map", corpus, "--out", out, "--classifier", "lexical", *quiet)
    assert result.exit_code == 1, result.output
    assert "no document could be mapped" in result.stderr
    with (out / "errors.csv").open(encoding="utf-8", newline="") as stream:
        assert sorted(row["file"] for row in csv.DictReader(stream)) == ["broken.pdf", "empty.txt"]
    assert (out / "run.json").is_file() and (out / "gap_table.csv").is_file()


# 3. names with brackets are printed as written, not read as Rich markup

def test_map_prints_bracketed_file_names_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # room for the summary table on one line per row
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "Plan [draft].txt").write_text(PROMISE_TEXT, encoding="utf-8")
    (corpus / "Old [bold]notes[red].txt").write_bytes(b"")
    result = invoke("map", corpus, "--out", tmp_path / "out", "--classifier", "lexical")
    assert result.exit_code == 0, result.output  # one document mapped, one skipped: still a success
    assert "Plan [draft].txt" in result.stderr
    assert "skipped Old [bold]notes[red].txt (extract)" in result.stderr


def test_compare_prints_bracketed_names_and_arguments_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    run = two_document_run(tmp_path / "run", "Plan [draft].txt", "Reply [/].txt")
    result = invoke("compare", "Plan [draft].txt", "Reply [/].txt", "--run", run)
    assert result.exit_code == 0, result.output
    assert "in A (Plan [draft].txt), not in B" in result.stderr
    assert "in B (Reply [/].txt), not in A" in result.stderr
    refused = invoke("compare", "[/]", "Reply", "--run", run)
    assert refused.exit_code == 2
    assert "'[/]' is not a document of this run" in refused.stderr
    assert "Plan [draft].txt" in refused.stderr


# 4. gap_table.md lets no HTML or link through

HOSTILE_MARKDOWN = ["<script>alert(1)</script>", "<img src=x onerror=alert(4)>", "[x](javascript:alert(3))",
                    "![y](http://x/y.png)", "<javascript:alert(5)>", "a & b", "x | y"]


def test_markdown_cells_and_headings_hold_no_html_or_links():
    rows = [{"document": f"evil{index}\r## injected <b>.txt", "item_id": "CARE-1", "title": hostile,
             "status": "covered", "score": "1.000", "page": 1, "evidence": f"{hostile}\rnext"}
            for index, hostile in enumerate(HOSTILE_MARKDOWN)]
    markdown = gap_table_markdown(rows)
    assert "\r" not in markdown
    assert [line for line in markdown.splitlines() if line.startswith("#")] == ["# Gap table"] + [
        f"## evil{index} ## injected &lt;b&gt;.txt" for index in range(len(HOSTILE_MARKDOWN))] + ["## Items"]
    page = BeautifulSoup(MarkdownIt("commonmark").enable("table").render(markdown), "html5lib")
    assert not page.find_all(["script", "img", "a", "b"])
    assert len(page.find_all("h2")) == len(HOSTILE_MARKDOWN) + 1
    *document_tables, items_table = page.find_all("table")
    cells = [row.find_all("td") for table in document_tables for row in table.select("tbody tr")]
    assert [row[1].get_text() for row in cells] == HOSTILE_MARKDOWN
    assert [row[9].get_text() for row in cells] == [f"{hostile} next" for hostile in HOSTILE_MARKDOWN]
    assert [row.find_all("td")[1].get_text() for row in items_table.select("tbody tr")] == HOSTILE_MARKDOWN[-1:]


# 5. the CSV formula guard is undone when a run is read back

@pytest.mark.parametrize(("written", "meant"), [
    *[("'" + trigger + "cmd", trigger + "cmd") for trigger in FORMULA_TRIGGERS],
    ("'plain", "'plain"), ("it's", "it's"), ("''=x", "''=x"), ("'", "'"), ("", ""), ("=raw", "=raw"),
])
def test_only_the_formula_guard_is_removed(written, meant):
    assert without_formula_guard(written) == meant


def test_compare_reads_back_guarded_names_and_evidence(tmp_path):
    run = two_document_run(tmp_path / "run", "=cmd.txt", "-other.txt")
    assert {row["document"] for row in read_gap_table(run)} == {"=cmd.txt", "-other.txt"}
    comparison = compare_documents(read_gap_table(run), "=cmd.txt", "-other.txt")
    assert comparison.only_b[0].evidence_b == "=SUM(A1) moves are limited"
    result = invoke("compare", "--run", run, "--", "=cmd.txt", "-other.txt")
    assert result.exit_code == 0, result.output
    [html] = run.glob("compare_*.html")
    text = BeautifulSoup(html.read_text(encoding="utf-8"), "html5lib").get_text()
    assert "=cmd.txt" in text and "'=cmd.txt" not in text and "'=SUM" not in text
    [table] = run.glob("compare_*.csv")
    with table.open(encoding="utf-8", newline="") as stream:
        [entry] = [row for row in csv.DictReader(stream) if row["item_id"] == "CARE-3"]
    assert entry["document_a"] == "'=cmd.txt"  # written again for spreadsheets: guarded once, not twice


def test_unrelated_text_is_still_a_mapped_document(tmp_path):
    """A document with passages but no match is mapped (all missing), so the run succeeds."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "roads.txt").write_text(UNRELATED_TEXT, encoding="utf-8")
    result = invoke("map", corpus, "--out", tmp_path / "out", "--classifier", "lexical", "-q")
    assert result.exit_code == 0, result.output
    assert result.output == ""


# 6. a folder of unsupported files cannot start: exit 2, nothing written

def test_a_folder_of_only_unsupported_files_exits_2_before_writing_anything(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.rtf").write_text("{\\rtf1 notes}", encoding="utf-8")
    (corpus / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "out"
    result = invoke("map", corpus, "--out", out, "--classifier", "lexical", "-q")
    assert result.exit_code == 2, result.output
    assert "no supported files" in result.stderr
    assert "2 files" in result.stderr and ".png" in result.stderr and ".rtf" in result.stderr
    assert ".pdf" in result.stderr  # says what it can read
    assert not out.exists()


# 7-9. what reaches the terminal: control and bidi characters escaped, names whole when piped

CLEAR_SCREEN_NAME = "plan\x1b[2J.txt"
TITLE_NAME = "notes\x1b]0;title\x07.txt"
REVERSED_NAME = "report\u202egnp.exe.txt"


def terminal_corpus(folder):
    folder.mkdir()
    (folder / CLEAR_SCREEN_NAME).write_text(PROMISE_TEXT, encoding="utf-8")
    (folder / REVERSED_NAME).write_text(PROMISE_TEXT, encoding="utf-8")
    (folder / TITLE_NAME).write_bytes(b"")  # skipped: its name is printed with the reason
    return folder


def test_terminal_output_shows_control_and_bidi_characters_escaped(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    corpus = terminal_corpus(tmp_path / "corpus")
    result = invoke("map", corpus, "--out", tmp_path / "out", "--classifier", "lexical")
    assert result.exit_code == 0, result.output
    printed = result.stderr
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert "plan\\x1b[2J.txt" in printed
    assert "skipped notes\\x1b]0;title\\x07.txt (extract)" in printed
    assert "report\\u202egnp.exe.txt" in printed


def test_errors_show_control_characters_escaped(tmp_path):
    result = invoke("map", tmp_path / "gone\x1b[2J\u202e", "-q")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert "gone\\x1b[2J\\u202e" in result.stderr


def test_summary_escapes_control_characters_in_reasons(tmp_path, reference_set):
    from rich.console import Console

    from pipeline.cli import print_summary, summary_table
    from pipeline.types import Skipped
    from tests.conftest import run_store

    console = Console(file=__import__("io").StringIO(), width=200, emoji=False)
    store = run_store(tmp_path / "run.sqlite", [], skipped=[
        Skipped(file="a\rb.pdf", stage="extract", reason="bad \x1b[31mred\x1b[0m\x9b")])
    print_summary(console, summary_table(store, reference_set), store.problems())
    printed = console.file.getvalue()
    assert "\x1b" not in printed and "\r" not in printed and "\x9b" not in printed
    assert "skipped a\\rb.pdf (extract): bad \\x1b[31mred\\x1b[0m\\x9b" in printed


def test_summary_keeps_document_names_whole_when_piped(tmp_path, monkeypatch):
    """Regression: piped to a log, the table cut names to "000_c62ad4983681…" at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = ["000_c62ad4983681b1c2.txt", "a very long policy document name, 2024 edition, final draft v7.txt"]
    for name in names:
        (corpus / name).write_text(PROMISE_TEXT, encoding="utf-8")
    result = invoke("map", corpus, "--out", tmp_path / "out", "--classifier", "lexical")
    assert result.exit_code == 0, result.output
    assert "…" not in result.stderr
    lines = result.stderr.splitlines()
    for name in names:
        assert any(name in line for line in lines), (name, result.stderr)


def test_run_json_records_where_the_files_are_a_link_out_of_the_corpus_left_out(tmp_path):
    import json

    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "plan.txt").write_text(PROMISE_TEXT, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text(PROMISE_TEXT, encoding="utf-8")
    (corpus / "linked.txt").symlink_to(elsewhere)
    out = tmp_path / "out"
    result = invoke("map", corpus, "--out", out, "--classifier", "lexical", "-q")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["corpus_folder"] == str(corpus)
    assert {entry["file"]: entry["path"] for entry in record["inputs"]} == {"plan.txt": "sub/plan.txt"}
    assert [entry["file"] for entry in record["skipped"] if entry["stage"] == "list"] == ["linked.txt"]
