"""Stage 4, coverage: one document's passages -> its scores -> one verdict per reference item, always.

The classifier scores the passages' own text (pipeline/classify); its decision rule (pipeline/decide.py)
says which item each passage and the document cover. This module turns the rule's verdicts into the
values every report shows: a `Coverage` per item with its evidence passages (best first, each with the
words that drove it and their character spans, for highlighting), the item's threshold, and for a
missing item the near miss; and the `Match`es worth recording (every passage that is at least partial
evidence for an item, and every quotation).
"""

from __future__ import annotations

import dataclasses

from pipeline.classify.highlight import match_spans
from pipeline.config import Settings
from pipeline.decide import DecisionRule, ItemVerdict
from pipeline.types import Coverage, Document, Evidence, Match, Passage, ReferenceItem, Signal


def evidence_of(passage: Passage, row: int, column: int, scored, rule: DecisionRule) -> Evidence:
    """One passage as evidence for one item: its score, signal, the words behind it and where they are."""
    signal = scored.signal(row, column, rule)
    matched = scored.explain(row, column)
    return Evidence(passage_id=passage.id, page=passage.page, heading=passage.heading, text=passage.text,
                    score=round(float(scored.scores.scores[row, column]), 4), signal=signal, matched=matched,
                    lead_in=passage.lead_in, spans=match_spans(passage.text, matched, signal))


def coverage_of(doc_id: str, item: ReferenceItem, column: int, verdict: ItemVerdict, passages: list[Passage],
                scored, rule: DecisionRule) -> Coverage:
    evidence = tuple(evidence_of(passages[row], row, column, scored, rule) for row in verdict.evidence)
    near_miss = None
    if verdict.near_miss is not None:
        near_miss = evidence_of(passages[verdict.near_miss], verdict.near_miss, column, scored, rule)
    return Coverage(doc=doc_id, item=item, status=verdict.status, score=round(verdict.score, 4), evidence=evidence,
                    threshold=round(float(rule.covered_at[column]), 4),
                    partial_threshold=round(float(rule.partial_at[column]), 4), near_miss=near_miss,
                    near_miss_reason=verdict.near_miss_reason)


def recorded_matches(passages: list[Passage], items: tuple[ReferenceItem, ...], scored,
                     rule: DecisionRule) -> list[Match]:
    """Every passage x item that is at least partial evidence, in passage then item order."""
    partial = rule.passage_partial(scored.scores)
    matches = []
    for row, column in zip(*partial.nonzero(), strict=True):
        row, column = int(row), int(column)
        signal = scored.signal(row, column, rule)
        covered_at = partial_at = None
        if signal is not Signal.QUOTE:
            covered_at, partial_at = float(rule.covered_at[column]), float(rule.partial_at[column])
        matches.append(Match(passage_id=passages[row].id, item_id=items[column].id,
                             score=round(float(scored.scores.scores[row, column]), 4), signal=signal,
                             matched=scored.explain(row, column), covered_at=covered_at, partial_at=partial_at))
    return matches


def classify_document(document: Document, passages: list[Passage], classifier, items: tuple[ReferenceItem, ...],
                      settings: Settings) -> tuple[list[Match], list[Coverage]]:
    """One document's matches and verdicts (one per item, in reference order): what the per-document run calls."""
    scored = classifier.score([passage.text for passage in passages])
    rule = dataclasses.replace(classifier.rule, max_evidence=settings.max_evidence)
    verdicts = rule.item_verdicts(scored.scores)
    coverages = [coverage_of(document.sha256, item, column, verdict, passages, scored, rule)
                 for column, (item, verdict) in enumerate(zip(items, verdicts, strict=True))]
    return recorded_matches(passages, items, scored, rule), coverages
