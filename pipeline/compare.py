"""Compare two documents of a run: which reference items one covers and the other misses.

The question a team asks when it sets a consultation beside the response to
it, or last year's plan beside this year's: what did one of them take up that
the other left out? The comparison reads the run's verdicts (`coverage.jsonl`, the typed file
every run writes), so it needs no re-run and works on any finished run.

By default only clear differences are listed: covered in one, missing in the
other. Partial verdicts mean "look here", not a claim, so they are listed only
when asked for (`include_partial`), each row then saying which side is stronger.
Items both documents cover but take different sides on (one supports, the other
opposes or is mixed) are listed apart, with each side's stance and best evidence:
for a consultation, where two responses disagree matters as much as what one left out.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.palette import STATUS_RANK
from pipeline.types import WITH_STANCE, Status

GAP_TABLE_FILE = "gap_table.csv"
#: The typed verdict file every run writes (pipeline/report.py): what compare reads.
VERDICTS_FILE = "coverage.jsonl"
COMPARE_COLUMNS = ("document_a", "document_b", "difference", "item_id", "framework", "group", "title", "item_text",
                   "status_a", "stance_a", "score_a", "page_a", "evidence_a", "status_b", "stance_b", "score_b",
                   "page_b", "evidence_b")
#: Verdicts that have a stance, as gap-table values (pipeline/types.py `WITH_STANCE`).
STATUSES_WITH_STANCE = frozenset(status.value for status in WITH_STANCE)


class CompareError(ValueError):
    """The comparison cannot be made as asked (unknown or repeated document, no gap table); the message says why."""


@dataclass(frozen=True)
class ComparedItem:
    """One item on which the two documents differ, with each side's verdict and best evidence."""

    item_id: str
    framework: str
    group: str
    title: str
    status_a: str
    score_a: str
    page_a: str
    evidence_a: str
    status_b: str
    score_b: str
    page_b: str
    evidence_b: str
    item_text: str = ""
    stance_a: str = ""
    stance_b: str = ""
    #: What differs: "status" (one covers, the other does not) or "stance" (both cover, on different sides).
    kind: str = "status"

    @property
    def difference(self) -> str:
        if self.kind == "stance":
            return f"{self.stance_a} in A, {self.stance_b} in B"
        return f"{self.status_a} in A, {self.status_b} in B"


@dataclass(frozen=True)
class Comparison:
    """Items stronger in A than in B (`only_a`), the reverse (`only_b`), and stance differences, in item order.

    `stance_differs`: items both documents cover (or partly cover) on different sides.
    """

    doc_a: str
    doc_b: str
    only_a: tuple[ComparedItem, ...]
    only_b: tuple[ComparedItem, ...]
    items_compared: int
    include_partial: bool
    stance_differs: tuple[ComparedItem, ...] = ()

    @property
    def rule(self) -> str:
        if self.include_partial:
            return "any difference in status (covered > partial > missing)"
        return "covered in one document and missing in the other"


def read_verdicts(run_folder: Path | str) -> list[dict]:
    """A run's verdicts as gap-table rows, read from coverage.jsonl (typed, with no spreadsheet guard to undo).

    A run written before coverage.jsonl existed is read from its gap_table.csv instead.
    """
    folder = Path(run_folder)
    path = folder / VERDICTS_FILE
    if not path.is_file():
        return read_gap_table(folder)
    rows = []
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            best = record["evidence"][0] if record["evidence"] else None
            telling = stance_evidence(record) or best
            rows.append({"document": record["document"], "doc_id": record["doc_id"],
                         "framework": record["framework"], "group": record["group"], "item_id": record["item_id"],
                         "title": record["title"], "item_text": record["item_text"], "status": record["status"],
                         "score": f"{record['score']:.3f}", "page": best["page"] if best else "",
                         "stance": record.get("stance") or "",
                         "evidence": " ".join(best["text"].split()) if best else "",
                         "stance_page": telling["page"] if telling else "",
                         "stance_evidence": " ".join(telling["text"].split()) if telling else ""})
    return rows


