"""The review store: every decision a reviewer makes, appended to SQLite, never changed or deleted.

A decision is about one document x item (its status and a note) or one evidence passage of it (accepted
or rejected). It is keyed by the document's content sha256, the item id and, for a passage, a hash of the
passage's text, so a renamed file or a re-run keeps its reviews, and an edited document's changed passages
can be told from the unchanged ones (pipeline/review/apply.py). Each row also records who, when, and the
machine's verdict and score at the time: the audit trail. The decision in force for a key is its newest row.

Why SQLite in WAL mode: two reviewers (two browser tabs, the app and a workbook import) may write at once;
every decision is one INSERT in its own transaction, so none is lost and the file is never half-written,
and a killed server loses at most the decision being typed. Triggers refuse UPDATE and DELETE, so the
history cannot be rewritten by this program or by a hand-run query.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipeline.types import EvidenceDecision, Status

REVIEWS_FILE = "reviews.sqlite"
SCHEMA_VERSION = "1"
#: How long a writer waits for another's transaction before giving up (a decision is one small INSERT).
BUSY_TIMEOUT_MS = 30_000
#: The decisions on an item: a status (the reviewer's verdict), or none (a note only, or cleared).
ITEM_DECISIONS = frozenset(status.value for status in Status) | {""}
#: The decisions on an evidence passage; "" takes an earlier decision back.
PASSAGE_DECISIONS = frozenset({EvidenceDecision.ACCEPTED.value, EvidenceDecision.REJECTED.value, ""})
ORIGINS = frozenset({"app", "workbook"})
MAX_NOTE_CHARS = 10_000
MAX_REVIEWER_CHARS = 100

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    decided_at TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    document TEXT NOT NULL,
    item_id TEXT NOT NULL,
    passage_hash TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    machine_status TEXT,
    machine_score REAL,
    passage_text TEXT NOT NULL DEFAULT '',
    evidence_hashes TEXT NOT NULL DEFAULT '[]',
    origin TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_key ON decisions (doc_id, item_id, passage_hash, id);
CREATE INDEX IF NOT EXISTS decisions_document ON decisions (document, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS decisions_append_only_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review history is append-only'); END;
"""
COLUMNS = ("id", "decided_at", "reviewer", "doc_id", "document", "item_id", "passage_hash", "decision", "note",
           "machine_status", "machine_score", "passage_text", "evidence_hashes", "origin")

#: A new row: every column but the id, which SQLite assigns in order.
INSERT = f"INSERT INTO decisions ({', '.join(COLUMNS[1:])}) VALUES ({', '.join('?' * (len(COLUMNS) - 1))})"


class ReviewStoreError(ValueError):
    """The review store cannot be used (not a review store, a newer schema) or a decision is not valid."""


