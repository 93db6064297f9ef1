"""gap_table.xlsx, written in constant memory: rows stream to disk document by document, whatever the corpus.

Why XlsxWriter in constant-memory mode: a workbook built in memory with openpyxl, cell by cell, took 30 MB
and minutes at 1,000 documents; openpyxl's write-only mode held memory flat but wrote some 10,000 cells a
second (five minutes for 1,000 documents). XlsxWriter's `constant_memory` mode writes each row to a
temporary file as soon as the next one starts, several times faster, so memory holds one document's
verdicts at a time. Styles (bold header, status fills, wrapped text, score format) are formats shared by
every cell; column widths, frozen header and filters are set per sheet.

Sheets, one per view: `overview` (documents x items, each cell the status, coloured, with the document's
counts), `gap_table` (document x item, the verdict and its best evidence), `items` (per item, documents
covering it, partially, missing it), `evidence` (every evidence passage, best first) and `errors`.
Numbers are stored as numbers; every text cell is inert (`neutralise_cell`, and written as a string,
never a formula). The bytes do not depend on when the workbook was saved (`WORKBOOK_TIMESTAMP`).
"""

from __future__ import annotations

import datetime
import functools
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import xlsxwriter
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipeline.files import NEW_FILE_MODE, current_umask
from pipeline.palette import REVIEW_STATUSES, STATUS_COLOURS
from pipeline.report import ERROR_COLUMNS, GAP_TABLE_COLUMNS, gap_table_rows, neutralise_cell, one_line
from pipeline.types import Coverage, ReferenceItem, ReferenceSet, Skipped, Stance, Status

if TYPE_CHECKING:
    from pipeline.run.store import RunStore

#: Colour-blind-safe fills (Okabe-Ito, shared with the HTML report and plots) for status cells.
STATUS_FILLS = {status.value: colour.lstrip("#").upper() for status, colour in STATUS_COLOURS.items()}
OVERVIEW_COUNT_COLUMNS = ("document", "covered", "partial", "missing")
ITEM_SUMMARY_COLUMNS = ("item_id", "framework", "group", "title", "item_text", "item_attributes", "covered_in",
                        "partial_in", "missing_in", "supported_in", "opposed_in", "mixed_in", "covered_documents",
                        "partial_documents")
EVIDENCE_COLUMNS = ("document", "item_id", "framework", "group", "title", "status", "rank", "signal", "score", "page",
                    "stance", "commitment", "heading", "matched", "passage_id", "text", "review")
#: Columns whose cells hold a status and are filled with its colour.
STATUS_COLUMNS = frozenset({"status", "status_a", "status_b", "machine_status", "reviewed_status"})
#: The gap_table sheet's column a reviewer types a status into; a list of the statuses guards it.
REVIEWED_STATUS_COLUMN = "reviewed_status"
COLUMN_WIDTHS = {"evidence": 80, "reason": 80, "title": 30, "item_text": 60, "heading": 30, "document": 28, "text": 90,
                 "evidence_a": 60, "evidence_b": 60, "matched": 30, "covered_documents": 40, "partial_documents": 40,
                 "file": 40, "passage_id": 24, "framework": 20, "group": 14, "item_id": 14, "evidence_pages": 14,
                 "near_miss": 60, "doc_id": 20, "review_note": 40, "reviewed_status": 14, "machine_status": 14,
                 "reviewed_at": 20, "stance": 11, "commitment": 11, "evidence_stances": 30, "near_miss_reason": 40}
#: Width of a column not listed above. Rows stream past once, so widths cannot be fitted to their content.
DEFAULT_COLUMN_WIDTH = 10
#: Width of a column whose cells are statuses ("covered", "partial", "missing").
STATUS_COLUMN_WIDTH = 10
#: Columns this wide or wider wrap their text.
WRAPPED_WIDTH = 30
#: Height (points) of the overview's header row, where item ids are written vertically.
OVERVIEW_HEADER_HEIGHT = 90
#: Columns that hold numbers. A sheet stores them as numbers, whatever the row holds (the CSV's score is the
#: text "0.610"), so that Excel sorts, filters and sums them instead of flagging "number stored as text".
NUMBER_COLUMNS = frozenset({"score", "score_a", "score_b", "page", "page_a", "page_b", "rank", "pages",
                            "covered", "partial", "missing", "covered_in", "partial_in", "missing_in",
                            "supported_in", "opposed_in", "mixed_in",
                            "threshold", "margin", "near_miss_score", "near_miss_page"})
