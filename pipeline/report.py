"""Stage 5, report: Coverage -> gap tables (CSV, XLSX, Markdown), the HTML report, figures and the run's records.

Every run writes what a reviewer needs without the person who ran it: the
gap table for Excel (one sheet per view, `report_xlsx.py`), an HTML report
(`report_html.py`: an index and a page per document), figures (`plots.py`),
and the raw tables and run record behind them, all read from the run store
one document at a time.

Document text is untrusted: any cell that a spreadsheet could read as a
formula is neutralised, HTML is autoescaped, and every file is written to a
temporary name and renamed, so a crash never leaves a half-written table behind.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path
from typing import TextIO

from pipeline.compare import COMPARE_COLUMNS, Comparison, comparison_file_stem, comparison_rows
from pipeline.display import shortened
from pipeline.files import write_atomic
from pipeline.run.report_cache import ReportCache, reports_key
from pipeline.run.store import RunStore
from pipeline.types import Coverage, Evidence, Match, Passage, ReferenceSet, Review, Skipped, Status

#: A verdict's review in the gap table: the reviewer's status and note (the columns a reviewer types into in
#: gap_table.xlsx, which `promise-map reviews import` reads back), who decided and when, and whether the
#: decision holds ("reviewed") or was made on a version of the document that has since changed ("review again").
REVIEW_COLUMNS = ("reviewed_status", "review_note", "reviewed_by", "reviewed_at", "review_state")

GAP_TABLE_COLUMNS = ("document", "doc_id", "framework", "group", "item_id", "title", "item_text", "status",
                     "machine_status", "stance", "commitment", "evidence_stances", "score", "threshold", "margin",
                     "signal", "evidence", "page", "heading", "evidence_pages", "near_miss_score", "near_miss_page",
                     "near_miss", "near_miss_reason", *REVIEW_COLUMNS)
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
MARKDOWN_EVIDENCE_CHARS = 200


def neutralise_cell(value: object) -> object:
    r"""Prefix a formula-like string, and every formula-like line inside it, with an apostrophe.

    A spreadsheet then shows the cell as text. The lines matter too: "abc\r=HYPERLINK(...)" is one cell
    of a well-quoted CSV, but a reader that splits rows at the carriage return, or a person pasting the
    cell, gets a cell starting "=". Example: "a\r=cmd.txt" -> "a\r'=cmd.txt".
    """
    if not isinstance(value, str):
        return value
    if "\n" in value or "\r" in value:  # most cells have no line break: no pattern to run
        value = FORMULA_AFTER_LINE_BREAK.sub(guard_after_line_break, value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def guard_after_line_break(match: re.Match) -> str:
    return match.group(1) + "'"


def one_line(text: str) -> str:
    return " ".join(text.split())


def threshold_cells(coverage: Coverage) -> dict:
    """The item's threshold, how far the score is above (+) or below (-) it, and a missing item's closest call."""
    near = coverage.near_miss
    return {"threshold": "" if coverage.threshold is None else f"{coverage.threshold:.3f}",
            # a number, not text: a cell of text starting "-" gets the formula guard, a number needs none
            "margin": "" if coverage.threshold is None else round(coverage.score - coverage.threshold, 3),
            "near_miss_score": f"{near.score:.3f}" if near else "", "near_miss_page": near.page if near else "",
            "near_miss": one_line(near.text) if near else "",
            "near_miss_reason": coverage.near_miss_reason if near else ""}


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
            "machine_status": coverage.machine_status.value,
            **stance_cells(coverage),
            "score": f"{coverage.score:.3f}",
            "signal": best.signal.value if best else "",
            "evidence": one_line(best.text) if best else "",
            "page": best.page if best else "",
            "heading": best.heading if best else "",
            "evidence_pages": ";".join(str(page) for page in sorted({e.page for e in coverage.evidence})),
            **threshold_cells(coverage),
            **review_row_cells(coverage.review),
        })
    return rows


def stance_cells(coverage: Coverage) -> dict:
    """The document's stance and commitment on the item, and each evidence passage's ("p.3 opposes, describes").

    Empty for a missing item. `evidence_stances` lets a reader of a `mixed` row find the passages on each side.
    """
    return {"stance": coverage.stance.value if coverage.stance else "",
            "commitment": coverage.commitment.value if coverage.commitment else "",
            "evidence_stances": "; ".join(f"p.{e.page} {e.stance.value}, {e.commitment.value}"
                                          for e in coverage.evidence if e.stance and e.commitment)
            if coverage.stance else ""}


def review_row_cells(review: Review | None) -> dict:
    """The gap table's review columns: empty for an item nobody reviewed; no status where it is to review again."""
    if review is None:
        return dict.fromkeys(REVIEW_COLUMNS, "")
    applied = review.state == "reviewed"
    return {"reviewed_status": review.status.value if applied else "", "review_note": review.note,
            "reviewed_by": review.reviewer, "reviewed_at": review.decided_at, "review_state": review.state}


