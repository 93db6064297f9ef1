"""The plain values that flow between stages: Document -> Passage -> Match -> Coverage.

Each type checks itself when built, so a bad value fails where it is made,
not three stages later in a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

#: The form every item id takes, whatever its framework: a letter, then letters and digits, optionally in parts
#: joined by "-", "_" or "." (VOICE-1, IP-01, PLAN-25, UNCRC-12). Which ids a framework holds is the
#: framework file's business (its `id_pattern`, checked by pipeline/reference.py); everywhere else an id is
#: checked for this form only, so a new framework needs no change to the code.
REF_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*$")
REF_ID_MAX_LENGTH = 40


def check_ref_id(ref_id: str) -> str:
    """Return `ref_id` unchanged, or raise if it does not have the form of a reference item id."""
    if not isinstance(ref_id, str) or len(ref_id) > REF_ID_MAX_LENGTH or not REF_ID_PATTERN.match(ref_id):
        raise ValueError(
            f"{ref_id!r} is not a reference id; an id is a letter, then letters and digits in parts joined by "
            f"'-', '_' or '.' (e.g. VOICE-1, IP-01, PLAN-25), at most {REF_ID_MAX_LENGTH} characters"
        )
    return ref_id


class BlockKind(str, Enum):
    """What a block of extracted text is; headers and footers are tagged, never deleted."""

    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    TABLE_ROW = "table_row"
    HEADER = "header"
    FOOTER = "footer"


#: Block kinds that carry the document's content (the rest is page furniture).
CONTENT_KINDS = frozenset({BlockKind.HEADING, BlockKind.PARAGRAPH, BlockKind.LIST_ITEM, BlockKind.TABLE_ROW})


@dataclass(frozen=True)
class Block:
    """A run of text on one page: a paragraph, heading, list item, table row or page furniture.

    `start`/`end` are character offsets into `Document.text`; they are set when
    the Document is assembled, so extractors can leave them at 0.
    """

    text: str
    page: int
    kind: BlockKind = BlockKind.PARAGRAPH
    level: int = 0
    start: int = 0
    end: int = 0

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValueError(f"page numbers start at 1, got {self.page}")
        if self.kind is BlockKind.HEADING and self.level < 1:
            raise ValueError("a heading needs a level of 1 or more")


@dataclass
class Extracted:
    """What an extractor returns: blocks, the page count, and problems that did not stop it.

    `notes` are reasons a person should see in errors.csv even though a Document
    was produced, e.g. "pages 3, 7 have no text layer: needs OCR".
    `engine` names the library that read the file, and any fallback taken.
    """

    blocks: list[Block]
    page_count: int
    notes: list[str] = field(default_factory=list)
    engine: str = ""


@dataclass(frozen=True)
class Document:
    """One input file's text, as blocks with page numbers, plus what identifies the file."""

    name: str
    path: str
    sha256: str
    page_count: int
    blocks: tuple[Block, ...]
    extractor: str
    notes: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The document's text; each block's `start`/`end` index into it."""
        return BLOCK_SEPARATOR.join(block.text for block in self.blocks)


BLOCK_SEPARATOR = "\n\n"


def assemble_document(*, name: str, path: str, sha256: str, page_count: int, blocks: list[Block],
                      extractor: str, notes: tuple[str, ...] = ()) -> Document:
    """Build a Document, giving each non-empty block its character span in `Document.text`."""
    placed: list[Block] = []
    offset = 0
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        placed.append(Block(text=text, page=block.page, kind=block.kind, level=block.level,
                            start=offset, end=offset + len(text)))
        offset += len(text) + len(BLOCK_SEPARATOR)
    return Document(name=name, path=path, sha256=sha256, page_count=page_count,
                    blocks=tuple(placed), extractor=extractor, notes=tuple(notes))


@dataclass(frozen=True)
class Passage:
    """A unit the classifier reads: a paragraph, a sentence window, or list items with their lead-in.

    `start`/`end` index into the document's text. `lead_in` holds the sentence
    that introduced a list, so a bullet read alone still says what it is a list of.
    """

    id: str
    doc: str
    page: int
    start: int
    end: int
    heading: str
    text: str
    lead_in: str = ""

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(f"passage {self.id}: empty span {self.start}..{self.end}")
        if not self.text.strip():
            raise ValueError(f"passage {self.id}: empty text")


@dataclass(frozen=True)
class ReferenceItem:
    """One thing a document is measured against: a call to action, an inspection principle, a plan's action.

    `attributes` are what the framework file says about the item beyond its text, as (name, value) pairs
    in file order (Plan 21-24's progress assessment): reports show them; nothing scores them.
    """

    id: str
    framework: str
    group: str
    title: str
    text: str
    source: str
    attributes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_ref_id(self.id)
        if not self.text.strip():
            raise ValueError(f"{self.id}: empty text")


@dataclass(frozen=True)
class Framework:
    """A named, versioned reference set; its items are the denominator of every coverage figure.

    `groups` are its groups (foundations, priority areas) in order; `short_name` labels it where the full
    name does not fit (plot and column headers); `default` frameworks run unless `--framework` names others;
    `sha256` is its file's, so a run can say exactly which texts it used.
    """

    id: str
    name: str
    version: str
    source: str
    items: tuple[ReferenceItem, ...]
    short_name: str = ""
    groups: tuple[str, ...] = ()
    default: bool = False
    path: str = ""
    sha256: str = ""
    #: What the file declares beyond its items: the id pattern items are held to, each group's expected
    #: count (None where the file publishes none; aligned with `groups`), and a description.
    id_pattern: str = ""
    group_counts: tuple[int | None, ...] = ()
    description: str = ""

    @property
    def label(self) -> str:
        return self.short_name or self.name


@dataclass(frozen=True)
class ReferenceSet:
    """All frameworks a run measures against, with a hash that pins exactly which texts were used."""

    frameworks: tuple[Framework, ...]
    sha256: str

    @cached_property
    def items(self) -> tuple[ReferenceItem, ...]:
        return tuple(item for framework in self.frameworks for item in framework.items)

    @cached_property
    def items_by_id(self) -> dict[str, ReferenceItem]:
        """Every item by id, made once: a report looks an item up for each of a corpus's verdicts."""
        found: dict[str, ReferenceItem] = {}
        for item in self.items:
            found.setdefault(item.id, item)
        return found

    def item(self, item_id: str) -> ReferenceItem:
        return self.items_by_id[item_id]

    def framework(self, framework_id: str) -> Framework:
        for candidate in self.frameworks:
            if candidate.id == framework_id:
                return candidate
        raise KeyError(framework_id)

    def short_names(self) -> dict[str, str]:
        """Each framework's label for headers too narrow for its full name."""
        return {framework.id: framework.label for framework in self.frameworks}


class Signal(str, Enum):
    """Which evidence produced a match; reviewers weigh a quotation and a word overlap differently."""

    QUOTE = "quote"
    TFIDF = "tfidf"
    MODEL = "model"
    #: items with no labelled examples: quotation aside, similarity of words and meaning to the item's text
    ZERO_SHOT = "zero-shot"


@dataclass(frozen=True)
class Match:
    """A passage scored against an item, with the signal and the span or words behind the score.

    `covered_at`/`partial_at` are the scores at which this match counts as
    coverage or partial coverage, when the classifier sets them per item (a
    learned model's thresholds); when None, the run's settings for the signal apply.
    """

    passage_id: str
    item_id: str
    score: float
    signal: Signal
    matched: str
    covered_at: float | None = None
    partial_at: float | None = None

    def __post_init__(self) -> None:
        check_ref_id(self.item_id)
        for name in ("score", "covered_at", "partial_at"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} {value} outside [0, 1]")


class Status(str, Enum):
    """The verdict for one document and item; a closed set so reports never meet a fourth value."""

    COVERED = "covered"
    PARTIAL = "partial"
    MISSING = "missing"
    #: a reviewer's verdict only: the item does not apply to this document (the classifier never says it)
    NOT_APPLICABLE = "not_applicable"


#: Verdicts whose evidence is read for stance and commitment: those a report presents as evidence of coverage.
WITH_STANCE = frozenset({Status.COVERED, Status.PARTIAL})


class EvidenceDecision(str, Enum):
    """What a reviewer said of one evidence passage; REVIEW_AGAIN marks a decision on text that has changed."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REVIEW_AGAIN = "review again"


class Stance(str, Enum):
    """Where a passage stands on an item's aim (docs/stance-labelling.md): the first thing a policy team asks."""

    SUPPORTS = "supports"
    OPPOSES = "opposes"
    #: support with a limiting condition, support for one part and opposition to another, or both sides reported
    MIXED = "mixed"
    #: describes, reports or quotes without taking or reporting a side
    NEUTRAL = "neutral"


class Commitment(str, Enum):
    """What a passage does about an item: a checkable action, an intention, a description, or a call on others."""

    COMMITS = "commits"
    INTENDS = "intends"
    DESCRIBES = "describes"
    CALLS_FOR = "calls_for"


#: When one passage does several things for an item, the strongest counts (docs/stance-labelling.md, 4).
COMMITMENT_PRECEDENCE = (Commitment.COMMITS, Commitment.CALLS_FOR, Commitment.INTENDS, Commitment.DESCRIBES)


def document_stance(stances: list[Stance]) -> Stance | None:
    """A document's stance on an item from its evidence passages' stances (None when no passage has one).

    Rule: a document that both supports and opposes an item is `mixed` (its passages show both); a passage's
    `mixed` makes the document mixed; otherwise the side its passages take, and `neutral` only when none takes one.
    """
    taken = set(stances)
    if not taken:
        return None
    if Stance.MIXED in taken or {Stance.SUPPORTS, Stance.OPPOSES} <= taken:
        return Stance.MIXED
    for side in (Stance.OPPOSES, Stance.SUPPORTS):
        if side in taken:
            return side
    return Stance.NEUTRAL


def document_commitment(commitments: list[Commitment]) -> Commitment | None:
    """A document's commitment on an item: the strongest of its evidence passages' (None when none has one)."""
    for kind in COMMITMENT_PRECEDENCE:
        if kind in commitments:
            return kind
    return None


@dataclass(frozen=True)
class Review:
    """A reviewer's decision in force on one document x item, as a run applies it (pipeline/review/).

    `machine_status` and `machine_score` are the classifier's verdict in this run, kept beside the reviewer's
    `status` so every output shows both. `state` is "reviewed", or "review again" when the decision was made
    on a version of the document whose evidence has since changed: then `status` is the machine's and the
    old decision is shown, not applied.
    """

    status: Status
    machine_status: Status
    machine_score: float
    reviewer: str
    decided_at: str
    note: str = ""
    state: str = "reviewed"


@dataclass(frozen=True)
class Evidence:
    """A passage offered as evidence for an item, with where to find it and why it was chosen.

    `lead_in` is the sentence that introduced the passage (a list's lead-in), empty when there is none:
    context for the reviewer, not scored. `spans` are the character spans in `text` of the words that
    drove the match (the aligned quotation, or the words that weighed most), recorded by the classifier
    so a report highlights exactly what was read, without normalising the text a second time.
    """

    passage_id: str
    page: int
    heading: str
    text: str
    score: float
    signal: Signal
    matched: str
    lead_in: str = ""
    spans: tuple[tuple[int, int], ...] = ()
    #: a reviewer's decision on this passage as evidence for the item, when there is one
    review: EvidenceDecision | None = None
    #: where the passage stands on the item's aim and what it commits to (pipeline/stance), when read for it
    stance: Stance | None = None
    commitment: Commitment | None = None

    def __post_init__(self) -> None:
        for start, end in self.spans:
            if not 0 <= start < end <= len(self.text):
                raise ValueError(f"{self.passage_id}: span {start}..{end} outside the passage's text")

    def read_as(self, stance: Stance, commitment: Commitment) -> Evidence:
        """The evidence with the stance stage's reading of it (pipeline/stance).

        Neither field bears on what `__post_init__` checks, so the checked fields are copied, not checked again:
        `dataclasses.replace` costs 3 us an evidence passage, a tenth of the stance stage; this a fifth of that.
        """
        read = object.__new__(Evidence)
        read.__dict__.update(self.__dict__, stance=stance, commitment=commitment)
        return read


@dataclass(frozen=True)
class VerdictMark:
    """A verdict as a corpus overview draws it: the item, its status, the document's stance on it; no evidence."""

    item: ReferenceItem
    status: Status
    stance: Stance | None = None


@dataclass(frozen=True)
class Coverage:
    """The verdict for one document and one item; every document gets one per item, always.

    `doc` is the document's id (its content sha256). `threshold` is the score at which the item counts as
    covered and `partial_threshold` as partial, on the item's calibrated scale (None for a classifier
    without per-item thresholds); `near_miss` is the best passage of a missing item, the closest call a
    reviewer may want to check, and `near_miss_reason` why it is not evidence when its score is not the reason
    (too short, not relevant, not about children's care, nor is the text around it; pipeline/decide.py).
    """

    doc: str
    item: ReferenceItem
    status: Status
    score: float
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    threshold: float | None = None
    partial_threshold: float | None = None
    near_miss: Evidence | None = None
    near_miss_reason: str = ""
    #: the reviewer's decision in force, when the item has been reviewed (then `status` is the reviewer's)
    review: Review | None = None

    def __post_init__(self) -> None:
        # a reviewer may say "covered" where the machine found nothing: their evidence is their note
        if self.status in (Status.COVERED, Status.PARTIAL) and not self.evidence and self.review is None:
            raise ValueError(f"{self.doc} {self.item.id}: a {self.status.value} verdict needs evidence")
        if self.status is Status.NOT_APPLICABLE and self.review is None:
            raise ValueError(f"{self.doc} {self.item.id}: only a reviewer says an item does not apply")

    def with_readings(self, evidence: tuple[Evidence, ...]) -> Coverage:
        """The verdict with its evidence as the stance stage read it: the same passages, each with a reading.

        The same passages keep every check of `__post_init__` true, so the fields are copied, not checked again
        (one verdict in a document of 68 items; `dataclasses.replace` was a twentieth of the stance stage).
        """
        if len(evidence) != len(self.evidence):
            raise ValueError(f"{self.doc} {self.item.id}: readings of {len(evidence)} passages for "
                             f"{len(self.evidence)}")
        read = object.__new__(Coverage)
        read.__dict__.update(self.__dict__, evidence=evidence)
        return read

    @property
    def machine_status(self) -> Status:
        """What the classifier said, whatever a reviewer has decided since."""
        return self.review.machine_status if self.review is not None else self.status

    @property
    def margin(self) -> float | None:
        """How far the score is above (+) or below (-) the item's covered threshold."""
        return None if self.threshold is None else round(self.score - self.threshold, 4)

    @property
    def stance(self) -> Stance | None:
        """The document's stance on the item from its evidence not rejected by a reviewer (both sides: `mixed`).

        None unless the verdict is covered or partial: a reviewer's "missing" withdraws the evidence's claim too.
        """
        if self.status not in WITH_STANCE:
            return None
        return document_stance([e.stance for e in self.evidence
                                if e.stance is not None and e.review is not EvidenceDecision.REJECTED])

    @property
    def commitment(self) -> Commitment | None:
        """The strongest commitment among the item's evidence passages; None unless covered or partial."""
        if self.status not in WITH_STANCE:
            return None
        return document_commitment([e.commitment for e in self.evidence
                                    if e.commitment is not None and e.review is not EvidenceDecision.REJECTED])

    @property
    def best(self) -> Evidence | None:
        """The passage a reviewer should read first: the best evidence, or the near miss."""
        return self.evidence[0] if self.evidence else self.near_miss


@dataclass(frozen=True)
class Skipped:
    """A file (or part of one) a stage could not use, and why, for errors.csv."""

    file: str
    stage: str
    reason: str


@dataclass(frozen=True)
class SourceFile:
    """One input file of a run: where it is, what the outputs call it, and its place in the run's order.

    `name` is for people (the file name, or its path in the corpus when names repeat); `relative` is its path
    from the corpus folder, for links from the report; `index` keeps outputs in input order whatever order
    workers finish in.
    """

    index: int
    path: str
    name: str
    relative: str = ""
    password: str | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """What identifies a mapped document: its id is its content's sha256, whatever the file is called."""

    id: str
    name: str
    path: str
    page_count: int
    extractor: str
    notes: tuple[str, ...] = ()

    @staticmethod
    def of(document: Document) -> DocumentInfo:
        return DocumentInfo(id=document.sha256, name=document.name, path=document.path,
                            page_count=document.page_count, extractor=document.extractor, notes=document.notes)


@dataclass(frozen=True)
class DocumentResult:
    """Everything a run learns about one input file, failures included: the unit a run streams and stores.

    `document` is None when the file gave no text. `lasting` is False when the outcome may differ next time
    (the file could not be opened, a worker ran out of time or memory), so it is never cached.
    """

    source: SourceFile
    document: DocumentInfo | None
    passages: tuple[Passage, ...] = ()
    matches: tuple[Match, ...] = ()
    coverages: tuple[Coverage, ...] = ()
    problems: tuple[Skipped, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict, compare=False)
    from_cache: bool = field(default=False, compare=False)
    lasting: bool = True

    @property
    def mapped(self) -> bool:
        """Whether the file gave passages to classify (its verdicts then say something about its content)."""
        return self.document is not None and bool(self.passages)
