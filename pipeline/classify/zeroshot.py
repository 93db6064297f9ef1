"""Scoring items nobody has labelled: quotation and similarity to the item's text, calibrated on labelled items.

A team's own framework (a council's commitments, a funder's outcomes, Plan 21-24's actions) has no
labelled passages, so no item model can be learned for it. What needs no examples is how close a passage
is to the item's own words: a near-verbatim quotation of one of its sentences, and the TF-IDF similarity
over lemmas and domain concepts (pipeline/classify/lexical.py). What a similarity of 0.3 *means* is
learned where labels exist: one sigmoid from similarity to the probability of coverage, pooled over the
labelled frameworks' items and fitted on their real passages, and thresholds chosen on that scale as the
learned model's are (passage F1-best; a document's best passage F0.5-best). The learned model's
relevance and domain gates (the off-topic guard) apply to zero-shot items exactly as to trained ones.

Measured as if the 68 Promise items had no training data (`make eval`, docs/accuracy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.classify.calibrate import (
    PARTIAL_SHARE,
    choose_document_threshold,
    choose_thresholds,
    fit_sigmoid,
    sigmoid,
)
from pipeline.classify.lexical import LexicalMatcher
from pipeline.classify.quote import QuoteMatcher
from pipeline.classify.text import Lexicon
from pipeline.types import ReferenceItem

#: What the report and run.json say about a framework scored this way.
ZERO_SHOT_METHOD = "zero-shot: no labelled examples for this framework"


@dataclass
class ZeroShotCalibration:
    """Similarity -> probability of coverage (one sigmoid for every item), and the thresholds on that scale."""

    slope_: float = 0.0
    intercept_: float = 0.0
    covered_at_: float = 0.5
    document_covered_at_: float = 0.5

    def fit(self, similarity: np.ndarray, targets: np.ndarray, groups: list[str],
            evidence: np.ndarray) -> ZeroShotCalibration:
        """Learn from labelled passages' similarities to their framework's items ([passages, items] each).

        `groups` are the passages' cross-validation groups ("doc:..." for real documents) and `evidence`
        which passages are long enough to be evidence: the document threshold is chosen over real documents.
        """
        self.slope_, self.intercept_ = fit_sigmoid(similarity.ravel(), targets.ravel().astype(float))
        probabilities = self.transform(similarity)
        _, self.covered_at_ = choose_thresholds(probabilities, targets)
        self.document_covered_at_ = choose_document_threshold(probabilities, targets, groups, evidence,
                                                              floor=self.covered_at_)
        return self

    def transform(self, similarity: np.ndarray) -> np.ndarray:
        return sigmoid(self.slope_ * np.asarray(similarity, dtype=float) + self.intercept_)

    @property
    def partial_at(self) -> float:
        return self.covered_at_ * PARTIAL_SHARE

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"parameters": np.array([self.slope_, self.intercept_, self.covered_at_, self.document_covered_at_])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ZeroShotCalibration:
        slope, intercept, covered_at, document_covered_at = (float(value) for value in arrays["parameters"])
        return cls(slope_=slope, intercept_=intercept, covered_at_=covered_at,
                   document_covered_at_=document_covered_at)

    def describe(self) -> dict:
        return {"method": ZERO_SHOT_METHOD,
                "scores": "quotation of an item sentence; TF-IDF similarity to the item's text over lemmas and "
                          "domain concepts, made a probability by one sigmoid fitted on the labelled frameworks' "
                          "real passages",
                "sigmoid": [round(self.slope_, 4), round(self.intercept_, 4)],
                "covered_at": round(self.covered_at_, 4), "document_covered_at": round(self.document_covered_at_, 4)}


@dataclass
class ZeroShotScorer:
    """Quotation and calibrated similarity of passages to items that have no labelled examples.

    `context_items` join the items when the similarity's word weights are learned (a word's rarity among
    seven items says little; among a hundred, more); only `items` are scored.
    """

    calibration: ZeroShotCalibration
    lexicon: Lexicon | None = None

    def fit(self, items: tuple[ReferenceItem, ...], context_items: tuple[ReferenceItem, ...] = ()) -> ZeroShotScorer:
        if not items:
            raise ValueError("fit needs at least one reference item")
        scored_ids = {item.id for item in items}
        self.items_ = tuple(items)
        matched = tuple(items) + tuple(item for item in context_items if item.id not in scored_ids)
        self.lexical_ = LexicalMatcher(lexicon=self.lexicon).fit(matched)
        self.quote_ = QuoteMatcher().fit(list(items))
        return self

    def score(self, texts: list[str], *, prepared: list[str] | None = None) -> tuple[np.ndarray, list, object]:
        """Probabilities [texts, items], quotation hits, and the passages' TF-IDF rows (to explain a match)."""
        similarity, rows = self.lexical_.similarity(texts, prepared=prepared)
        return self.calibration.transform(similarity[:, :len(self.items_)]), self.quote_.hits(texts), rows

    def explain(self, rows, row: int, column: int, phrases: dict[str, tuple[str, ...]]) -> str:
        return self.lexical_.shared_terms(rows[row], column, phrases)