def review_record(review: Review | None) -> dict | None:
    """A verdict's review in coverage.jsonl (None when nobody reviewed the item)."""
    if review is None:
        return None
    return {"status": review.status.value, "machine_status": review.machine_status.value,
            "reviewer": review.reviewer, "decided_at": review.decided_at, "note": review.note, "state": review.state}




class CsvTable:
    r"""A CSV table written row by row to `stream`, every cell inert, every cell with a line break in it quoted.

    csv's QUOTE_MINIMAL quotes a field holding "\n" (our line ending) but not one holding a lone "\r",
    which Excel, LibreOffice and csv readers take as the end of the row: a file named "a\r=cmd.txt" split
    every row it appeared in. A row with such a field is written with every field quoted.
    """

    def __init__(self, stream: TextIO, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.writer = csv.writer(stream, lineterminator="\n")
        self.quoting_writer = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.writer.writerow(columns)

    def write(self, rows: Iterable[dict]) -> None:
        for row in rows:
            cells = [neutralise_cell(row.get(column, "")) for column in self.columns]
            has_carriage_return = any(isinstance(cell, str) and "\r" in cell for cell in cells)
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
            "spans": [list(span) for span in evidence.spans], "text": evidence.text,
            "review": evidence.review.value if evidence.review else None,
            "stance": evidence.stance.value if evidence.stance else None,
            "commitment": evidence.commitment.value if evidence.commitment else None}


def coverage_record(coverage: Coverage, name: str) -> dict:
    """One verdict of coverage.jsonl, typed and unguarded (numbers are numbers; no formula guard: not a sheet)."""
    return {"doc_id": coverage.doc, "document": name, "framework": coverage.item.framework,
            "group": coverage.item.group, "item_id": coverage.item.id, "title": coverage.item.title,
            "item_text": coverage.item.text, "status": coverage.status.value,
            "machine_status": coverage.machine_status.value, "review": review_record(coverage.review),
            "stance": coverage.stance.value if coverage.stance else None,
            "commitment": coverage.commitment.value if coverage.commitment else None,
            "score": coverage.score,
            "threshold": coverage.threshold, "partial_threshold": coverage.partial_threshold,
            "evidence": [evidence_record(evidence) for evidence in coverage.evidence],
            "near_miss": evidence_record(coverage.near_miss) if coverage.near_miss is not None else None,
            "near_miss_reason": coverage.near_miss_reason or None}


def error_rows(skipped: list[Skipped]) -> list[dict]:
    return [{"file": s.file, "stage": s.stage, "reason": s.reason} for s in skipped]


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
             "| item | title | item text | status | machine | stance | commitment | score | page | evidence | review |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in doc_rows:
        evidence = row["evidence"]
        if len(evidence) > MARKDOWN_EVIDENCE_CHARS:
            evidence = evidence[:MARKDOWN_EVIDENCE_CHARS].rstrip() + "…"
        lines.append("| " + " | ".join(markdown_cell(value) for value in (
            row["item_id"], row["title"], shortened(row.get("item_text", "")), row["status"],
            row.get("machine_status", row["status"]), row.get("stance", ""), row.get("commitment", ""),
            row["score"], row["page"], evidence,
            review_summary(row))) + " |")
    return lines + [""]


def review_summary(row: dict) -> str:
    """A gap table row's review in a few words: "reviewed by Ann, 2026-12-02: note" or ""."""
    if not row.get("reviewed_by"):
        return ""
    said = f"{row['review_state']} ({row['reviewed_by']}, {row['reviewed_at'][:10]})"
    return f"{said}: {row['review_note']}" if row.get("review_note") else said


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


