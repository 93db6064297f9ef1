"""gap_table.xlsx read back with openpyxl: a sheet per view, header frozen, filters on, status coloured, inert text."""

from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pipeline.report import GAP_TABLE_COLUMNS, write_reports
from pipeline.report_xlsx import (
    CELL_CHARS,
    STATUS_FILLS,
    WORKBOOK_OPTIONS,
    WORKBOOK_TIMESTAMP,
    names_cell,
    write_workbook,
)
from pipeline.types import Coverage, Evidence, Signal, Skipped, Status
from tests.report_store import make_store

SHEETS = ["overview", "gap_table", "items", "evidence", "errors"]


def evidence(text, page):
    return Evidence(passage_id=f"plan.txt#{page:04d}", page=page, heading="Plan › Siblings", text=text, score=0.61,
                    signal=Signal.TFIDF, matched="siblings")


def coverages(reference_set):
    """plan.txt: CARE-3 covered by two passages (one formula-like, one with a control character), CARE-4 partial."""
    result = []
    for document in ("plan.txt", "roads.txt"):
        for item in reference_set.items:
            if document == "plan.txt" and item.id == "CARE-3":
                result.append(Coverage(doc=document, item=item, status=Status.COVERED, score=0.61, evidence=(
                    evidence("=1+1 siblings stay together", 2), evidence("Siblings\x07 matter\x00.", 5))))
            elif document == "plan.txt" and item.id == "CARE-4":
                result.append(Coverage(doc=document, item=item, status=Status.PARTIAL, score=0.3,
                                       evidence=(evidence("Family time.", 7),)))
            else:
                result.append(Coverage(doc=document, item=item, status=Status.MISSING, score=0.0))
    return result


