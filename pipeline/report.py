"""Stage 5, report: Coverage -> gap tables (CSV, XLSX, Markdown), the HTML report, figures and the run's records.

Every run writes what a reviewer needs without the person who ran it: the
gap table for Excel (one sheet per view, `report_xlsx.py`), an HTML report
(`report_html.py`: an index and a page per document), figures (`plots.py`),
and the raw tables and run record behind them. All of them are read from the
run store (`pipeline/run/store.py`) one document at a time.

Document text is untrusted: any cell that a spreadsheet could read as a
formula is neutralised, HTML is autoescaped, and every file is written to a
temporary name and renamed, so a crash never leaves a half-written table behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.compare import COMPARE_COLUMNS, Comparison, comparison_file_stem, comparison_rows
from pipeline.display import shortened
from pipeline.files import write_atomic
from pipeline.report_html import render_comparison
from pipeline.types import (
    Coverage,
    DocumentInfo,
    DocumentResult,
    Framework,
    Match,
    Passage,
    ReferenceSet,
    Skipped,
    SourceFile,
    Status,
)

if TYPE_CHECKING:
    from pipeline.run.store import RunStore

GAP_TABLE_COLUMNS = ("document", "framework", "group", "item_id", "title", "item_text", "status", "score", "signal",
                     "evidence", "page", "heading", "evidence_pages")
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
    value = FORMULA_AFTER_LINE_BREAK.sub(r"\1'", value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def one_line(text: str) -> str:
    return " ".join(text.split())


def gap_table_rows(coverages: list[Coverage], *, document_name: str | None = None) -> list[dict]:
    """One row per document x item: the verdict and its best evidence.

    `document_name` names the document of every row (a store's coverages carry the document's id, not the
    name people know it by); without it, each row is named by its coverage's `doc`.
    """
    rows = []
    for coverage in coverages:
        best = coverage.evidence[0] if coverage.evidence else None
        rows.append({
            "document": coverage.doc if document_name is None else document_name,
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
        })
    return rows




def csv_bytes(columns: tuple[str, ...], rows: Iterable[dict]) -> bytes:
    r"""A CSV table, every cell inert, every cell with a line break in it quoted.

    csv's QUOTE_MINIMAL quotes a field holding "\n" (our line ending) but not one holding a lone "\r",
    which Excel, LibreOffice and csv readers take as the end of the row: a file named "a\r=cmd.txt" split
    every row it appeared in. A row with such a field is written with every field quoted.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    quoting_writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in rows:
        cells = {column: neutralise_cell(row.get(column, "")) for column in columns}
        has_carriage_return = any(isinstance(cell, str) and "\r" in cell for cell in cells.values())
        (quoting_writer if has_carriage_return else writer).writerow(cells)
    return buffer.getvalue().encode("utf-8")


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


#: What each character that could end a table row or heading, split a cell, or start HTML, a link or an image
#: becomes in gap_table.md. HTML entities, not backslashes, for `& < > [ ]`: CommonMark never reads an entity
#: as structure, so `[x](javascript:...)` and `<script>` stay text and show as written.
MARKDOWN_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "\n": " ", "\r": " ", "&": "&amp;", "<": "&lt;",
                                  ">": "&gt;", "[": "&#91;", "]": "&#93;"})


def markdown_cell(text: object) -> str:
    """`text` as one inert line of a Markdown table cell or heading: document text is untrusted."""
    return str(text).translate(MARKDOWN_ESCAPES)


