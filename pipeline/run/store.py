"""The run store: every document's result, written as it arrives, read back one document at a time.

Why SQLite: it is in the standard library (nothing to install on a worker or a reviewer's laptop), a
single file any tool can query (`sqlite3 run.sqlite`, pandas, DuckDB's sqlite scanner), transactional
(a result is in the store whole or not at all) and indexed, so a report renders document by document
in bounded memory however large the corpus. Parquet would need pyarrow and does not take appends;
DuckDB would be one more compiled dependency for what SQLite already does.

Tables (one row per ...): `documents` (input file, in run order, with its content id or none),
`passages`, `matches`, `coverage` (document x item verdict: the final status, the machine's, the
reviewer's decision when there is one, and the document's stance and commitment from its evidence),
`evidence` (evidence passage of a verdict, best first from rank 1; rank 0 is a missing item's near miss),
`problems` (a file or part of one that could not be used). Paths are stored as the outputs show them
(bytes that are not UTF-8 escaped, pipeline/files.py). Documents are keyed by content sha256; two files
with the same bytes are one document, the second listed as a problem.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.files import display_name
from pipeline.run.serialise import passage_from_row
from pipeline.types import (
    Commitment,
    Coverage,
    DocumentInfo,
    DocumentResult,
    Evidence,
    EvidenceDecision,
    Match,
    ReferenceSet,
    Review,
    Signal,
    Skipped,
    SourceFile,
    Stance,
    Status,
    VerdictMark,
)

STORE_FILE = "run.sqlite"
#: The `problems` ordinal of rows about the corpus as a whole (the listing's), so they sort first.
LISTING_ORDINAL = -1
SCHEMA = """
CREATE TABLE documents (
    ordinal INTEGER PRIMARY KEY, doc_id TEXT UNIQUE, name TEXT NOT NULL, path TEXT NOT NULL, relative TEXT,
    pages INTEGER, extractor TEXT, notes TEXT, passages INTEGER NOT NULL DEFAULT 0, from_cache INTEGER NOT NULL,
    seconds TEXT
);
CREATE TABLE passages (
    doc_id TEXT NOT NULL, id TEXT PRIMARY KEY, page INTEGER, start INTEGER, end INTEGER, heading TEXT,
    text TEXT, lead_in TEXT
);
CREATE INDEX passages_doc ON passages (doc_id, start);
CREATE TABLE matches (
    doc_id TEXT NOT NULL, passage_id TEXT NOT NULL, item_id TEXT NOT NULL, signal TEXT NOT NULL, score REAL,
    matched TEXT, covered_at REAL, partial_at REAL, position INTEGER
);
CREATE INDEX matches_doc ON matches (doc_id, position);
CREATE TABLE coverage (
    doc_id TEXT NOT NULL, item_id TEXT NOT NULL, status TEXT NOT NULL, score REAL, threshold REAL,
    partial_threshold REAL, position INTEGER, machine_status TEXT NOT NULL, reviewer TEXT, reviewed_at TEXT,
    review_note TEXT, review_state TEXT, stance TEXT, commitment TEXT, near_miss_reason TEXT,
    PRIMARY KEY (doc_id, item_id)
);
CREATE TABLE evidence (
    doc_id TEXT NOT NULL, item_id TEXT NOT NULL, rank INTEGER NOT NULL, passage_id TEXT NOT NULL, page INTEGER,
    heading TEXT, text TEXT, score REAL, signal TEXT, matched TEXT, lead_in TEXT, spans TEXT, review TEXT,
    stance TEXT, commitment TEXT,
    PRIMARY KEY (doc_id, item_id, rank)
);
CREATE TABLE problems (ordinal INTEGER NOT NULL, file TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL);
"""


def review_cells(review: Review | None) -> tuple:
    """A verdict's review as the coverage table's reviewer, reviewed_at, review_note and review_state cells."""
    if review is None:
        return None, None, None, None
    return review.reviewer, review.decided_at, review.note, review.state


def review_of(status: str, score: float, fields: list) -> Review | None:
    """The Review a coverage row holds (machine_status, reviewer, reviewed_at, review_note, review_state)."""
    machine_status, reviewer, reviewed_at, note, state = fields
    if reviewer is None:
        return None
    return Review(status=Status(status), machine_status=Status(machine_status), machine_score=score,
                  reviewer=reviewer, decided_at=reviewed_at, note=note or "", state=state)


def value_of(member) -> str | None:
    """An enum member's stored value; None stays None."""
    return None if member is None else member.value


