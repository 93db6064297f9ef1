import csv
import json
import os
import stat

import pytest
from openpyxl import load_workbook

from pipeline.files import write_atomic
from pipeline.report import gap_table_markdown, neutralise_cell, write_reports
from pipeline.types import Coverage, Evidence, Match, Passage, Signal, Skipped, Status

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
    coverages = [Coverage(doc="evil.txt", item=item, status=Status.COVERED, score=0.5, evidence=(evidence,)),
                 Coverage(doc="evil.txt", item=reference_set.item("CARE-4"), status=Status.MISSING, score=0.0)]
    matches = [Match(passage.id, "CARE-3", 0.5, Signal.TFIDF, "=cmd")]
    skipped = [Skipped(file="=bad.pdf", stage="extract", reason="damaged")]
    return write_reports(tmp_path, coverages=coverages, passages=[passage], matches=matches, skipped=skipped,
                         run_record={"ok": True})


def test_every_output_file_is_written_and_nothing_temporary_is_left(tmp_path, reference_set):
    written = make_run(tmp_path, reference_set, "Siblings stay together.")
    assert sorted(p.name for p in written) == sorted(p.name for p in tmp_path.iterdir())
    assert {p.name for p in written} == {"gap_table.csv", "gap_table.xlsx", "gap_table.md", "matches.csv",
                                         "errors.csv", "passages.jsonl", "run.json", "report.html",
                                         "coverage_heatmap.png", "coverage_heatmap.svg", "coverage_by_foundation.png"}
    rows = list(csv.DictReader((tmp_path / "gap_table.csv").open(encoding="utf-8")))
    assert rows[0]["item_id"] == "CARE-3" and rows[0]["page"] == "4" and rows[0]["status"] == "covered"
    assert rows[1]["status"] == "missing" and rows[1]["evidence"] == ""
    [record] = [json.loads(line) for line in (tmp_path / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"doc", "page", "heading", "start", "end", "text"} <= record.keys()


def test_formula_like_text_is_inert_in_csv_and_xlsx(tmp_path, reference_set):
    make_run(tmp_path, reference_set, HOSTILE[0])
    rows = list(csv.DictReader((tmp_path / "gap_table.csv").open(encoding="utf-8")))
    assert rows[0]["evidence"] == "'" + HOSTILE[0]
    errors = list(csv.DictReader((tmp_path / "errors.csv").open(encoding="utf-8")))
    assert errors == [{"file": "'=bad.pdf", "stage": "extract", "reason": "damaged"}]
    workbook = load_workbook(tmp_path / "gap_table.xlsx")
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