def write_reports(out: Path, *, store: RunStore, reference: ReferenceSet, run_record: dict,
                  cache: ReportCache | None = None, run_key: str | None = None, restored: bool = False) -> list[Path]:
    """Write every output file of a run into `out` (the run's staging folder) from its store; returns the paths.

    report.html is the run's index; each document's page is `report/<document id>.html`. Every file is read
    from the store one document at a time. With a `cache`, the files that depend only on the store's
    content (all but the index and run.json) are copied from an earlier run with the same content, or kept
    for the next one (pipeline/run/report_cache.py). With a `run_key` (a run whose every result lasts,
    pipeline/run/rerun.py), they are kept under that key with the store, for a re-run to copy whole;
    `restored`: they were copied so already, and only the index and run.json are written.
    """
    from pipeline.report_html import DOCUMENT_PAGES_FOLDER, render_index
    from pipeline.run.store import STORE_FILE

    names = cached_report_names(store)
    if not restored:
        key = None if cache is None else run_key or reports_key(store.path, reference, run_record, out)
        restored = key is not None and cache.restore(key, names, out)
        if not restored:
            write_store_reports(out, store=store, reference=reference, run_record=run_record)
            if key is not None:
                cache.keep(key, names + ([STORE_FILE] if run_key else []), out)
    if isinstance(run_record.get("counts"), dict):
        run_record = {**run_record, "counts": {**run_record["counts"], "reports_from_cache": restored}}
    write_atomic(out / "report.html", render_index(store, reference, run_record, report_dir=out).encode("utf-8"))
    write_json(out / "run.json", run_record)
    pages = sorted((out / DOCUMENT_PAGES_FOLDER).glob("*.html"))
    return [out / name for name in names if name != DOCUMENT_PAGES_FOLDER] + [out / "report.html",
                                                                              out / "run.json"] + pages


def cached_report_names(store: RunStore) -> list[str]:
    """The files (and the document pages' folder) a run writes from its store alone, in writing order."""
    from pipeline.plots import figure_names
    from pipeline.report_html import DOCUMENT_PAGES_FOLDER

    return [*STREAMED_FILES, "gap_table.xlsx", "errors.csv", *figure_names(len(store.documents())),
            DOCUMENT_PAGES_FOLDER]


#: From this many documents on, the workbook is written by a second process while this one writes the other
#: files. Starting it costs about two seconds; the workbook of 1,000 documents takes some 35 s, as long as
#: every other file together, so the two halves finish together. A smaller run writes it in turn.
BACKGROUND_WORKBOOK_DOCUMENTS = 50


def write_store_reports(out: Path, *, store: RunStore, reference: ReferenceSet, run_record: dict) -> None:
    """The tables, workbook, errors, figures and document pages: everything but the index and run.json."""
    from pipeline.plots import run_figures  # not at the top: plotting is heavy, and report_xlsx imports this module
    from pipeline.report_html import write_document_pages
    from pipeline.report_xlsx import write_workbook, write_workbook_of_store

    workbook = out / "gap_table.xlsx"
    with ExitStack() as background:
        pending = None
        if store.document_count() >= BACKGROUND_WORKBOOK_DOCUMENTS:
            pool = background.enter_context(ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")))
            pending = pool.submit(write_workbook_of_store, workbook, store.path, reference)
        write_document_tables(out, store, reference)
        written = {"errors.csv": csv_bytes(ERROR_COLUMNS, error_rows(store.problems())),
                   **run_figures(store, reference)}
        for name, data in written.items():
            write_atomic(out / name, data)
        write_document_pages(out, store, reference, run_record)
        if pending is None:
            write_workbook(workbook, store, reference)
        else:
            pending.result()  # the workbook's own error, if it failed, is raised here


def write_comparison(out: Path, comparison: Comparison, *, run_record: dict) -> list[Path]:
    """Write a comparison of two documents as a table (CSV) and an HTML page beside the run's other files."""
    from pipeline.report_html import render_comparison  # not at the top: the workbook's process needs no HTML

    stem = comparison_file_stem(comparison)
    written = {
        f"{stem}.csv": csv_bytes(COMPARE_COLUMNS, comparison_rows(comparison)),
        f"{stem}.html": render_comparison(comparison, run_record=run_record).encode("utf-8"),
    }
    for name, data in written.items():
        write_atomic(out / name, data)
    return [out / name for name in written]