def stance_evidence(record: dict) -> dict | None:
    """The verdict's best evidence passage that shows its stance (for `mixed`, the best one not supporting)."""
    stance = record.get("stance")
    if not stance:
        return None
    wanted = {"opposes", "mixed"} if stance == "mixed" else {stance}
    return next((evidence for evidence in record["evidence"] if evidence.get("stance") in wanted), None)


def read_gap_table(run_folder: Path | str) -> list[dict]:
    """The rows of a run's gap_table.csv, as the report stage meant them (its formula guard undone)."""
    path = Path(run_folder) / GAP_TABLE_FILE
    if not path.is_file():
        raise CompareError(f"no {VERDICTS_FILE} or {GAP_TABLE_FILE} in {run_folder}: run "
                           f"`promise-map map CORPUS --out {run_folder}` first, or pass the run folder with --run")
    with path.open(encoding="utf-8", newline="") as stream:
        return [{column: without_formula_guard(value) for column, value in row.items()}
                for row in csv.DictReader(stream)]


def without_formula_guard(value: str) -> str:
    r"""A gap-table cell as the pipeline meant it, with the report stage's spreadsheet guard taken off.

    `report.neutralise_cell` writes `'=cmd.txt` for a document named `=cmd.txt`, so that Excel shows text, not
    a formula. Read back literally, that name could not be given to compare and would show its stray `'` on the
    page. Only the guard is removed: a `'` followed by one of `FORMULA_TRIGGERS`, at the start or after a line
    break (`a\r'=cmd.txt` -> `a\r=cmd.txt`); `'plain` and `it's` stay.
    """
    from pipeline.report import FORMULA_TRIGGERS, GUARD_AFTER_LINE_BREAK  # not at the top: report imports this

    if not isinstance(value, str):
        return value
    if value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS):
        value = value[1:]
    return GUARD_AFTER_LINE_BREAK.sub(r"\1", value)


def documents_of(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["document"] for row in rows))


def resolve_document(query: str, documents: list[str]) -> str:
    """The document `query` names: its exact file name, or a prefix or stem only one document has."""
    if query in documents:
        return query
    candidates = [name for name in documents if name.startswith(query)] or \
                 [name for name in documents if Path(name).stem == query]
    if len(candidates) == 1:
        return candidates[0]
    listed = ", ".join(documents) if documents else "(none)"
    if candidates:
        raise CompareError(f"{query!r} matches several documents ({', '.join(candidates)}); give more of the name")
    raise CompareError(f"{query!r} is not a document of this run; its documents are: {listed}")


def differs(status_a: str, status_b: str, *, include_partial: bool) -> bool:
    """Rule: a clear difference is covered on one side and missing on the other.

    Rationale: a partial verdict only says a passage shares the item's topic,
    so "partial vs missing" is a lead to check, not a finding; it is listed
    only when the reader asks for every difference.
    """
    if include_partial:
        return status_a != status_b
    return {status_a, status_b} == {Status.COVERED.value, Status.MISSING.value}


def stance_differs(row_a: dict, row_b: dict) -> bool:
    """Rule: both documents cover the item (covered or partial) and their stances on it differ.

    A missing verdict has no stance; that difference is the status difference above, not a disagreement.
    """
    stance_a, stance_b = row_a.get("stance", ""), row_b.get("stance", "")
    both_read = row_a["status"] in STATUSES_WITH_STANCE and row_b["status"] in STATUSES_WITH_STANCE
    return both_read and bool(stance_a) and bool(stance_b) and stance_a != stance_b