def passage_hash(text: str) -> str:
    """What identifies an evidence passage across versions of a document: its words, spacing aside."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Decision:
    """One row of the history. `passage_hash` is "" for a decision on the item itself."""

    doc_id: str
    document: str
    item_id: str
    decision: str
    reviewer: str
    passage_hash: str = ""
    note: str = ""
    machine_status: str | None = None
    machine_score: float | None = None
    passage_text: str = ""
    evidence_hashes: tuple[str, ...] = ()
    origin: str = "app"
    decided_at: str = field(default_factory=now)
    id: int | None = None

    def __post_init__(self) -> None:
        allowed = PASSAGE_DECISIONS if self.passage_hash else ITEM_DECISIONS
        if self.decision not in allowed:
            kind = "an evidence passage" if self.passage_hash else "an item"
            raise ReviewStoreError(f"{self.decision!r} is not a decision on {kind}; choose one of "
                                   f"{', '.join(sorted(value for value in allowed if value))}")
        if not self.reviewer.strip() or len(self.reviewer) > MAX_REVIEWER_CHARS:
            raise ReviewStoreError(f"a decision needs the reviewer's name (1-{MAX_REVIEWER_CHARS} characters)")
        if len(self.note) > MAX_NOTE_CHARS:
            raise ReviewStoreError(f"a note is at most {MAX_NOTE_CHARS} characters")
        if self.origin not in ORIGINS:
            raise ReviewStoreError(f"unknown origin {self.origin!r}")

    @property
    def on_passage(self) -> bool:
        return bool(self.passage_hash)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.doc_id, self.item_id, self.passage_hash

    @property
    def in_force(self) -> bool:
        """Whether the decision says anything (an empty item decision with no note takes the review back)."""
        return bool(self.decision or (not self.on_passage and self.note))

    def row(self) -> tuple:
        values = asdict(self)
        values["evidence_hashes"] = json.dumps(list(self.evidence_hashes))
        return tuple(values[column] for column in COLUMNS)

    @staticmethod
    def of_row(row: sqlite3.Row | tuple) -> Decision:
        values = dict(zip(COLUMNS, row, strict=True))
        values["evidence_hashes"] = tuple(json.loads(values["evidence_hashes"] or "[]"))
        return Decision(**values)


class ReviewStore:
    """Reviewers' decisions in a SQLite file: `add` appends, `latest` gives the decisions in force.

    A connection is opened per call, so one store object can serve a threaded web server, and two
    processes can write the same file at once.
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise ReviewStoreError(f"no review store at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as connection:
            try:
                connection.executescript(SCHEMA)
                version = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if version is None:
                    connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                elif version[0] != SCHEMA_VERSION:
                    raise ReviewStoreError(f"{self.path}: review store schema {version[0]}, this promise-map "
                                           f"reads {SCHEMA_VERSION}")
                connection.execute("SELECT " + ", ".join(COLUMNS) + " FROM decisions LIMIT 1").fetchall()
            except sqlite3.DatabaseError as error:
                raise ReviewStoreError(f"{self.path} is not a promise-map review store ({error})") from error

    def connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as error:
            raise ReviewStoreError(f"{self.path} is not a promise-map review store ({error})") from error
        return ClosingConnection(connection)

    def add(self, decisions: Decision | Iterable[Decision]) -> list[int]:
        """Append decisions in one transaction (all or none); returns their ids."""
        batch = [decisions] if isinstance(decisions, Decision) else list(decisions)
        ids = []
        with self.connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                for decision in batch:
                    cursor = connection.execute(INSERT, decision.row()[1:])
                    ids.append(cursor.lastrowid)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return ids

    def history(self) -> Iterator[Decision]:
        """Every decision ever made, oldest first: the audit trail."""
        with self.connect() as connection:
            for row in connection.execute(f"SELECT {', '.join(COLUMNS)} FROM decisions ORDER BY id"):
                yield Decision.of_row(row)

    def latest(self, doc_ids: Iterable[str] | None = None) -> list[Decision]:
        """The decision in force for every key (the newest row of each), for `doc_ids` or every document."""
        query = (f"SELECT {', '.join(COLUMNS)} FROM decisions WHERE id IN "
                 "(SELECT MAX(id) FROM decisions GROUP BY doc_id, item_id, passage_hash)")
        with self.connect() as connection:
            decisions = [Decision.of_row(row) for row in connection.execute(query + " ORDER BY id")]
        if doc_ids is not None:
            wanted = set(doc_ids)
            decisions = [decision for decision in decisions if decision.doc_id in wanted]
        return [decision for decision in decisions if decision.in_force]

    def sha256(self) -> str:
        """A hash of the whole history: what a run records to say which reviews it applied."""
        digest = hashlib.sha256()
        for decision in self.history():
            digest.update(json.dumps(decision.row(), ensure_ascii=False).encode("utf-8") + b"\n")
        return digest.hexdigest()

    def count(self) -> int:
        with self.connect() as connection:
            return connection.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


class ClosingConnection:
    """A sqlite3 connection that closes when its `with` block ends (sqlite3's own only ends a transaction)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def execute(self, *args):
        return self.connection.execute(*args)
