"""Stage 5, report: Coverage -> gap tables (CSV, XLSX, Markdown), the HTML report, figures and the run's records.

Every run writes what a reviewer needs without the person who ran it: the
gap table for Excel (one sheet per view), a self-contained HTML report
(`report_html.py`), figures (`plots.py`), and the raw tables and run record
behind them.

Document text is untrusted: any cell that a spreadsheet could read as a
formula is neutralised, HTML is autoescaped, and every file is written to a
temporary name and renamed, so a crash never leaves a half-written table behind.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import zipfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from pipeline.compare import COMPARE_COLUMNS, Comparison, comparison_file_stem, comparison_rows
from pipeline.display import shortened
from pipeline.files import write_atomic
from pipeline.palette import STATUS_COLOURS
from pipeline.plots import run_figures
from pipeline.report_html import render_comparison, render_report
from pipeline.run.store import RunStore
from pipeline.types import Coverage, Evidence, Match, Passage, ReferenceSet, Skipped, Status

GAP_TABLE_COLUMNS = ("document", "doc_id", "framework", "group", "item_id", "title", "item_text", "status", "score",
                     "threshold", "margin", "signal", "evidence", "page", "heading", "evidence_pages",
                     "near_miss_score", "near_miss_page", "near_miss")
MATCH_COLUMNS = ("doc", "passage_id", "page", "item_id", "signal", "score", "matched")
ERROR_COLUMNS = ("file", "stage", "reason")
#: Leading characters that make Excel or LibreOffice treat a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Line breaks inside a cell. A reader that splits a CSV at them (or a cell pasted line by line) starts a new
#: cell there, so the formula guard applies after each of them too.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: What may start a formula on a line after the first (a line break there is just an empty line).
LINE_FORMULA_AHEAD = "(?=[" + re.escape("".join(t for t in FORMULA_TRIGGERS if t not in "\r\n")) + "])"
#: A line break followed by the start of a formula: the guard goes between them.
FORMULA_AFTER_LINE_BREAK = re.compile(f"({LINE_BREAK.pattern}){LINE_FORMULA_AHEAD}")
#: The guard put there, as `compare` finds it when it reads a table back.
GUARD_AFTER_LINE_BREAK = re.compile(f"({LINE_BREAK.pattern})'{LINE_FORMULA_AHEAD}")
#: Colour-blind-safe fills (Okabe-Ito, shared with the HTML report and plots) for status cells.
STATUS_FILLS = {status.value: colour.lstrip("#").upper() for status, colour in STATUS_COLOURS.items()}
OVERVIEW_COUNT_COLUMNS = ("document", "covered", "partial", "missing")
ITEM_SUMMARY_COLUMNS = ("item_id", "framework", "group", "title", "item_text", "covered_in", "partial_in", "missing_in",
                        "covered_documents", "partial_documents")
EVIDENCE_COLUMNS = ("document", "item_id", "framework", "group", "title", "status", "rank", "signal", "score", "page",
                    "heading", "matched", "passage_id", "text")
#: Columns whose cells hold a status and are filled with its colour.
STATUS_COLUMNS = frozenset({"status", "status_a", "status_b"})
MARKDOWN_EVIDENCE_CHARS = 200


def neutralise_cell(value: object) -> object:
    r"""Prefix a formula-like string, and every formula-like line inside it, with an apostrophe.

    A spreadsheet then shows the cell as text. The lines matter too: "abc\r=HYPERLINK(...)" is one cell
    of a well-quoted CSV, but a reader that splits rows at the carriage return, or a person pasting the
    cell, gets a cell starting "=". Example: "a\r=cmd.txt" -> "a\r'=cmd.txt".
    """
    if not isinstance(value, str):
        return value
    value = FORMULA_AFTER_LINE_BREAK.sub(r"\1'", value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def one_line(text: str) -> str:
    return " ".join(text.split())


def threshold_cells(coverage: Coverage) -> dict:
    """The item's threshold, how far the score is above (+) or below (-) it, and a missing item's closest call."""
    near = coverage.near_miss
    return {"threshold": "" if coverage.threshold is None else f"{coverage.threshold:.3f}",
            # a number, not text: a cell of text starting "-" gets the formula guard, a number needs none
            "margin": "" if coverage.threshold is None else round(coverage.score - coverage.threshold, 3),
            "near_miss_score": f"{near.score:.3f}" if near else "", "near_miss_page": near.page if near else "",
            "near_miss": one_line(near.text) if near else ""}


def gap_table_rows(coverages: list[Coverage], names: dict[str, str]) -> list[dict]:
    """One row per document x item: the verdict and its best evidence; `names` gives each document id's name."""
    rows = []
    for coverage in coverages:
        best = coverage.evidence[0] if coverage.evidence else None
        rows.append({
            "document": names[coverage.doc],
            "doc_id": coverage.doc,
            "framework": coverage.item.framework,
            "group": coverage.item.group,
            "item_id": coverage.item.id,
            "title": coverage.item.title,
            "item_text": coverage.item.text,
            "status": coverage.status.value,
            "score": f"{coverage.score:.3f}",
            "signal": best.signal.value if best else "",
            "evidence": one_line(best.text) if best else "",
            "page": best.page if best else "",
            "heading": best.heading if best else "",
            "evidence_pages": ";".join(str(page) for page in sorted({e.page for e in coverage.evidence})),
            **threshold_cells(coverage),
        })
    return rows




