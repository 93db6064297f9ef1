"""Stage 5, report: Coverage -> gap tables (CSV, XLSX, Markdown) and the run's records, written atomically.

Document text is untrusted: any cell that a spreadsheet could read as a
formula is neutralised, and every file is written to a temporary name and
renamed, so a crash never leaves a half-written table behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from pipeline.types import Coverage, Match, Passage, Skipped, Status

GAP_TABLE_COLUMNS = ("document", "framework", "group", "item_id", "title", "status", "score", "signal",
                     "evidence", "page", "heading", "evidence_pages")
MATCH_COLUMNS = ("doc", "passage_id", "page", "item_id", "signal", "score", "matched")
ERROR_COLUMNS = ("file", "stage", "reason")
#: Leading characters that make Excel or LibreOffice treat a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Colour-blind-safe fills (Okabe-Ito) for status cells.
STATUS_FILLS = {Status.COVERED.value: "009E73", Status.PARTIAL.value: "E69F00", Status.MISSING.value: "D9D9D9"}
MARKDOWN_EVIDENCE_CHARS = 200


def neutralise_cell(value: object) -> object:
    """Prefix a formula-like string with an apostrophe so spreadsheets show it as text."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def one_line(text: str) -> str:
    return " ".join(text.split())


def gap_table_rows(coverages: list[Coverage]) -> list[dict]:
    """One row per document x item: the verdict and its best evidence."""
    rows = []
    for coverage in coverages:
        best = coverage.evidence[0] if coverage.evidence else None
        rows.append({
            "document": coverage.doc,
            "framework": coverage.item.framework,
            "group": coverage.item.group,
            "item_id": coverage.item.id,
            "title": coverage.item.title,
            "status": coverage.status.value,
            "score": f"{coverage.score:.3f}",
            "signal": best.signal.value if best else "",
            "evidence": one_line(best.text) if best else "",
            "page": best.page if best else "",
            "heading": best.heading if best else "",
            "evidence_pages": ";".join(str(page) for page in sorted({e.page for e in coverage.evidence})),
        })
    return rows


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def csv_bytes(columns: tuple[str, ...], rows: Iterable[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: neutralise_cell(row.get(column, "")) for column in columns})
    return buffer.getvalue().encode("utf-8")


def write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[dict]) -> None:
    write_atomic(path, csv_bytes(columns, rows))


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    lines = (json.dumps(record, ensure_ascii=False, sort_keys=False) for record in records)
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def passage_records(passages: list[Passage]) -> list[dict]:
    return [{"id": p.id, "doc": p.doc, "page": p.page, "heading": p.heading, "start": p.start, "end": p.end,
             "text": p.text, "lead_in": p.lead_in} for p in passages]


def match_rows(matches: list[Match], passages: list[Passage]) -> list[dict]:
    passages_by_id = {passage.id: passage for passage in passages}
    return [{"doc": passages_by_id[m.passage_id].doc, "passage_id": m.passage_id,
             "page": passages_by_id[m.passage_id].page, "item_id": m.item_id, "signal": m.signal.value,
             "score": f"{m.score:.4f}", "matched": m.matched} for m in matches]


def error_rows(skipped: list[Skipped]) -> list[dict]:
    return [{"file": s.file, "stage": s.stage, "reason": s.reason} for s in skipped]


def gap_table_workbook(rows: list[dict], errors: list[dict]) -> bytes:
    """The gap table as an Excel workbook: header frozen, filters on, status coloured, text wrapped."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "gap_table"
    fill_sheet(sheet, GAP_TABLE_COLUMNS, rows)
    status_column = GAP_TABLE_COLUMNS.index("status") + 1
    for row in sheet.iter_rows(min_row=2, min_col=status_column, max_col=status_column):
        cell = row[0]
        colour = STATUS_FILLS.get(str(cell.value))
        if colour:
            cell.fill = PatternFill(fill_type="solid", start_color=colour, end_color=colour)
    fill_sheet(workbook.create_sheet("errors"), ERROR_COLUMNS, errors)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


COLUMN_WIDTHS = {"evidence": 80, "reason": 80, "title": 30, "heading": 30, "document": 28}


def fill_sheet(sheet, columns: tuple[str, ...], rows: list[dict]) -> None:
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([neutralise_cell(row.get(column, "")) for column in columns])
    for data_row in sheet.iter_rows(min_row=2):
        for cell in data_row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    for index, column in enumerate(columns, start=1):
        width = COLUMN_WIDTHS.get(column, 14)
        sheet.column_dimensions[get_column_letter(index)].width = width
        if width >= 30:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    if rows:
        sheet.auto_filter.ref = sheet.dimensions


def markdown_cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def gap_table_markdown(rows: list[dict]) -> str:
    """One Markdown table per document, for reading in a browser or a repository."""
    lines = ["# Gap table", ""]
    for document in dict.fromkeys(row["document"] for row in rows):
        doc_rows = [row for row in rows if row["document"] == document]
        counts = {status.value: sum(row["status"] == status.value for row in doc_rows) for status in Status}
        lines += [f"## {markdown_cell(document)}", "",
                  f"covered {counts['covered']}, partial {counts['partial']}, missing {counts['missing']} "
                  f"of {len(doc_rows)} items", "",
                  "| item | title | status | score | page | evidence |", "|---|---|---|---|---|---|"]
        for row in doc_rows:
            evidence = row["evidence"]
            if len(evidence) > MARKDOWN_EVIDENCE_CHARS:
                evidence = evidence[:MARKDOWN_EVIDENCE_CHARS].rstrip() + "…"
            lines.append("| " + " | ".join(markdown_cell(value) for value in (
                row["item_id"], row["title"], row["status"], row["score"], row["page"], evidence)) + " |")
        lines.append("")
    return "\n".join(lines)


def write_reports(out: Path, *, coverages: list[Coverage], passages: list[Passage], matches: list[Match],
                  skipped: list[Skipped], run_record: dict) -> list[Path]:
    """Write every output file of a run into `out`; returns the paths written."""
    rows = gap_table_rows(coverages)
    errors = error_rows(skipped)
    written = {
        "gap_table.csv": csv_bytes(GAP_TABLE_COLUMNS, rows),
        "gap_table.xlsx": gap_table_workbook(rows, errors),
        "gap_table.md": gap_table_markdown(rows).encode("utf-8"),
        "matches.csv": csv_bytes(MATCH_COLUMNS, match_rows(matches, passages)),
        "errors.csv": csv_bytes(ERROR_COLUMNS, errors),
    }
    for name, data in written.items():
        write_atomic(out / name, data)
    write_jsonl(out / "passages.jsonl", passage_records(passages))
    write_json(out / "run.json", run_record)
    return [out / name for name in (*written, "passages.jsonl", "run.json")]