#: Number columns shown with three decimals, as the CSV and the HTML report show them.
SCORE_COLUMNS = frozenset({"score", "score_a", "score_b", "threshold", "margin", "near_miss_score"})
SCORE_NUMBER_FORMAT = "0.000"
#: The most characters a cell holds (Excel's limit); a longer list of document names is cut and says so.
CELL_CHARS = 32_767
#: The time a workbook says it was made and saved, so two runs on the same input give the same bytes (the
#: run's time is in run.json). XlsxWriter stamps every zip entry of a constant-memory workbook with this
#: time already (1980-01-31, for portability); the document properties are given it too.
WORKBOOK_TIMESTAMP = (1980, 1, 31, 0, 0, 0)

#: Workbook options: every cell is written by type (`write_string`, `write_number`), and no string is ever
#: read as a formula, a number or a link, whatever it starts with.
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                    "strings_to_urls": False}


class Formats:
    """The workbook's cell formats, made once: a format per cell would be a style per cell in the file."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.bold = workbook.add_format({"bold": True})
        self.rotated = workbook.add_format({"bold": True, "rotation": 90, "align": "center"})
        self.wrapped = workbook.add_format({"text_wrap": True, "valign": "top"})
        self.score = workbook.add_format({"num_format": SCORE_NUMBER_FORMAT})
        self.status = {status: workbook.add_format({"bg_color": f"#{colour}", "pattern": 1})
                       for status, colour in STATUS_FILLS.items()}


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


@functools.lru_cache(maxsize=4096)
def sheet_text(text: str) -> str:
    """Text as a cell holds it, cached: item ids, titles and texts, statuses and names repeat on every row."""
    return neutralise_cell(ILLEGAL_CHARACTERS_RE.sub("", text))


class ColumnPlan(NamedTuple):
    """How a sheet's column writes its cells, decided once: rows stream past by the hundred thousand."""

    name: str
    holds_numbers: bool
    holds_statuses: bool
    text_format: Format | None
    number_format: Format | None


class StreamedSheet:
    """A sheet written row by row in the house style: bold frozen header, filters, status fills, wrapped text.

    Widths, the frozen pane and the header are set when the sheet is made; the filter's range, over the
    header and every row written, when it is closed. A wide column wraps its text: the format is the
    column's own, so its empty cells (and what a reviewer types there) wrap as its filled ones do, and no
    blank cell has to be written for them.
    """

    def __init__(self, workbook: xlsxwriter.Workbook, formats: Formats, title: str, columns: tuple[str, ...], *,
                 status_columns: frozenset[str] = STATUS_COLUMNS, rotated_from: int | None = None,
                 freeze_column: int = 0, header_height: float | None = None) -> None:
        self.sheet: Worksheet = workbook.add_worksheet(title)
        self.formats = formats
        self.columns = columns
        self.rows = 0
        self.plan: list[ColumnPlan] = []
        for index, column in enumerate(columns):
            is_status = column in status_columns
            width = STATUS_COLUMN_WIDTH if is_status else COLUMN_WIDTHS.get(column, DEFAULT_COLUMN_WIDTH)
            text_format = formats.wrapped if width >= WRAPPED_WIDTH and not is_status else None
            self.sheet.set_column(index, index, width, text_format)
            self.plan.append(ColumnPlan(name=column, holds_numbers=column in NUMBER_COLUMNS, holds_statuses=is_status,
                                        text_format=text_format,
                                        number_format=formats.score if column in SCORE_COLUMNS else None))
        self.sheet.freeze_panes(1, freeze_column)
        if header_height is not None:
            self.sheet.set_row(0, header_height)
        for index, column in enumerate(columns):
            rotated = rotated_from is not None and index >= rotated_from
            self.sheet.write_string(0, index, column, formats.rotated if rotated else formats.bold)

    def append(self, row: dict) -> None:
        """One row: numbers as numbers, text as inert strings (a status filled with its colour), nothing as nothing."""
        self.rows += 1
        at, sheet, status_formats = self.rows, self.sheet, self.formats.status
        for index, column in enumerate(self.plan):
            value = row.get(column.name, "")
            if column.holds_numbers:
                value = sheet_number(value)
            if isinstance(value, str):
                value = sheet_text(value)
                if not value:
                    continue
                cell_format = status_formats.get(value, column.text_format) if column.holds_statuses \
                    else column.text_format
                sheet.write_string(at, index, value, cell_format)
            elif value is not None:
                sheet.write_number(at, index, value, column.number_format)

    def close(self) -> None:
        """The filter over header and rows (on the header alone too, so an empty sheet looks like the others)."""
        self.sheet.autofilter(0, 0, self.rows, len(self.columns) - 1)