class CsvTable:
    r"""A CSV table written row by row to `stream`, every cell inert, every cell with a line break in it quoted.

    csv's QUOTE_MINIMAL quotes a field holding "\n" (our line ending) but not one holding a lone "\r",
    which Excel, LibreOffice and csv readers take as the end of the row: a file named "a\r=cmd.txt" split
    every row it appeared in. A row with such a field is written with every field quoted.
    """

    def __init__(self, stream: TextIO, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
        self.quoting_writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.writer.writeheader()

    def write(self, rows: Iterable[dict]) -> None:
        for row in rows:
            cells = {column: neutralise_cell(row.get(column, "")) for column in self.columns}
            has_carriage_return = any(isinstance(cell, str) and "\r" in cell for cell in cells.values())
            (self.quoting_writer if has_carriage_return else self.writer).writerow(cells)


def csv_bytes(columns: tuple[str, ...], rows: Iterable[dict]) -> bytes:
    """A whole CSV table as bytes (see CsvTable): for the small tables."""
    buffer = io.StringIO()
    CsvTable(buffer, columns).write(rows)
    return buffer.getvalue().encode("utf-8")


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def json_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def passage_record(passage: Passage) -> dict:
    return {"id": passage.id, "doc": passage.doc, "page": passage.page, "heading": passage.heading,
            "start": passage.start, "end": passage.end, "text": passage.text, "lead_in": passage.lead_in}


def match_row(match: Match, doc_id: str, page: int) -> dict:
    return {"doc": doc_id, "passage_id": match.passage_id, "page": page, "item_id": match.item_id,
            "signal": match.signal.value, "score": f"{match.score:.4f}", "matched": match.matched}


def evidence_record(evidence: Evidence) -> dict:
    """One evidence passage in coverage.jsonl: where it is, its score, and the character spans that drove it."""
    return {"passage_id": evidence.passage_id, "page": evidence.page, "heading": evidence.heading,
            "score": evidence.score, "signal": evidence.signal.value, "matched": evidence.matched,
            "spans": [list(span) for span in evidence.spans], "text": evidence.text}


def coverage_record(coverage: Coverage, name: str) -> dict:
    """One verdict of coverage.jsonl, typed and unguarded (numbers are numbers; no formula guard: not a sheet)."""
    return {"doc_id": coverage.doc, "document": name, "framework": coverage.item.framework,
            "group": coverage.item.group, "item_id": coverage.item.id, "title": coverage.item.title,
            "item_text": coverage.item.text, "status": coverage.status.value, "score": coverage.score,
            "threshold": coverage.threshold, "partial_threshold": coverage.partial_threshold,
            "evidence": [evidence_record(evidence) for evidence in coverage.evidence],
            "near_miss": evidence_record(coverage.near_miss) if coverage.near_miss is not None else None}


def error_rows(skipped: list[Skipped]) -> list[dict]:
    return [{"file": s.file, "stage": s.stage, "reason": s.reason} for s in skipped]


def evidence_rows(coverages: list[Coverage], names: dict[str, str]) -> list[dict]:
    """One row per evidence passage of every covered or partial verdict, best first."""
    return [{"document": names[coverage.doc], "item_id": coverage.item.id, "framework": coverage.item.framework,
             "group": coverage.item.group, "title": coverage.item.title, "status": coverage.status.value,
             "rank": rank, "signal": evidence.signal.value, "score": round(evidence.score, 4), "page": evidence.page,
             "heading": evidence.heading, "matched": evidence.matched, "passage_id": evidence.passage_id,
             "text": one_line(evidence.text)}
            for coverage in coverages for rank, evidence in enumerate(coverage.evidence, start=1)]


def overview_matrix(rows: list[dict]) -> tuple[tuple[str, ...], list[dict]]:
    """Documents x items with the status as text, plus each document's counts: (columns, rows)."""
    item_ids = tuple(dict.fromkeys(row["item_id"] for row in rows))
    matrix: dict[str, dict] = {}
    for row in rows:
        entry = matrix.setdefault(row["document"], {"document": row["document"], **{s.value: 0 for s in Status}})
        entry[row["item_id"]] = row["status"]
        entry[row["status"]] += 1
    return OVERVIEW_COUNT_COLUMNS + item_ids, list(matrix.values())


def item_summary_rows(rows: list[dict]) -> list[dict]:
    """Per item, how many documents cover it, partially cover it or miss it: the "never covered" view."""
    summary: dict[str, dict] = {}
    for row in rows:
        entry = summary.setdefault(row["item_id"], {
            "item_id": row["item_id"], "framework": row["framework"], "group": row["group"], "title": row["title"],
            "item_text": row.get("item_text", ""), "covered_in": 0, "partial_in": 0, "missing_in": 0,
            "covered": [], "partial": []})
        entry[f"{row['status']}_in"] += 1
        if row["status"] in (Status.COVERED.value, Status.PARTIAL.value):
            entry[row["status"]].append(row["document"])
    return [{**entry, "covered_documents": "; ".join(entry.pop("covered")),
             "partial_documents": "; ".join(entry.pop("partial"))} for entry in summary.values()]


def gap_table_workbook(rows: list[dict], errors: list[dict], evidence: list[dict] = ()) -> bytes:
    """The gap table for Excel, a sheet per view: overview matrix, gap_table, items, evidence, errors.

    Every sheet has its header frozen, filters on, status cells coloured and
    long text wrapped; the workbook opens on the overview.
    """
    workbook = Workbook()
    overview = workbook.active
    overview.title = "overview"
    overview_columns, overview_rows = overview_matrix(rows)
    fill_sheet(overview, overview_columns, overview_rows,
               status_columns=frozenset(overview_columns[len(OVERVIEW_COUNT_COLUMNS):]))
    for cell in overview[1][len(OVERVIEW_COUNT_COLUMNS):]:
        cell.alignment = Alignment(text_rotation=90, horizontal="center")
    overview.row_dimensions[1].height = OVERVIEW_HEADER_HEIGHT
    overview.freeze_panes = overview.cell(row=2, column=len(OVERVIEW_COUNT_COLUMNS) + 1).coordinate
    fill_sheet(workbook.create_sheet("gap_table"), GAP_TABLE_COLUMNS, rows)
    fill_sheet(workbook.create_sheet("items"), ITEM_SUMMARY_COLUMNS, item_summary_rows(rows))
    fill_sheet(workbook.create_sheet("evidence"), EVIDENCE_COLUMNS, list(evidence))
    fill_sheet(workbook.create_sheet("errors"), ERROR_COLUMNS, errors)
    workbook.active = 0
    for sheet in workbook.worksheets:
        sheet.sheet_view.tabSelected = sheet is overview  # one selected tab: edits never go to a group of sheets
    buffer = io.BytesIO()
    workbook.save(buffer)
    return without_save_time(buffer.getvalue())


#: The time a workbook says it was made and saved. openpyxl stamps the moment of saving into the file's
#: properties and zip entries, so two runs on the same input would differ; the run's time is in run.json.
WORKBOOK_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
CORE_PROPERTY_TIME = re.compile(rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*")


def without_save_time(xlsx: bytes) -> bytes:
    """The same workbook with every timestamp set to `WORKBOOK_TIMESTAMP`, so a re-run gives identical bytes."""
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*WORKBOOK_TIMESTAMP).encode()
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "docProps/core.xml":
                content = CORE_PROPERTY_TIME.sub(lambda match: match.group(1) + stamp, content)
            entry = zipfile.ZipInfo(info.filename, date_time=WORKBOOK_TIMESTAMP)
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            target.writestr(entry, content)
    return output.getvalue()


COLUMN_WIDTHS = {"evidence": 80, "reason": 80, "title": 30, "item_text": 60, "heading": 30, "document": 28, "text": 90,
                 "evidence_a": 60, "evidence_b": 60, "matched": 30, "covered_documents": 40, "partial_documents": 40}
#: Width of a column not listed above: fitted to its longest value, within these bounds.
MIN_COLUMN_WIDTH = 8
MAX_FITTED_COLUMN_WIDTH = 24
#: Width of a column whose cells are statuses ("covered", "partial", "missing").
STATUS_COLUMN_WIDTH = 10
#: Height (points) of the overview's header row, where item ids are written vertically.
OVERVIEW_HEADER_HEIGHT = 90


#: Columns that hold numbers. A sheet stores them as numbers, whatever the row holds (the CSV's score is the
#: text "0.610"), so that Excel sorts, filters and sums them instead of flagging "number stored as text".
NUMBER_COLUMNS = frozenset({"score", "score_a", "score_b", "page", "page_a", "page_b", "rank", "pages",
                            "covered", "partial", "missing", "covered_in", "partial_in", "missing_in"})
#: Number columns shown with three decimals, as the CSV and the HTML report show them.
SCORE_COLUMNS = frozenset({"score", "score_a", "score_b"})
SCORE_NUMBER_FORMAT = "0.000"


def sheet_number(value: object) -> object:
    """A number column's value as a cell stores it: "0.610" -> 0.61, "4" -> 4, "" -> an empty cell.

    Anything else (not a number after all) is left as it is, to be written as inert text.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    if not value.strip():
        return None
    for number_type in (int, float):
        try:
            return number_type(value)
        except ValueError:
            continue
    return value


def sheet_value(value: object, column: str = "") -> object:
    """A value as a worksheet cell holds it: numbers as numbers, XML-illegal characters removed, text inert."""
    if column in NUMBER_COLUMNS:
        value = sheet_number(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return neutralise_cell(value)


def fitted_width(column: str, rows: list[dict]) -> float:
    longest = max((len(str(row.get(column, ""))) for row in rows), default=0)
    return max(MIN_COLUMN_WIDTH, min(max(longest, len(column)) + 2, MAX_FITTED_COLUMN_WIDTH))


def fill_sheet(sheet, columns: tuple[str, ...], rows: list[dict], *,
               status_columns: frozenset[str] = STATUS_COLUMNS) -> None:
    """Header in bold and frozen, filters on, status cells coloured, long text wrapped, every text cell inert."""
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([sheet_value(row.get(column, ""), column) for column in columns])
    for data_row in sheet.iter_rows(min_row=2):
        for cell in data_row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    fills = {status: PatternFill(fill_type="solid", start_color=colour, end_color=colour)
             for status, colour in STATUS_FILLS.items()}
    for index, column in enumerate(columns, start=1):
        is_status = column in status_columns
        width = STATUS_COLUMN_WIDTH if is_status else COLUMN_WIDTHS.get(column) or fitted_width(column, rows)
        sheet.column_dimensions[get_column_letter(index)].width = width
        is_score = column in SCORE_COLUMNS
        if not (is_status or is_score or width >= 30):
            continue
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if is_score:
                cell.number_format = SCORE_NUMBER_FORMAT
            elif is_status and cell.value in fills:
                cell.fill = fills[cell.value]
            elif width >= 30:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions  # on the header alone too, so an empty sheet looks like the others


#: What each character that could end a table row or heading, split a cell, or start HTML, a link or an image
#: becomes in gap_table.md. HTML entities, not backslashes, for `& < > [ ]`: CommonMark never reads an entity
#: as structure, so `[x](javascript:...)` and `<script>` stay text and show as written.
MARKDOWN_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "\n": " ", "\r": " ", "&": "&amp;", "<": "&lt;",
                                  ">": "&gt;", "[": "&#91;", "]": "&#93;"})


def markdown_cell(text: object) -> str:
    """`text` as one inert line of a Markdown table cell or heading: document text is untrusted."""
    return str(text).translate(MARKDOWN_ESCAPES)


def markdown_document(name: str, doc_rows: list[dict]) -> list[str]:
    """One document's section of gap_table.md: its counts and a table of every item.

    A table cell shows the item's text in short (`shortened`): titles alone do not tell items apart
    (VOICE-1 and VOICE-2 are both "DECISION MAKING"), and the whole text of some items is a paragraph.
    """
    counts = {status.value: sum(row["status"] == status.value for row in doc_rows) for status in Status}
    lines = [f"## {markdown_cell(name)}", "",
             f"covered {counts['covered']}, partial {counts['partial']}, missing {counts['missing']} "
             f"of {len(doc_rows)} items", "",
             "| item | title | item text | status | score | page | evidence |", "|---|---|---|---|---|---|---|"]
    for row in doc_rows:
        evidence = row["evidence"]
        if len(evidence) > MARKDOWN_EVIDENCE_CHARS:
            evidence = evidence[:MARKDOWN_EVIDENCE_CHARS].rstrip() + "…"
        lines.append("| " + " | ".join(markdown_cell(value) for value in (
            row["item_id"], row["title"], shortened(row.get("item_text", "")), row["status"], row["score"],
            row["page"], evidence)) + " |")
    return lines + [""]


def gap_table_markdown(rows: list[dict]) -> str:
    """One Markdown table per document, for reading in a browser or a repository, then every item's full text."""
    lines = ["# Gap table", ""]
    for document in dict.fromkeys(row["document"] for row in rows):
        lines += markdown_document(document, [row for row in rows if row["document"] == document])
    return "\n".join(lines + markdown_items(rows))


def markdown_items(rows: list[dict]) -> list[str]:
    """The "Items" section of gap_table.md: each item's id, title and whole text, once."""
    items = {row["item_id"]: row for row in rows}
    if not items:
        return []
    lines = ["## Items", "", "| item | title | text |", "|---|---|---|"]
    lines += ["| " + " | ".join(markdown_cell(row.get(key, "")) for key in ("item_id", "title", "item_text")) + " |"
              for row in items.values()]
    return lines + [""]


#: The per-document files of a run, streamed from the store one document at a time.
STREAMED_FILES = ("gap_table.csv", "gap_table.md", "coverage.jsonl", "matches.csv", "passages.jsonl")


def write_document_tables(out: Path, store: RunStore, reference: ReferenceSet) -> None:
    """gap_table.csv/.md, coverage.jsonl, matches.csv and passages.jsonl, one document at a time from the store.

    Only one document's passages, matches and verdicts are in memory at once, whatever the corpus size.
    `out` is the run's staging folder (pipeline/run/output.py), so the files need no atomic write of their own.
    """
    with ExitStack() as files:
        opened = {name: files.enter_context((out / name).open("w", encoding="utf-8", newline=""))
                  for name in STREAMED_FILES}
        gap_table = CsvTable(opened["gap_table.csv"], GAP_TABLE_COLUMNS)
        matches = CsvTable(opened["matches.csv"], MATCH_COLUMNS)
        opened["gap_table.md"].write("# Gap table\n\n")
        for info in store.documents():
            coverages = store.coverages(info.id, reference)
            rows = gap_table_rows(coverages, {info.id: info.name})
            gap_table.write(rows)
            opened["gap_table.md"].write("\n".join(markdown_document(info.name, rows)) + "\n")
            opened["coverage.jsonl"].writelines(json_line(coverage_record(c, info.name)) for c in coverages)
            matches.write(match_row(match, info.id, page) for match, page in store.matches(info.id))
            opened["passages.jsonl"].writelines(json_line(passage_record(p)) for p in store.passages(info.id))
        opened["gap_table.md"].write("\n".join(markdown_items(item_rows(reference))))


def item_rows(reference: ReferenceSet) -> list[dict]:
    return [{"item_id": item.id, "title": item.title, "item_text": item.text} for item in reference.items]


def write_reports(out: Path, *, store: RunStore, reference: ReferenceSet, run_record: dict) -> list[Path]:
    """Write every output file of a run into `out` (the run's staging folder) from its store; returns the paths."""
    write_document_tables(out, store, reference)
    skipped = store.problems()
    errors = error_rows(skipped)
    names = {info.id: info.name for info in store.documents()}
    coverages = [coverage for doc_id in names for coverage in store.coverages(doc_id, reference)]
    rows = gap_table_rows(coverages, names)
    named = [dataclasses.replace(coverage, doc=names[coverage.doc]) for coverage in coverages]
    written = {
        "gap_table.xlsx": gap_table_workbook(rows, errors, evidence_rows(coverages, names)),
        "errors.csv": csv_bytes(ERROR_COLUMNS, errors),
        "report.html": render_report(coverages=named, skipped=skipped, run_record=run_record,
                                     report_dir=out).encode("utf-8"),
        **run_figures(named),
    }
    for name, data in written.items():
        write_atomic(out / name, data)
    write_json(out / "run.json", run_record)
    return [out / name for name in (*STREAMED_FILES, *written, "run.json")]


def write_comparison(out: Path, comparison: Comparison, *, run_record: dict) -> list[Path]:
    """Write a comparison of two documents as a table (CSV) and an HTML page beside the run's other files."""
    stem = comparison_file_stem(comparison)
    written = {
        f"{stem}.csv": csv_bytes(COMPARE_COLUMNS, comparison_rows(comparison)),
        f"{stem}.html": render_comparison(comparison, run_record=run_record).encode("utf-8"),
    }
    for name, data in written.items():
        write_atomic(out / name, data)
    return [out / name for name in written]
