"""Stage 4, coverage: Matches -> one verdict per document and reference item, always.

For each document x item the verdict is the strongest status any of the
document's passages earns for that item:
- covered: some passage quotes the item or scores at the signal's `covered` threshold;
- covered by corroboration: no single passage is enough, but several passages
  each share much of the item's distinctive vocabulary (see `corroborated`);
- partial: the best passage only reaches the `partial` threshold (a shared topic, to check);
- missing: no passage reaches either.
Every covered or partial verdict carries its evidence passages, best first.
"""

from __future__ import annotations

from collections import defaultdict

from pipeline.config import Settings
from pipeline.types import Coverage, Document, Evidence, Match, Passage, ReferenceItem, Signal, Status

STATUS_RANK = {Status.COVERED: 2, Status.PARTIAL: 1, Status.MISSING: 0}


def match_status(match: Match, settings: Settings) -> Status:
    """The status one match earns: by its own per-item thresholds if it has them, else the signal's."""
    thresholds = settings.thresholds.get(match.signal.value)
    covered_at = match.covered_at if match.covered_at is not None else thresholds.covered
    partial_at = match.partial_at if match.partial_at is not None else thresholds.partial
    if match.score >= covered_at:
        return Status.COVERED
    if match.score >= partial_at:
        return Status.PARTIAL
    return Status.MISSING


def compute_coverage(documents: list[Document], items: tuple[ReferenceItem, ...], passages: list[Passage],
                     matches: list[Match], settings: Settings) -> list[Coverage]:
    """One Coverage per document x item, in document then reference order."""
    passages_by_id = {passage.id: passage for passage in passages}
    graded: dict[tuple[str, str], list[tuple[Status, Match]]] = defaultdict(list)
    for match in matches:
        status = match_status(match, settings)
        if status is not Status.MISSING:
            graded[(passages_by_id[match.passage_id].doc, match.item_id)].append((status, match))
    return [item_coverage(document.sha256, item, graded.get((document.sha256, item.id), []), passages_by_id,
                          settings)
            for document in documents for item in items]


def classify_document(document: Document, passages: list[Passage], classifier, items: tuple[ReferenceItem, ...],
                      settings: Settings) -> tuple[list[Match], list[Coverage]]:
    """One document's matches and verdicts (one per item): what the per-document run calls."""
    matches = classifier.predict(passages)
    return matches, compute_coverage([document], items, passages, matches, settings)


def corroborated(graded: list[tuple[Status, Match]], settings: Settings) -> bool:
    """Rule: an item discussed in several passages is covered even if no one passage says it all.

    Rationale: documents address an item across a section (a heading, its
    lead-in and the bullets under it); each part alone shares only some of the
    item's words, but several such passages together are what a reader calls
    coverage. Two passages at 0.30 is well above what unrelated text scores.
    """
    if any(status is Status.COVERED for status, _ in graded):
        return False
    strong = {match.passage_id for _, match in graded if supports_corroboration(match, settings)}
    return len(strong) >= settings.corroboration_passages


def supports_corroboration(match: Match, settings: Settings) -> bool:
    return match.signal is Signal.TFIDF and match.score >= settings.corroboration_score


def item_coverage(doc: str, item: ReferenceItem, graded: list[tuple[Status, Match]],
                  passages_by_id: dict[str, Passage], settings: Settings) -> Coverage:
    if not graded:
        return Coverage(doc=doc, item=item, status=Status.MISSING, score=0.0)
    if corroborated(graded, settings):
        graded = [(Status.COVERED, match) if supports_corroboration(match, settings) else (status, match)
                  for status, match in graded]
    # Best first: stronger status, then a quotation before other signals (it is the easiest evidence to
    # check), then higher score, then earlier passage for a stable order.
    ranked = sorted(graded, key=lambda sm: (-STATUS_RANK[sm[0]], sm[1].signal is not Signal.QUOTE, -sm[1].score,
                                            sm[1].passage_id))
    evidence: list[Evidence] = []
    for _, match in ranked:
        if any(e.passage_id == match.passage_id for e in evidence):
            continue
        passage = passages_by_id[match.passage_id]
        evidence.append(Evidence(passage_id=passage.id, page=passage.page, heading=passage.heading,
                                 text=passage.text, score=match.score, signal=match.signal, matched=match.matched,
                                 lead_in=passage.lead_in))
        if len(evidence) == settings.max_evidence:
            break
    best_status, best_match = ranked[0]
    return Coverage(doc=doc, item=item, status=best_status, score=best_match.score, evidence=tuple(evidence))
