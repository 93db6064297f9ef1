import csv
import io
import json
import os
import re
import stat

import pytest
from openpyxl import load_workbook

from pipeline.files import write_atomic
from pipeline.report import FORMULA_TRIGGERS, csv_bytes, gap_table_markdown, neutralise_cell, write_reports
from pipeline.types import Coverage, Evidence, Match, Passage, Signal, Skipped, Status
from tests.conftest import run_store

HOSTILE = ["=HYPERLINK(\"http://x\",\"click\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR"]


def test_neutralise_cell():
    for value in HOSTILE:
        assert neutralise_cell(value) == "'" + value
    assert neutralise_cell("Plain text") == "Plain text"
    assert neutralise_cell(3) == 3


def make_run(tmp_path, reference_set, evidence_text):
    item = reference_set.item("CARE-3")
    passage = Passage(id="evil.txt#0001", doc="evil.txt", page=4, start=0, end=len(evidence_text), heading="H",
                      text=evidence_text)
    evidence = Evidence(passage_id=passage.id, page=4, heading="H", text=evidence_text, score=0.5,
                        signal=Signal.TFIDF, matched="=cmd")
    near_miss = Evidence(passage_id=passage.id, page=4, heading="H", text="Near, not there.", score=0.2,
                         signal=Signal.TFIDF, matched="")
    coverages = [Coverage(doc="evil.txt", item=item, status=Status.COVERED, score=0.5, evidence=(evidence,),
                          threshold=0.4, partial_threshold=0.25),
                 Coverage(doc="evil.txt", item=reference_set.item("CARE-4"), status=Status.MISSING, score=0.2,
                          threshold=0.4, partial_threshold=0.25, near_miss=near_miss)]
    matches = [Match(passage.id, "CARE-3", 0.5, Signal.TFIDF, "=cmd")]
    skipped = [Skipped(file="=bad.pdf", stage="extract", reason="damaged")]
    store = run_store(tmp_path / "store.sqlite", [{"name": "evil.txt", "coverages": coverages,
                                                   "passages": [passage], "matches": matches}], skipped=skipped)
    out = tmp_path / "out"
    out.mkdir()
    return write_reports(out, store=store, reference=reference_set, run_record={"ok": True})


