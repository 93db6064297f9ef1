"""Reviews applied to a run: each document's verdicts carry the reviewer's decisions in force.

Rules (and why):
- A document's decisions are found by its content sha256, so a renamed or moved file keeps them.
- A reviewed item's status is the reviewer's, whatever the classifier says now; the machine's is kept
  beside it (`Review.machine_status`), so every output shows both and agreement can be measured.
- An evidence passage's decision is found by the hash of its text, so it follows the passage wherever
  it now sits in the document.
- A document with no decisions of its own whose name was reviewed under other content is an edited version:
  its decisions are carried over only where the evidence they were made on is unchanged. Where the item's
  evidence now holds a passage the reviewer never saw, or a passage they decided on is gone, the item is
  "review again": the machine's status stands, the old decision is shown, the new passages are flagged.
  A changed document is never silently given the verdict of the old one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from pipeline.review.store import Decision, ReviewStore, passage_hash
from pipeline.types import Coverage, DocumentResult, Evidence, EvidenceDecision, Review, Status

REVIEWED = "reviewed"
REVIEW_AGAIN = "review again"


class ReviewBook:
    """The decisions in force of a review store, held in memory for a run (a few per reviewed item)."""

    def __init__(self, store: ReviewStore) -> None:
        self.store = store
        #: (document id, item id) -> the decision on the item, and the decisions on its passages by text hash
        self.on_items: dict[tuple[str, str], Decision] = {}
        self.on_passages: dict[tuple[str, str], dict[str, Decision]] = {}
        #: each document name's newest reviewed content id: how an edited document is recognised
        self.doc_by_name: dict[str, str] = {}
        newest: dict[str, int] = {}
        for decision in store.latest():
            if decision.on_passage:
                self.on_passages.setdefault((decision.doc_id, decision.item_id), {})[decision.passage_hash] = decision
            else:
                self.on_items[decision.doc_id, decision.item_id] = decision
            if decision.id > newest.get(decision.document, -1):
                newest[decision.document], self.doc_by_name[decision.document] = decision.id, decision.doc_id
        self.reviewed_docs = {doc_id for doc_id, _ in [*self.on_items, *self.on_passages]}
        self.counts: Counter[str] = Counter()
        self.sha256 = store.sha256()

    def describe(self) -> dict:
        """What run.json records: which store, its history's hash, and what this run applied."""
        in_force = len(self.on_items) + sum(map(len, self.on_passages.values()))
        return {"store": str(self.store.path), "sha256": self.sha256, "decisions": self.store.count(),
                "in_force": in_force, **{key: self.counts[key] for key in (
                    "items_reviewed", "items_review_again", "passages_decided", "passages_review_again",
                    "documents_carried_from_earlier_version")}}

    def apply(self, result: DocumentResult) -> DocumentResult:
        """`result` with its verdicts' reviews; a document nobody reviewed comes back unchanged."""
        if result.document is None or not result.coverages:
            return result
        doc_id, name = result.document.id, result.source.name
        source_doc = doc_id if doc_id in self.reviewed_docs else self.doc_by_name.get(name)
        if source_doc is None:
            return result
        edited = source_doc != doc_id
        if edited:
            self.counts["documents_carried_from_earlier_version"] += 1
        present = {passage_hash(passage.text) for passage in result.passages}
        coverages = tuple(self.reviewed(coverage, source_doc, edited, present) for coverage in result.coverages)
        return replace(result, coverages=coverages)

    def reviewed(self, coverage: Coverage, source_doc: str, edited: bool, present: set[str]) -> Coverage:
        item_id = coverage.item.id
        decided = self.on_passages.get((source_doc, item_id), {})
        item_decision = self.on_items.get((source_doc, item_id))
        if item_decision is None and not decided:
            return coverage
        reviewed_on = set(item_decision.evidence_hashes) if item_decision else set()
        seen = set(decided) | reviewed_on
        evidence = tuple(self.marked(e, decided, seen, edited and item_decision is not None)
                         for e in coverage.evidence)
        changed = edited and (any(e.review is EvidenceDecision.REVIEW_AGAIN for e in evidence)
                              or any(key not in present for key in seen))
        self.counts["passages_decided"] += sum(e.review in (EvidenceDecision.ACCEPTED, EvidenceDecision.REJECTED)
                                               for e in evidence)
        self.counts["passages_review_again"] += sum(e.review is EvidenceDecision.REVIEW_AGAIN for e in evidence)
        if item_decision is None:
            return replace(coverage, evidence=evidence)
        state = REVIEW_AGAIN if changed else REVIEWED
        self.counts["items_review_again" if changed else "items_reviewed"] += 1
        status = (Status(item_decision.decision) if item_decision.decision and not changed
                  else coverage.status)
        review = Review(status=status, machine_status=coverage.status, machine_score=coverage.score,
                        reviewer=item_decision.reviewer, decided_at=item_decision.decided_at,
                        note=item_decision.note, state=state)
        if not item_decision.decision:  # a note only: the machine's status stands, the note is shown
            review = replace(review, state=REVIEW_AGAIN if changed else "note")
        return replace(coverage, status=status, evidence=evidence, review=review)

    @staticmethod
    def marked(evidence: Evidence, decided: dict[str, Decision], seen: set[str], flag_new: bool) -> Evidence:
        """An evidence passage with the reviewer's decision on it, or flagged when it is new to them."""
        key = passage_hash(evidence.text)
        if key in decided:
            return replace(evidence, review=EvidenceDecision(decided[key].decision))
        if flag_new and key not in seen:
            return replace(evidence, review=EvidenceDecision.REVIEW_AGAIN)
        return evidence