def ranked_evidence(coverage: Coverage) -> list[tuple[int, Evidence]]:
    """A verdict's evidence as (rank, evidence) rows: 1, 2, ... best first, and 0 for the near miss."""
    rows = list(enumerate(coverage.evidence, start=1))
    return rows + ([(0, coverage.near_miss)] if coverage.near_miss is not None else [])


class RunStore:
    """A run's results in `path` (SQLite). Write with `add` as results arrive; read with the iterators."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            self.path.unlink(missing_ok=True)
        elif not self.path.is_file():
            raise FileNotFoundError(f"no run store at {self.path}")
        self.connection = sqlite3.connect(self.path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=OFF" if create else "PRAGMA query_only=ON")
        self.connection.execute("PRAGMA synchronous=OFF")
        if create:
            self.connection.executescript(SCHEMA)
        self.names_by_id: dict[str, str] = {}

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ----------------------------------------------------------------------------------

    def add(self, result: DocumentResult) -> DocumentResult:
        """Store one file's result in one transaction; returns it, or a duplicate's problem row in its place."""
        source, info = result.source, result.document
        if info is not None and info.id in self.names_by_id:
            duplicate = Skipped(file=source.name, stage="list",
                                reason=f"same content as {self.names_by_id[info.id]}: mapped once, under that name")
            result = DocumentResult(source=source, document=None, problems=(duplicate,), seconds=result.seconds)
            info = None
        cursor = self.connection.cursor()
        cursor.execute("BEGIN")
        try:
            cursor.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
                source.index, info.id if info else None, source.name, display_name(source.path),
                display_name(source.relative),
                info.page_count if info else None, info.extractor if info else None,
                json.dumps(list(info.notes)) if info else None, len(result.passages), int(result.from_cache),
                json.dumps({k: round(v, 4) for k, v in sorted(result.seconds.items())})))
            if info is not None:
                self.write_content(cursor, info, result)
            cursor.executemany("INSERT INTO problems VALUES (?,?,?,?)",
                               [(source.index, p.file, p.stage, p.reason) for p in result.problems])
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        if info is not None:
            self.names_by_id[info.id] = source.name
        return result

    def add_problems(self, problems: Iterable[Skipped]) -> None:
        """Rows about the corpus rather than one file's result (what the listing left out): they head errors.csv."""
        self.connection.executemany("INSERT INTO problems VALUES (?,?,?,?)",
                                    [(LISTING_ORDINAL, p.file, p.stage, p.reason) for p in problems])

    @staticmethod
    def write_content(cursor: sqlite3.Cursor, info: DocumentInfo, result: DocumentResult) -> None:
        doc = info.id
        cursor.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?)", [
            (doc, p.id, p.page, p.start, p.end, p.heading, p.text, p.lead_in) for p in result.passages])
        cursor.executemany("INSERT INTO matches VALUES (?,?,?,?,?,?,?,?,?)", [
            (doc, m.passage_id, m.item_id, m.signal.value, m.score, m.matched, m.covered_at, m.partial_at, n)
            for n, m in enumerate(result.matches)])
        cursor.executemany("INSERT INTO coverage VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
            (doc, c.item.id, c.status.value, c.score, c.threshold, c.partial_threshold, n, c.machine_status.value,
             *review_cells(c.review), value_of(c.stance), value_of(c.commitment), c.near_miss_reason)
            for n, c in enumerate(result.coverages)])
        cursor.executemany("INSERT INTO evidence VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
            (doc, c.item.id, rank, e.passage_id, e.page, e.heading, e.text, e.score, e.signal.value, e.matched,
             e.lead_in, json.dumps(e.spans), value_of(e.review), value_of(e.stance), value_of(e.commitment))
            for c in result.coverages for rank, e in ranked_evidence(c)])

    # ---- reading ----------------------------------------------------------------------------------

    def sources(self) -> Iterator[tuple[SourceFile, DocumentInfo | None, dict]]:
        """Every input file in run order, with its document (None when it gave none) and its stage timings."""
        rows = self.connection.execute(
            "SELECT ordinal, doc_id, name, path, relative, pages, extractor, notes, passages, from_cache, seconds "
            "FROM documents ORDER BY ordinal")
        for ordinal, doc_id, name, path, relative, pages, extractor, notes, passages, from_cache, seconds in rows:
            source = SourceFile(index=ordinal, path=path, name=name, relative=relative or "")
            info = None if doc_id is None else DocumentInfo(id=doc_id, name=name, path=path, page_count=pages,
                                                            extractor=extractor, notes=tuple(json.loads(notes)))
            yield source, info, {"passages": passages, "from_cache": bool(from_cache),
                                 "seconds": json.loads(seconds or "{}")}

    def document_count(self) -> int:
        """How many documents were mapped (input files that gave none are not counted)."""
        return self.connection.execute("SELECT COUNT(*) FROM documents WHERE doc_id IS NOT NULL").fetchone()[0]

    def documents(self) -> list[DocumentInfo]:
        """The mapped documents, in run order (small: no passages)."""
        return [info for _, info, _ in self.sources() if info is not None]

    def coverages(self, doc_id: str, reference: ReferenceSet) -> list[Coverage]:
        """One document's verdicts, in reference order, with their evidence and near misses."""
        evidence: dict[str, list[Evidence]] = {}
        near_misses: dict[str, Evidence] = {}
        for item_id, rank, *fields in self.connection.execute(
                "SELECT item_id, rank, passage_id, page, heading, text, score, signal, matched, lead_in, spans, "
                "review, stance, commitment FROM evidence WHERE doc_id = ? ORDER BY item_id, rank", (doc_id,)):
            passage_id, page, heading, text, score, signal, matched, lead_in, spans, review, stance, commitment = fields
            found = Evidence(passage_id=passage_id, page=page, heading=heading, text=text, score=score,
                             signal=Signal(signal), matched=matched, lead_in=lead_in,
                             spans=tuple(tuple(span) for span in json.loads(spans or "[]")),
                             review=EvidenceDecision(review) if review else None,
                             stance=Stance(stance) if stance else None,
                             commitment=Commitment(commitment) if commitment else None)
            if rank == 0:
                near_misses[item_id] = found
            else:
                evidence.setdefault(item_id, []).append(found)
        return [Coverage(doc=doc_id, item=reference.item(item_id), status=Status(status), score=score,
                         evidence=tuple(evidence.get(item_id, ())), threshold=threshold,
                         partial_threshold=partial_threshold, near_miss=near_misses.get(item_id),
                         near_miss_reason=near_miss_reason or "", review=review_of(status, score, review_fields))
                for item_id, status, score, threshold, partial_threshold, near_miss_reason, *review_fields
                in self.connection.execute(
                    "SELECT item_id, status, score, threshold, partial_threshold, near_miss_reason, machine_status, "
                    "reviewer, reviewed_at, review_note, review_state FROM coverage WHERE doc_id = ? ORDER BY position",
                    (doc_id,))]

    def verdict_marks(self, doc_id: str, reference: ReferenceSet) -> list[VerdictMark]:
        """One document's verdicts as the index draws them (item, status, stance), in reference order: no evidence."""
        return [VerdictMark(item=reference.item(item_id), status=Status(status),
                            stance=Stance(stance) if stance else None)
                for item_id, status, stance in self.connection.execute(
                    "SELECT item_id, status, stance FROM coverage WHERE doc_id = ? ORDER BY position", (doc_id,))]

    def passages(self, doc_id: str) -> Iterator:
        for row in self.connection.execute(
                "SELECT id, doc_id, page, start, end, heading, text, lead_in FROM passages WHERE doc_id = ? "
                "ORDER BY start, end", (doc_id,)):
            yield passage_from_row(list(row))

    def matches(self, doc_id: str) -> Iterator[tuple[Match, int]]:
        """One document's matches in classifier order, each with its passage's page."""
        for passage_id, item_id, signal, score, matched, covered_at, partial_at, page in self.connection.execute(
                "SELECT m.passage_id, m.item_id, m.signal, m.score, m.matched, m.covered_at, m.partial_at, p.page "
                "FROM matches m JOIN passages p ON p.id = m.passage_id WHERE m.doc_id = ? ORDER BY m.position",
                (doc_id,)):
            yield Match(passage_id=passage_id, item_id=item_id, score=score, signal=Signal(signal), matched=matched,
                        covered_at=covered_at, partial_at=partial_at), page

    def problems(self) -> list[Skipped]:
        return [Skipped(file=file, stage=stage, reason=reason) for file, stage, reason in self.connection.execute(
            "SELECT file, stage, reason FROM problems ORDER BY ordinal, rowid")]

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Per item, how many documents have each status: the corpus overview, in one query."""
        return self.counts_per_item("status")

    def stance_counts(self) -> dict[str, dict[str, int]]:
        """Per item, how many documents support, oppose or are mixed on it (their evidence's stance), in one query."""
        return self.counts_per_item("stance")

    def counts_per_item(self, column: str) -> dict[str, dict[str, int]]:
        """Per item, how many documents have each value of a coverage column (`status` or `stance`; no None)."""
        if column not in ("status", "stance"):
            raise ValueError(f"not a column counted per item: {column!r}")
        counts: dict[str, dict[str, int]] = {}
        for item_id, value, number in self.connection.execute(
                f"SELECT item_id, {column}, COUNT(*) FROM coverage WHERE {column} IS NOT NULL "
                f"GROUP BY item_id, {column}"):
            counts.setdefault(item_id, {})[value] = number
        return counts

    def document_status_counts(self) -> dict[str, list[tuple[str, str]]]:
        """Per document id, its (item id, status) pairs: what the terminal summary counts."""
        pairs: dict[str, list[tuple[str, str]]] = {}
        for doc_id, item_id, status in self.connection.execute(
                "SELECT doc_id, item_id, status FROM coverage ORDER BY doc_id, position"):
            pairs.setdefault(doc_id, []).append((item_id, status))
        return pairs

    def reviewed_verdicts(self) -> list[tuple[str, str, str, str]]:
        """(item id, status, machine status, review state) of every verdict a reviewer decided on."""
        return list(self.connection.execute(
            "SELECT item_id, status, machine_status, review_state FROM coverage WHERE reviewer IS NOT NULL "
            "ORDER BY doc_id, position"))

    def verdict_count(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM coverage").fetchone()[0]

    def totals(self) -> dict[str, int]:
        one = self.connection.execute
        return {"documents": one("SELECT COUNT(*) FROM documents WHERE doc_id IS NOT NULL").fetchone()[0],
                "files": one("SELECT COUNT(*) FROM documents").fetchone()[0],
                "passages": one("SELECT COUNT(*) FROM passages").fetchone()[0],
                "matches": one("SELECT COUNT(*) FROM matches").fetchone()[0],
                "skipped": one("SELECT COUNT(*) FROM problems").fetchone()[0]}