def test_every_output_file_is_written_and_nothing_temporary_is_left(tmp_path, reference_set):
    written = make_run(tmp_path, reference_set, "Siblings stay together.")
    out = tmp_path / "out"
    assert sorted(p.relative_to(out) for p in written) == sorted(
        p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert {p.name for p in written if p.parent == out} >= {
        "gap_table.csv", "gap_table.xlsx", "gap_table.md", "matches.csv", "errors.csv", "passages.jsonl",
        "coverage.jsonl", "run.json", "report.html", "coverage_by_item.png"}
    assert [p.parent.name for p in written if p.parent != out] == ["report"]  # the document's page
    rows = list(csv.DictReader((out / "gap_table.csv").open(encoding="utf-8")))
    assert rows[0]["item_id"] == "CARE-3" and rows[0]["page"] == "4" and rows[0]["status"] == "covered"
    assert rows[0]["document"] == "evil.txt" and len(rows[0]["doc_id"]) == 64
    assert rows[1]["status"] == "missing" and rows[1]["evidence"] == ""
    assert (rows[0]["threshold"], rows[0]["margin"]) == ("0.400", "0.1") and rows[1]["near_miss"] == "Near, not there."
    [record] = [json.loads(line) for line in (out / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"doc", "page", "heading", "start", "end", "text"} <= record.keys() and record["doc"] == rows[0]["doc_id"]


def test_coverage_jsonl_is_typed_and_unguarded(tmp_path, reference_set):
    """The machine-readable verdicts: numbers as numbers, text as written (no formula guard), spans kept."""
    make_run(tmp_path, reference_set, HOSTILE[0])
    care_3, care_4 = [json.loads(line) for line in
                      (tmp_path / "out" / "coverage.jsonl").read_text(encoding="utf-8").splitlines()]
    assert care_3["document"] == "evil.txt" and len(care_3["doc_id"]) == 64
    assert (care_3["item_id"], care_3["status"], care_3["score"]) == ("CARE-3", "covered", 0.5)
    assert care_3["evidence"][0]["text"] == HOSTILE[0] and care_3["evidence"][0]["page"] == 4
    assert care_4["status"] == "missing" and care_4["evidence"] == []
    assert care_4["near_miss"]["text"] == "Near, not there." and care_4["threshold"] == 0.4


def test_formula_like_text_is_inert_in_csv_and_xlsx(tmp_path, reference_set):
    make_run(tmp_path, reference_set, HOSTILE[0])
    rows = list(csv.DictReader((tmp_path / "out" / "gap_table.csv").open(encoding="utf-8")))
    assert rows[0]["evidence"] == "'" + HOSTILE[0]
    errors = list(csv.DictReader((tmp_path / "out" / "errors.csv").open(encoding="utf-8")))
    assert errors == [{"file": "'=bad.pdf", "stage": "extract", "reason": "damaged"}]
    workbook = load_workbook(tmp_path / "out" / "gap_table.xlsx")
    sheet = workbook["gap_table"]
    header = [cell.value for cell in sheet[1]]
    evidence = sheet.cell(row=2, column=header.index("evidence") + 1)
    assert evidence.data_type == "s" and evidence.value == "'" + HOSTILE[0]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    status = sheet.cell(row=2, column=header.index("status") + 1)
    assert status.value == "covered" and status.fill.start_color.rgb.endswith("009E73")
    for row in workbook["errors"].iter_rows(min_row=2):
        assert all(cell.data_type == "s" for cell in row if cell.value is not None)


def test_markdown_escapes_pipes():
    md = gap_table_markdown([{"document": "a|b", "item_id": "CARE-1", "title": "T", "status": "covered",
                              "score": "1.000", "page": 1, "evidence": "x | y"}])
    assert "x \\| y" in md and "## a\\|b" in md


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_atomic_gives_the_mode_of_any_new_file(tmp_path, umask, mode):
    """Not the temporary file's owner-only mode: colleagues on a shared drive must be able to open reports."""
    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "report.html", b"<p>ok</p>")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == mode


def test_write_atomic_replaces_whole_file(tmp_path):
    target = tmp_path / "out" / "f.txt"
    write_atomic(target, b"first version, longer")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


# A line break inside a cell: quoted in every CSV, and no line of a cell starts a formula

LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def formula_like_lines(value):
    """The lines of a cell (split at any line break) that a spreadsheet, or a CSV split at them, could run.

    A plain number ("-0.4", a margin below the threshold) is read as that number, never as a formula.
    """
    return [line for line in LINE_BREAKS.split(value) if line.startswith(FORMULA_TRIGGERS) and not is_number(line)] \
        if isinstance(value, str) else []


def is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


@pytest.mark.parametrize(("value", "guarded"), [
    ("abc\r=HYPERLINK(1)", "abc\r'=HYPERLINK(1)"),
    ("abc\n+cmd\r\n-2", "abc\n'+cmd\r\n'-2"),
    ("=a\r@b", "'=a\r'@b"),
    ("a\r\r=b", "a\r\r'=b"),
    ("\rCR", "'\rCR"),
    ("plain\rtext", "plain\rtext"),
])
def test_the_formula_guard_applies_after_every_line_break(value, guarded):
    assert neutralise_cell(value) == guarded
    assert formula_like_lines(neutralise_cell(value)) == []


def test_a_field_with_a_lone_carriage_return_is_quoted():
    """csv's QUOTE_MINIMAL quotes "\\n" but not a lone "\\r" when lines end in "\\n": the row would split there."""
    data = csv_bytes(("a", "b"), [{"a": "x\ry", "b": "z"}, {"a": "p\nq", "b": "r"}, {"a": "plain", "b": "1"}])
    assert data.decode() == 'a,b\n"x\ry","z"\n"p\nq",r\nplain,1\n'
    with io.StringIO(data.decode(), newline="") as stream:
        assert list(csv.reader(stream)) == [["a", "b"], ["x\ry", "z"], ["p\nq", "r"], ["plain", "1"]]


CR_NAME = "a\r=cmd.txt"
CR_UNSUPPORTED = "b\r=HYPERLINK(1).odt"


@pytest.fixture(scope="module")
def carriage_return_run(tmp_path_factory):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from tests.test_cli_output import PROMISE_TEXT

    base = tmp_path_factory.mktemp("cr-run")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / CR_NAME).write_text(PROMISE_TEXT, encoding="utf-8")
    (corpus / "plain.txt").write_text(PROMISE_TEXT + "\nA second edition.\n", encoding="utf-8")  # not a duplicate
    (corpus / CR_UNSUPPORTED).write_bytes(b"PK\x03\x04 not supported")
    out = base / "out"
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--classifier", "lexical", "-q"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_a_carriage_return_in_a_file_name_leaves_every_csv_whole_and_inert(carriage_return_run, reference_set):
    out = carriage_return_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    expected_rows = {"gap_table.csv": 2 * len(reference_set.items), "matches.csv": record["counts"]["matches"],
                     "errors.csv": 1}
    assert record["counts"]["matches"] > 0
    for name, count in expected_rows.items():
        with (out / name).open(encoding="utf-8", newline="") as stream:
            rows = list(csv.reader(stream))
        header, body = rows[0], rows[1:]
        assert len(body) == count, name
        assert all(len(row) == len(header) for row in body), name
        for row in rows:
            for cell in row:
                assert formula_like_lines(cell) == [], (name, cell)
    gap = list(csv.DictReader((out / "gap_table.csv").open(encoding="utf-8", newline="")))
    assert {row["document"] for row in gap} == {"a\r'=cmd.txt", "plain.txt"}
    errors = list(csv.DictReader((out / "errors.csv").open(encoding="utf-8", newline="")))
    assert [row["file"] for row in errors] == ["b\r'=HYPERLINK(1).odt"]