def evidence_rows(coverages: Iterable[Coverage], document: str) -> Iterator[dict]:
    """One row per evidence passage of every covered or partial verdict of a document, best first."""
    for coverage in coverages:
        for rank, evidence in enumerate(coverage.evidence, start=1):
            yield {"document": document, "item_id": coverage.item.id, "framework": coverage.item.framework,
                   "group": coverage.item.group, "title": coverage.item.title, "status": coverage.status.value,
                   "rank": rank, "signal": evidence.signal.value, "score": round(evidence.score, 4),
                   "page": evidence.page, "heading": evidence.heading, "matched": evidence.matched,
                   "passage_id": evidence.passage_id, "review": evidence.review.value if evidence.review else "",
                   "stance": evidence.stance.value if evidence.stance else "",
                   "commitment": evidence.commitment.value if evidence.commitment else "",
                   "text": one_line(evidence.text)}


def overview_row(coverages: list[Coverage], document: str) -> dict:
    """A document's line of the overview: its counts and, per item, its status as text."""
    row: dict = {"document": document, **{status.value: 0 for status in Status}}
    for coverage in coverages:
        row[coverage.item.id] = coverage.status.value
        row[coverage.status.value] += 1
    return row


def names_cell(names: list[str]) -> str:
    """Document names joined for one cell, cut to what a cell holds with a note of how many were left out."""
    joined = "; ".join(names)
    if len(joined) <= CELL_CHARS:
        return joined
    kept: list[str] = []
    length = 0
    for name in names:
        if length + len(name) + 2 > CELL_CHARS - 40:
            break
        kept.append(name)
        length += len(name) + 2
    return "; ".join(kept) + f"; ... and {len(names) - len(kept)} more (see the gap_table sheet)"


def item_summary_rows(items: tuple[ReferenceItem, ...], counts: dict[str, dict[str, int]],
                      names: dict[str, dict[str, list[str]]],
                      stances: dict[str, dict[str, int]] | None = None) -> Iterator[dict]:
    """Per item, how many documents cover, partially cover or miss it (the "never covered" view).

    Also how many of the documents covering it support, oppose or are mixed on it.
    """
    stances = stances or {}
    for item in items:
        found, sides = counts.get(item.id, {}), stances.get(item.id, {})
        yield {"item_id": item.id, "framework": item.framework, "group": item.group, "title": item.title,
               "item_text": item.text, "item_attributes": attributes_cell(item),
               **{f"{status.value}_in": found.get(status.value, 0) for status in Status},
               "supported_in": sides.get(Stance.SUPPORTS.value, 0), "opposed_in": sides.get(Stance.OPPOSES.value, 0),
               "mixed_in": sides.get(Stance.MIXED.value, 0),
               "covered_documents": names_cell(names[item.id][Status.COVERED.value]),
               "partial_documents": names_cell(names[item.id][Status.PARTIAL.value])}


def attributes_cell(item: ReferenceItem) -> str:
    """What the framework file says about the item beyond its text ("progress assessment: Work is underway.")."""
    return "; ".join(f"{name.replace('_', ' ')}: {value}" for name, value in item.attributes)