def compared_item(row_a: dict, row_b: dict, kind: str = "status") -> ComparedItem:
    """One compared item; for a stance difference, each side's evidence is the passage that shows its stance."""
    page, evidence = ("stance_page", "stance_evidence") if kind == "stance" else ("page", "evidence")
    return ComparedItem(
        item_id=row_a["item_id"], framework=row_a["framework"], group=row_a["group"], title=row_a["title"],
        status_a=row_a["status"], score_a=str(row_a["score"]), page_a=str(row_a.get(page, row_a["page"])),
        evidence_a=row_a.get(evidence, row_a["evidence"]), status_b=row_b["status"], score_b=str(row_b["score"]),
        page_b=str(row_b.get(page, row_b["page"])), evidence_b=row_b.get(evidence, row_b["evidence"]),
        item_text=row_a.get("item_text", ""),
        stance_a=row_a.get("stance", ""), stance_b=row_b.get("stance", ""), kind=kind,
    )


def compare_documents(rows: list[dict], doc_a: str, doc_b: str, *, include_partial: bool = False) -> Comparison:
    """Compare two documents of a run's gap table (names resolved as in `resolve_document`)."""
    documents = documents_of(rows)
    doc_a, doc_b = resolve_document(doc_a, documents), resolve_document(doc_b, documents)
    if doc_a == doc_b:
        raise CompareError(f"both names resolve to {doc_a!r}; compare needs two different documents")
    rows_a = {row["item_id"]: row for row in rows if row["document"] == doc_a}
    rows_b = {row["item_id"]: row for row in rows if row["document"] == doc_b}
    shared = [item_id for item_id in rows_a if item_id in rows_b]
    only_a: list[ComparedItem] = []
    only_b: list[ComparedItem] = []
    stances: list[ComparedItem] = []
    for item_id in shared:
        row_a, row_b = rows_a[item_id], rows_b[item_id]
        if stance_differs(row_a, row_b):
            stances.append(compared_item(row_a, row_b, kind="stance"))
        if not differs(row_a["status"], row_b["status"], include_partial=include_partial):
            continue
        stronger_in_a = STATUS_RANK[Status(row_a["status"])] > STATUS_RANK[Status(row_b["status"])]
        (only_a if stronger_in_a else only_b).append(compared_item(row_a, row_b))
    return Comparison(doc_a=doc_a, doc_b=doc_b, only_a=tuple(only_a), only_b=tuple(only_b),
                      items_compared=len(shared), include_partial=include_partial, stance_differs=tuple(stances))


def comparison_rows(comparison: Comparison) -> list[dict]:
    """The comparison as table rows (COMPARE_COLUMNS): A's stronger items, then B's, then stance differences.

    An item whose status differs only between covered and partial can be in both lists; it has a row in each.
    """
    return [{"document_a": comparison.doc_a, "document_b": comparison.doc_b, "difference": item.difference,
             "item_id": item.item_id, "framework": item.framework, "group": item.group, "title": item.title,
             "item_text": item.item_text, "status_a": item.status_a, "stance_a": item.stance_a,
             "score_a": item.score_a, "page_a": item.page_a, "evidence_a": item.evidence_a,
             "status_b": item.status_b, "stance_b": item.stance_b, "score_b": item.score_b, "page_b": item.page_b,
             "evidence_b": item.evidence_b}
            for item in (*comparison.only_a, *comparison.only_b, *comparison.stance_differs)]


#: Longest part of a comparison's file name taken from one document's name.
FILE_NAME_PART_LIMIT = 80


def comparison_file_stem(comparison: Comparison) -> str:
    """A file name for the comparison that is safe on every system: compare_<A>__<B>.

    Whole document names, extension and folder included ("2023_plan.pdf"), so that "plan.pdf" and
    "plan.docx", or "2023/plan.pdf" and "2024/plan.pdf", never write over each other's comparison; a name
    cut to fit keeps a hash of the whole.
    """
    def safe(name: str) -> str:
        cleaned = "".join(char if char.isalnum() or char in "._-" else "_" for char in name)
        if len(cleaned) <= FILE_NAME_PART_LIMIT:
            return cleaned
        return f"{cleaned[:FILE_NAME_PART_LIMIT - 9]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return f"compare_{safe(comparison.doc_a)}__{safe(comparison.doc_b)}"