@pytest.mark.slow
def test_a_carriage_return_in_a_file_name_leaves_the_workbook_and_markdown_inert(carriage_return_run):
    from openpyxl.utils.escape import unescape

    out = carriage_return_run
    workbook = load_workbook(out / "gap_table.xlsx")
    names = set()
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                # a control character is written as its OOXML escape ("_x000D_"), which Excel and LibreOffice
                # read as the character and openpyxl leaves as it is
                value = unescape(cell.value) if isinstance(cell.value, str) else cell.value
                assert formula_like_lines(value) == [], (sheet.title, cell.coordinate, value)
                if sheet.title == "gap_table" and cell.column == 1 and cell.row > 1:
                    names.add(value)
    assert names == {"a\r'=cmd.txt", "plain.txt"}
    markdown = (out / "gap_table.md").read_text(encoding="utf-8")
    assert "\r" not in markdown
    assert all(not line.startswith(FORMULA_TRIGGERS) for line in markdown.split("\n"))


# The item's wording beside its title: 19 items share 8 titles (VOICE-1 and VOICE-2 are both "DECISION MAKING")

def test_gap_table_csv_carries_the_item_text_after_the_title(tmp_path, reference_set):
    make_run(tmp_path, reference_set, "Siblings stay together.")
    with (tmp_path / "out" / "gap_table.csv").open(encoding="utf-8", newline="") as stream:
        header = next(csv.reader(stream))
    assert header[:13] == ["document", "doc_id", "framework", "group", "item_id", "title", "item_text", "status",
                           "machine_status", "stance", "commitment", "evidence_stances", "score"]
    assert header[13:] == ["threshold", "margin", "signal", "evidence", "page", "heading", "evidence_pages",
                           "near_miss_score", "near_miss_page", "near_miss", "near_miss_reason", "reviewed_status",
                           "review_note", "reviewed_by", "reviewed_at", "review_state"]
    rows = list(csv.DictReader((tmp_path / "out" / "gap_table.csv").open(encoding="utf-8", newline="")))
    assert [row["item_text"] for row in rows] == [reference_set.item("CARE-3").text, reference_set.item("CARE-4").text]