def gap_table_markdown(rows: list[dict]) -> str:
    """One Markdown table per document, for reading in a browser or a repository, then every item's full text.

    A table cell shows the item's text in short (`shortened`): titles alone do not tell items apart
    (VOICE-1 and VOICE-2 are both "DECISION MAKING"), and the whole text of some items is a paragraph.
    """
    lines = ["# Gap table", ""]
    rows_by_document: dict[str, list[dict]] = {}
    for row in rows:
        rows_by_document.setdefault(row["document"], []).append(row)
    for document, doc_rows in rows_by_document.items():
        counts = {status.value: sum(row["status"] == status.value for row in doc_rows) for status in Status}
        lines += [f"## {markdown_cell(document)}", "",
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
        lines.append("")
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


def document_rows(store: RunStore, reference: ReferenceSet) -> Iterable[dict]:
    """Every gap-table row of the run, read from the store one document at a time, named as people know it."""
    for info in store.documents():
        yield from gap_table_rows(store.coverages(info.id, reference), document_name=info.name)


def store_match_rows(store: RunStore) -> Iterable[dict]:
    """matches.csv's rows, one document at a time."""
    for info in store.documents():
        for match, page in store.matches(info.id):
            yield {"doc": info.name, "passage_id": match.passage_id, "page": page, "item_id": match.item_id,
                   "signal": match.signal.value, "score": f"{match.score:.4f}", "matched": match.matched}


def write_passages(path: Path, store: RunStore) -> None:
    """passages.jsonl, one document's passages at a time."""
    lines = (json.dumps(record, ensure_ascii=False) for info in store.documents()
             for record in passage_records(list(store.passages(info.id))))
    write_atomic(path, "".join(line + "\n" for line in lines).encode("utf-8"))


def write_store_reports(out: Path, *, store: RunStore, reference: ReferenceSet, run_record: dict) -> list[Path]:
    """Write every output file of a run into `out` from its store; returns the paths written.

    report.html is an index; each document's page is in `out/report/`. Figures are sized for their content.
    """
    from pipeline.plots import run_figures  # not at the top: plotting is heavy and report_xlsx imports this
    from pipeline.report_html import render_index, write_document_pages
    from pipeline.report_xlsx import write_workbook

    out = Path(out)
    errors = error_rows(store.problems())
    written = {
        "gap_table.csv": csv_bytes(GAP_TABLE_COLUMNS, document_rows(store, reference)),
        "gap_table.md": gap_table_markdown(list(document_rows(store, reference))).encode("utf-8"),
        "matches.csv": csv_bytes(MATCH_COLUMNS, store_match_rows(store)),
        "errors.csv": csv_bytes(ERROR_COLUMNS, errors),
        "report.html": render_index(store, reference, run_record, report_dir=out).encode("utf-8"),
        **run_figures(store, reference),
    }
    for name, data in written.items():
        write_atomic(out / name, data)
    write_workbook(out / "gap_table.xlsx", store, reference)
    pages = write_document_pages(out, store, reference, run_record)
    write_passages(out / "passages.jsonl", store)
    write_json(out / "run.json", run_record)
    return [out / name for name in (*written, "gap_table.xlsx", "passages.jsonl", "run.json")] + pages


DOCUMENT_ID = re.compile(r"[0-9a-f]{64}")


def document_id(doc: str) -> str:
    """A coverage's `doc` as a store's document id: itself when a sha256, else the sha256 of the name."""
    return doc if DOCUMENT_ID.fullmatch(doc) else hashlib.sha256(doc.encode("utf-8")).hexdigest()


def reference_of(coverages: list[Coverage]) -> ReferenceSet:
    """The reference set the coverages were judged against, rebuilt from their items (framework order kept)."""
    frameworks: dict[str, dict] = {}
    for coverage in coverages:
        frameworks.setdefault(coverage.item.framework, {})[coverage.item.id] = coverage.item
    return ReferenceSet(frameworks=tuple(Framework(id=framework, name=framework, version="", source="",
                                                   items=tuple(items.values()))
                                         for framework, items in frameworks.items()), sha256="")


def results_of(coverages: list[Coverage], passages: list[Passage], matches: list[Match],
               skipped: list[Skipped], run_record: dict) -> list[DocumentResult]:
    """A run held as flat lists (the map command's result), as the per-document results a store takes.

    A document's name, path and page count come from run.json's inputs (matched by sha256, the first input
    of that content), else its `doc`. Files with the same content share a `doc`: it is stored once, as the
    store stores a document (`RunStore.add`), its verdicts, passages and matches taken once.
    """
    inputs: dict = {}
    for entry in run_record.get("inputs", []) if isinstance(run_record, dict) else []:
        if isinstance(entry, dict):
            inputs.setdefault(entry.get("sha256"), entry)
    grouped: dict[str, dict] = {}

    def parts_of(doc: str) -> dict:
        return grouped.setdefault(doc, {"coverages": {}, "passages": {}, "matches": {}})

    for coverage in coverages:
        parts_of(coverage.doc)["coverages"].setdefault(coverage.item.id, coverage)
    passage_docs = {passage.id: passage.doc for passage in passages}
    for passage in passages:
        parts_of(passage.doc)["passages"].setdefault(passage.id, passage)
    for match in matches:
        doc = passage_docs.get(match.passage_id)
        if doc in grouped:
            grouped[doc]["matches"].setdefault((match.passage_id, match.item_id, match.signal), match)
    results = []
    for index, (doc, parts) in enumerate(grouped.items()):
        entry = inputs.get(doc, {})
        name = str(entry.get("file", doc))
        info = DocumentInfo(id=document_id(doc), name=name, path=str(entry.get("path", "")),
                            page_count=int(entry.get("pages", 0) or 0), extractor=str(entry.get("extractor", "")))
        results.append(DocumentResult(source=SourceFile(index=index, path=info.path, name=name), document=info,
                                      passages=tuple(parts["passages"].values()),
                                      matches=tuple(parts["matches"].values()),
                                      coverages=tuple(parts["coverages"].values())))
    failed = [DocumentResult(source=SourceFile(index=len(results) + number, path="", name=problem.file),
                             document=None, problems=(problem,)) for number, problem in enumerate(skipped)]
    return results + failed


def write_reports(out: Path, *, coverages: list[Coverage], passages: list[Passage], matches: list[Match],
                  skipped: list[Skipped], run_record: dict) -> list[Path]:
    """Write every output file of a run held in memory: it is put in a run store first, then reported from it.

    Kept for the map command until it writes its results to a store as they arrive (then it calls
    `write_store_reports` with that store, and this adapter goes).
    """
    from pipeline.run.store import RunStore

    with tempfile.TemporaryDirectory(prefix="promise-map-store-") as folder:
        store = RunStore(Path(folder) / "run.sqlite", create=True)
        try:
            for result in results_of(coverages, passages, matches, skipped, run_record):
                store.add(result)
            return write_store_reports(out, store=store, reference=reference_of(coverages), run_record=run_record)
        finally:
            store.close()


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
