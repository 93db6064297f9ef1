"""Decisions typed into gap_table.xlsx, read back into the review store (`promise-map reviews import`).

A reviewer who prefers Excel fills the `reviewed_status` and `review_note` columns of the `gap_table`
sheet (a drop-down offers the statuses). Import reads every row, refuses the whole workbook if any row's
status is not one of covered / partial / missing / not_applicable (naming each such row, so nothing is
half-imported), and appends one decision per row whose status or note differs from the decision in force:
importing the same workbook twice adds nothing. The evidence sheet gives each item's passages, recorded
with the decision so a later edit of the document can be told from an unchanged one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from pipeline.compare import without_formula_guard
from pipeline.palette import REVIEW_STATUSES
from pipeline.review.store import Decision, ReviewStore, passage_hash

GAP_TABLE_SHEET = "gap_table"
EVIDENCE_SHEET = "evidence"
REQUIRED_COLUMNS = ("document", "doc_id", "item_id", "status", "machine_status", "score", "reviewed_status",
                    "review_note")
STATUS_NAMES = {status.value: status.value for status in REVIEW_STATUSES} | {"not applicable": "not_applicable",
                                                                              "n/a": "not_applicable"}


class WorkbookError(ValueError):
    """The workbook cannot be imported: not a gap table, or rows with a status that is not one."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did: decisions added, rows that said what was already in force, rows read."""

    added: int
    unchanged: int
    rows: int


def cell_text(value: object) -> str:
    return "" if value is None else without_formula_guard(str(value)).strip()


def sheet_rows(sheet) -> list[tuple[int, dict]]:
    """(Excel row number, {column: value}) for every row below the header."""
    rows = sheet.iter_rows(values_only=True)
    header = [cell_text(value) for value in next(rows, ())]
    return [(number, dict(zip(header, values, strict=False))) for number, values in enumerate(rows, start=2)
            if any(value not in (None, "") for value in values)]


def read_decisions(path: Path, reviewer: str) -> tuple[list[Decision], int]:
    """The workbook's decisions (one per row with a status or note), and how many rows it has."""
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a file that is not a workbook
        raise WorkbookError(f"{path}: not an Excel workbook ({error.__class__.__name__}: {error})") from error
    try:
        if GAP_TABLE_SHEET not in workbook.sheetnames:
            raise WorkbookError(f"{path}: no '{GAP_TABLE_SHEET}' sheet; import the gap_table.xlsx of a run")
        rows = sheet_rows(workbook[GAP_TABLE_SHEET])
        missing = [column for column in REQUIRED_COLUMNS if rows and column not in rows[0][1]]
        if missing:
            raise WorkbookError(f"{path}: the {GAP_TABLE_SHEET} sheet has no column {', '.join(missing)}")
        evidence = evidence_hashes(workbook[EVIDENCE_SHEET]) if EVIDENCE_SHEET in workbook.sheetnames else {}
    finally:
        workbook.close()
    decisions, faults = [], []
    for number, row in rows:
        typed = cell_text(row.get("reviewed_status")).lower()
        status = STATUS_NAMES.get(typed.replace("_", " ")) or STATUS_NAMES.get(typed)
        if typed and status is None:
            faults.append(f"row {number}: {typed!r} is not a status")
            continue
        note, state = cell_text(row.get("review_note")), cell_text(row.get("review_state"))
        if not status and (state == "review again" or (not note and state != "reviewed")):
            continue  # nothing typed; or a flag to review again, which only a status answers
        decisions.append(Decision(
            doc_id=cell_text(row["doc_id"]), document=cell_text(row["document"]), item_id=cell_text(row["item_id"]),
            decision=status or "", note=note, reviewer=reviewer, machine_status=cell_text(row["machine_status"]),
            machine_score=float(row["score"]) if isinstance(row["score"], int | float) else None,
            evidence_hashes=tuple(evidence.get((cell_text(row["document"]), cell_text(row["item_id"])), ())),
            origin="workbook"))
    if faults:
        choices = ", ".join(status.value for status in REVIEW_STATUSES)
        raise WorkbookError(f"{path}: nothing imported; the reviewed_status of {len(faults)} row(s) is not one of "
                            f"{choices} (or empty): " + "; ".join(faults))
    return decisions, len(rows)


def evidence_hashes(sheet) -> dict[tuple[str, str], list[str]]:
    """(document, item id) -> the hashes of its evidence passages, from the evidence sheet."""
    found: dict[tuple[str, str], list[str]] = {}
    for _, row in sheet_rows(sheet):
        key = (cell_text(row.get("document")), cell_text(row.get("item_id")))
        found.setdefault(key, []).append(passage_hash(cell_text(row.get("text"))))
    return found


def import_workbook(path: Path, store: ReviewStore, *, reviewer: str) -> ImportResult:
    """Append the workbook's new decisions to `store` in one transaction; rows that change nothing are skipped."""
    decisions, rows = read_decisions(path, reviewer)
    in_force = {(d.doc_id, d.item_id): d for d in store.latest() if not d.on_passage}
    new = [d for d in decisions if not same_decision(in_force.get((d.doc_id, d.item_id)), d)]
    store.add(new)
    return ImportResult(added=len(new), unchanged=len(decisions) - len(new), rows=rows)


def same_decision(current: Decision | None, typed: Decision) -> bool:
    """Whether a typed row says what is already in force (an empty row of a never-reviewed item says nothing)."""
    if current is None:
        return not typed.decision and not typed.note
    return current.decision == typed.decision and current.note == typed.note