def error_rows(problems: Iterable[Skipped]) -> Iterator[dict]:
    return ({"file": problem.file, "stage": problem.stage, "reason": problem.reason} for problem in problems)


def review_status_choices(sheet: StreamedSheet) -> None:
    """A drop-down of the statuses on every row's `reviewed_status` cell: what `reviews import` accepts."""
    column = sheet.columns.index(REVIEWED_STATUS_COLUMN)
    sheet.sheet.data_validation(1, column, max(sheet.rows, 1), column, {
        "validate": "list", "source": [status.value for status in REVIEW_STATUSES], "ignore_blank": True,
        "error_title": "status", "error_message": "covered, partial, missing or not_applicable (or leave it empty)"})


def fill_workbook(workbook: xlsxwriter.Workbook, store: RunStore, reference: ReferenceSet) -> None:
    """Every sheet's rows, streamed from the store one document at a time; the workbook opens on the overview."""
    formats = Formats(workbook)
    items = reference.items
    overview_columns = OVERVIEW_COUNT_COLUMNS + tuple(item.id for item in items)
    overview = StreamedSheet(workbook, formats, "overview", overview_columns,
                             status_columns=frozenset(overview_columns[len(OVERVIEW_COUNT_COLUMNS):]),
                             rotated_from=len(OVERVIEW_COUNT_COLUMNS), freeze_column=len(OVERVIEW_COUNT_COLUMNS),
                             header_height=OVERVIEW_HEADER_HEIGHT)
    gap_table = StreamedSheet(workbook, formats, "gap_table", GAP_TABLE_COLUMNS)
    items_sheet = StreamedSheet(workbook, formats, "items", ITEM_SUMMARY_COLUMNS)
    evidence = StreamedSheet(workbook, formats, "evidence", EVIDENCE_COLUMNS)
    errors = StreamedSheet(workbook, formats, "errors", ERROR_COLUMNS)
    names = {item.id: {Status.COVERED.value: [], Status.PARTIAL.value: []} for item in items}
    for info in store.documents():
        coverages = store.coverages(info.id, reference)
        overview.append(overview_row(coverages, info.name))
        for row in gap_table_rows(coverages, {info.id: info.name}):
            gap_table.append(row)
        for row in evidence_rows(coverages, info.name):
            evidence.append(row)
        for coverage in coverages:
            if coverage.status in (Status.COVERED, Status.PARTIAL) and coverage.item.id in names:
                names[coverage.item.id][coverage.status.value].append(info.name)
    for row in item_summary_rows(items, store.status_counts(), names, store.stance_counts()):
        items_sheet.append(row)
    for row in error_rows(store.problems()):
        errors.append(row)
    for sheet in (overview, gap_table, items_sheet, evidence, errors):
        sheet.close()
    review_status_choices(gap_table)
    overview.sheet.activate()


def write_workbook(path: Path, store: RunStore, reference: ReferenceSet) -> None:
    """Write gap_table.xlsx at `path` from the run store, in constant memory, atomically, with stable bytes.

    The workbook is written to a temporary file beside `path` (its rows through temporary files there too)
    and renamed over `path`: a crash never leaves half a workbook. Its times are fixed (`WORKBOOK_TIMESTAMP`),
    so a re-run on the same input gives the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as folder:
        saved = Path(folder) / "saved.xlsx"
        workbook = xlsxwriter.Workbook(str(saved), {**WORKBOOK_OPTIONS, "tmpdir": folder})
        workbook.set_properties({"created": datetime.datetime(*WORKBOOK_TIMESTAMP)})
        fill_workbook(workbook, store, reference)
        workbook.close()
        os.chmod(saved, NEW_FILE_MODE & ~current_umask())
        os.replace(saved, path)


def write_workbook_of_store(path: Path, store_path: Path, reference: ReferenceSet) -> None:
    """write_workbook from the run store at `store_path`: what a second process calls, with a connection of its own."""
    from pipeline.run.store import RunStore

    with RunStore(store_path) as store:
        write_workbook(path, store, reference)