def test_markdown_shows_a_short_item_text_and_lists_every_item_in_full(reference_set):
    rows = [{"document": "plan.txt", "item_id": item.id, "title": item.title, "item_text": item.text,
             "status": "missing", "score": "0.000", "page": "", "evidence": ""}
            for item in (reference_set.item("VOICE-1"), reference_set.item("VOICE-2"), reference_set.item("CARE-22"))]
    markdown = gap_table_markdown(rows)
    table_lines = [line for line in markdown.splitlines() if line.startswith("| VOICE-") or line.startswith("| CARE-")]
    assert markdown.count("| item | title | item text | status |") == 1
    voice_1, voice_2, care_22 = table_lines[:3]
    assert "DECISION MAKING" in voice_1 and "DECISION MAKING" in voice_2
    assert "first and foremost, on what the child needs and wants" in voice_1
    assert "culture change in key institutions" in voice_2
    long_text = reference_set.item("CARE-22").text
    assert long_text not in care_22 and "…" in care_22
    assert long_text in markdown  # in full in the items section


def test_a_near_miss_kept_out_by_a_gate_says_why_in_every_output(tmp_path, reference_set):
    """A missing item whose closest passage scores above the threshold: the gap table, the workbook, the
    verdict file and the document's page say what kept it from being evidence; the store and the result
    cache keep the reason."""
    from bs4 import BeautifulSoup

    from pipeline.run.serialise import coverage_from_record, coverage_record

    reason = "the passages around it are not about children's care"
    text = "Brothers and sisters will live together wherever it is safe."
    passage = Passage(id="book.txt#0001", doc="book.txt", page=12, start=0, end=len(text), heading="", text=text)
    near = Evidence(passage_id=passage.id, page=12, heading="", text=text, score=0.91, signal=Signal.TFIDF,
                    matched="brother sister")
    coverage = Coverage(doc="book.txt", item=reference_set.item("CARE-3"), status=Status.MISSING, score=0.91,
                        threshold=0.44, partial_threshold=0.1, near_miss=near, near_miss_reason=reason)
    assert coverage_from_record(coverage_record(coverage), "book.txt", reference_set) == coverage
    store = run_store(tmp_path / "store.sqlite", [{"name": "book.txt", "coverages": [coverage],
                                                   "passages": [passage]}])
    [info] = store.documents()
    assert store.coverages(info.id, reference_set)[0].near_miss_reason == reason
    out = tmp_path / "out"
    out.mkdir()
    written = write_reports(out, store=store, reference=reference_set, run_record={"ok": True})
    [row] = list(csv.DictReader((out / "gap_table.csv").open(encoding="utf-8")))
    assert (row["status"], row["near_miss_score"], row["near_miss_reason"]) == ("missing", "0.910", reason)
    [record] = [json.loads(line) for line in (out / "coverage.jsonl").read_text(encoding="utf-8").splitlines()]
    assert record["near_miss_reason"] == reason
    sheet = load_workbook(out / "gap_table.xlsx")["gap_table"]
    header = [cell.value for cell in sheet[1]]
    assert sheet.cell(row=2, column=header.index("near_miss_reason") + 1).value == reason
    [page] = [path for path in written if path.parent.name == "report"]
    near_miss = BeautifulSoup(page.read_text(encoding="utf-8"), "html5lib").select_one("details.near-miss").get_text()
    assert f"not evidence: {reason}." in near_miss and "below the partial threshold" not in near_miss