@pytest.fixture(scope="module")
def workbook(reference_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("workbook")
    store = make_store(out / "run.sqlite", coverages(reference_set),
                       [Skipped(file="@bad.pdf", stage="extract", reason="-damaged")])
    write_reports(out, store=store, reference=reference_set, run_record={})
    store.close()
    return load_workbook(out / "gap_table.xlsx")


def header(sheet):
    return [cell.value for cell in sheet[1]]


def column(sheet, name):
    return [row[0] for row in sheet.iter_rows(min_row=2, min_col=header(sheet).index(name) + 1,
                                              max_col=header(sheet).index(name) + 1)]


def fill_of(cell):
    return cell.fill.start_color.rgb[-6:] if cell.fill.fill_type == "solid" else None


def test_a_sheet_per_view_opening_on_the_overview(workbook):
    assert workbook.sheetnames == SHEETS
    assert workbook.active.title == "overview"
    assert [sheet.title for sheet in workbook.worksheets if sheet.sheet_view.tabSelected] == ["overview"]


@pytest.mark.parametrize("name", SHEETS)
def test_every_sheet_has_a_frozen_bold_header_and_filters(workbook, name):
    sheet = workbook[name]
    assert sheet.freeze_panes == ("E2" if name == "overview" else "A2")
    assert sheet.auto_filter.ref == sheet.dimensions
    assert all(cell.font.bold for cell in sheet[1])


def test_overview_is_documents_by_items_with_status_text_and_colour(workbook, reference_set):
    sheet = workbook["overview"]
    assert header(sheet) == ["document", "covered", "partial", "missing", *(item.id for item in reference_set.items)]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert list(rows) == ["plan.txt", "roads.txt"]
    plan = {name: cell for name, cell in zip(header(sheet), rows["plan.txt"], strict=True)}
    assert (plan["covered"].value, plan["partial"].value, plan["missing"].value) == (1, 1, 66)
    for item_id, status in (("CARE-3", "covered"), ("CARE-4", "partial"), ("CARE-5", "missing")):
        assert plan[item_id].value == status and fill_of(plan[item_id]) == STATUS_FILLS[status]
    assert sheet.cell(row=1, column=5).alignment.text_rotation == 90
    assert sheet.column_dimensions["A"].width >= 20 and sheet.column_dimensions["E"].width >= 8


def test_gap_table_sheet_keeps_its_columns_and_colours_statuses(workbook, reference_set):
    sheet = workbook["gap_table"]
    assert header(sheet) == list(GAP_TABLE_COLUMNS)
    assert sheet.max_row == 1 + 2 * len(reference_set.items)
    statuses = column(sheet, "status")
    assert all(fill_of(cell) == STATUS_FILLS[cell.value] for cell in statuses)
    evidence = column(sheet, "evidence")
    assert any(cell.value for cell in evidence)
    assert all(cell.alignment.wrap_text for cell in evidence if cell.value)
    # the column's own format wraps, so an empty cell (and what a reviewer types there) wraps too
    letter = get_column_letter(header(sheet).index("evidence") + 1)
    assert sheet.column_dimensions[letter].alignment.wrap_text


def test_items_sheet_counts_documents_per_item(workbook, reference_set):
    sheet = workbook["items"]
    rows = {row[0].value: dict(zip(header(sheet), (c.value for c in row), strict=True))
            for row in sheet.iter_rows(min_row=2)}
    assert list(rows) == [item.id for item in reference_set.items]
    assert (rows["CARE-3"]["covered_in"], rows["CARE-3"]["missing_in"], rows["CARE-3"]["covered_documents"]) == (
        1, 1, "plan.txt")
    assert rows["CARE-4"]["partial_documents"] == "plan.txt" and rows["CARE-5"]["missing_in"] == 2


def test_evidence_sheet_has_every_passage_wrapped_and_inert(workbook):
    sheet = workbook["evidence"]
    rows = [dict(zip(header(sheet), (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert [(r["item_id"], r["rank"], r["page"]) for r in rows] == [("CARE-3", 1, 2), ("CARE-3", 2, 5),
                                                                   ("CARE-4", 1, 7)]
    assert rows[0]["text"] == "'=1+1 siblings stay together"
    assert rows[1]["text"] == "Siblings matter."  # characters a workbook cannot hold are dropped, not fatal
    text_cells = column(sheet, "text")
    assert all(cell.alignment.wrap_text and cell.data_type == "s" for cell in text_cells)
    from openpyxl.utils import get_column_letter

    assert sheet.column_dimensions[get_column_letter(header(sheet).index("text") + 1)].width >= 60
    assert [fill_of(cell) for cell in column(sheet, "status")] == [STATUS_FILLS["covered"]] * 2 + [
        STATUS_FILLS["partial"]]


def test_errors_sheet_neutralises_file_names_and_reasons(workbook):
    sheet = workbook["errors"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)] == [["'@bad.pdf", "extract",
                                                                                      "'-damaged"]]


def test_workbook_bytes_do_not_depend_on_when_it_was_saved(reference_set, tmp_path):
    """A writer stamps the saving time into the file; a re-run on the same input must give the same bytes."""
    import datetime
    import time
    import zipfile

    store = make_store(tmp_path / "run.sqlite", coverages(reference_set))
    write_workbook(tmp_path / "first.xlsx", store, reference_set)
    time.sleep(1.1)
    write_workbook(tmp_path / "second.xlsx", store, reference_set)
    store.close()
    first = (tmp_path / "first.xlsx").read_bytes()
    assert (tmp_path / "second.xlsx").read_bytes() == first
    with zipfile.ZipFile(tmp_path / "first.xlsx") as archive:
        assert {info.date_time for info in archive.infolist()} == {WORKBOOK_TIMESTAMP}
    properties = load_workbook(tmp_path / "first.xlsx").properties
    assert properties.created == properties.modified == datetime.datetime(*WORKBOOK_TIMESTAMP)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first.xlsx", "run.sqlite", "second.xlsx"]


def test_the_workbook_streams_rows_and_never_reads_text_as_a_formula():
    assert WORKBOOK_OPTIONS["constant_memory"] is True
    assert not any(WORKBOOK_OPTIONS[key] for key in ("strings_to_formulas", "strings_to_numbers", "strings_to_urls"))


def test_a_long_list_of_document_names_is_cut_to_what_a_cell_holds():
    names = [f"document-{n:05d}-with-a-long-name.pdf" for n in range(2000)]
    cell = names_cell(names)
    assert len(cell) <= CELL_CHARS and cell.startswith("document-00000") and cell.endswith("(see the gap_table sheet)")
    assert names_cell(names[:3]) == "; ".join(names[:3])


def test_numbers_are_stored_as_numbers_with_three_decimals_for_scores(workbook):
    """Regression: the gap_table sheet stored score as text ("0.610"), which Excel neither sorts nor sums."""
    gap = workbook["gap_table"]
    rows = {(row["document"].value, row["item_id"].value): row for row in
            (dict(zip(header(gap), row, strict=True)) for row in gap.iter_rows(min_row=2))}
    score, page = rows[("plan.txt", "CARE-3")]["score"], rows[("plan.txt", "CARE-3")]["page"]
    assert score.value == pytest.approx(0.61) and score.data_type == "n" and score.number_format == "0.000"
    assert page.value == 2 and page.data_type == "n"
    missing = rows[("plan.txt", "CARE-5")]
    assert missing["score"].value == 0 and missing["score"].data_type == "n" and missing["page"].value is None
    evidence_sheet = workbook["evidence"]
    for name, number_format in (("score", "0.000"), ("page", "General"), ("rank", "General")):
        cells = column(evidence_sheet, name)
        assert all(cell.data_type == "n" and cell.number_format == number_format for cell in cells), name
    items = workbook["items"]
    assert all(cell.data_type == "n" for name in ("covered_in", "partial_in", "missing_in")
               for cell in column(items, name))


def test_gap_table_and_items_sheets_carry_the_item_text(workbook, reference_set):
    for name in ("gap_table", "items"):
        sheet = workbook[name]
        names = header(sheet)
        assert names[names.index("title") + 1] == "item_text", name
        texts = {row[names.index("item_id")].value: row[names.index("item_text")].value
                 for row in sheet.iter_rows(min_row=2)}
        assert texts["VOICE-1"] == reference_set.item("VOICE-1").text
        assert texts["VOICE-2"] == reference_set.item("VOICE-2").text
        assert column(sheet, "item_text")[0].alignment.wrap_text


def test_a_workbook_written_by_a_second_process_is_the_one_written_in_turn(tmp_path, reference_set, monkeypatch):
    """A large run writes gap_table.xlsx in a second process while it writes the other files: same bytes."""
    import pipeline.report as report

    store = make_store(tmp_path / "run.sqlite", coverages(reference_set), [Skipped("scan.pdf", "extract", "no text")])
    written = {}
    for name, from_documents in (("in-turn", 10**9), ("background", 0)):
        monkeypatch.setattr(report, "BACKGROUND_WORKBOOK_DOCUMENTS", from_documents)
        out = tmp_path / name
        out.mkdir()
        report.write_store_reports(out, store=store, reference=reference_set, run_record={})
        written[name] = {path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
    store.close()
    assert written["background"] == written["in-turn"]
    assert len(written["background"][Path("gap_table.xlsx")]) > 0
