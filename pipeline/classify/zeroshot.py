"""Scoring items nobody has labelled: quotation and similarity to the item's text, calibrated on labelled items.

A team's own framework (a council's commitments, a funder's outcomes, Plan 21-24's actions) has no
labelled passages, so no item model can be learned for it. What needs no examples is how close a passage
is to the item's own words and meaning: a near-verbatim quotation of one of its sentences, the TF-IDF
similarity over lemmas and domain concepts (pipeline/classify/lexical.py), and the semantic similarity of
a sentence-embedding model (pipeline/classify/semantic.py). What a similarity *means* is learned where
labels exist: a logistic model from the two similarities to the probability of coverage, pooled over the
labelled frameworks' items and fitted on their real passages, and thresholds chosen on that scale as the
learned model's are (passage F1-best; a document's best passage F0.5-best). The learned model's
relevance and domain gates (the off-topic guard) apply to zero-shot items exactly as to trained ones.

The embedding model is slow beside everything else, so it reads only passages that can be evidence (long
enough, relevant, in the domain: the gates of pipeline/decide.py); a passage that cannot be evidence gets
the probability of its TF-IDF similarity alone (one sigmoid fitted on the same passages), which decides
nothing and only shows how near it came.

Measured as if the 68 Promise items had no training data (`make eval`, docs/accuracy.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from pipeline.classify.semantic import MODEL_NAME, SHARED_ENCODER, SentenceEncoder
from pipeline.classify.text import Lexicon
from pipeline.types import ReferenceItem

#: What the report and run.json say about a framework scored this way.
ZERO_SHOT_METHOD = "zero-shot: no labelled examples for this framework"


#: The logistic model's regularisation (scikit-learn's C): three parameters over some 170,000 pairs.
LOGISTIC_C = 10.0


@dataclass
class ZeroShotCalibration:
    """Similarities -> probability of coverage (one model for every item), and the thresholds on that scale.

    `slope_`/`intercept_`: the sigmoid over TF-IDF similarity alone; `semantic_`: the logistic model's
    weights over (TF-IDF, semantic) similarity and its intercept, empty when fitted without semantic.
    """

    slope_: float = 0.0
    intercept_: float = 0.0
    covered_at_: float = 0.5
    document_covered_at_: float = 0.5
    semantic_: tuple[float, ...] = ()

    def fit(self, similarity: np.ndarray, targets: np.ndarray, groups: list[str],
            evidence: np.ndarray, semantic: np.ndarray | None = None) -> ZeroShotCalibration:
        """Learn from labelled passages' similarities to their framework's items ([passages, items] each).

        `groups` are the passages' cross-validation groups ("doc:..." for real documents) and `evidence`
        which passages are long enough to be evidence: the document threshold is chosen over real documents.
        `semantic` (optional) is the embedding model's similarity of the same pairs.
        """
        self.slope_, self.intercept_ = fit_sigmoid(similarity.ravel(), targets.ravel().astype(float))
        self.semantic_ = ()
        if semantic is not None:
            from sklearn.linear_model import LogisticRegression

            pairs = np.column_stack([np.ravel(similarity), np.ravel(semantic)])
            model = LogisticRegression(C=LOGISTIC_C).fit(pairs, targets.ravel().astype(int))
            self.semantic_ = (*(float(weight) for weight in model.coef_[0]), float(model.intercept_[0]))
        probabilities = self.transform(similarity, semantic)
        _, self.covered_at_ = choose_thresholds(probabilities, targets)
        self.document_covered_at_ = choose_document_threshold(probabilities, targets, groups, evidence,
                                                              floor=self.covered_at_)
        return self

    @property
    def uses_semantic(self) -> bool:
        return bool(self.semantic_)

    def transform(self, similarity: np.ndarray, semantic: np.ndarray | None = None,
                  read: np.ndarray | None = None) -> np.ndarray:
        """Probabilities [passages, items]; `read` marks the passages whose `semantic` row was computed."""
        similarity = np.asarray(similarity, dtype=float)
        lexical = sigmoid(self.slope_ * similarity + self.intercept_)
        if semantic is None or not self.semantic_:
            return lexical
        lexical_weight, semantic_weight, intercept = self.semantic_
        both = sigmoid(lexical_weight * similarity + semantic_weight * np.asarray(semantic, dtype=float) + intercept)
        if read is None:
            return both
        return np.where(np.asarray(read, dtype=bool)[:, None], both, lexical)

    @property
    def partial_at(self) -> float:
        return self.covered_at_ * PARTIAL_SHARE

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"parameters": np.array([self.slope_, self.intercept_, self.covered_at_, self.document_covered_at_]),
                "semantic": np.array(self.semantic_, dtype=float)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ZeroShotCalibration:
        slope, intercept, covered_at, document_covered_at = (float(value) for value in arrays["parameters"])
        semantic = tuple(float(value) for value in arrays.get("semantic", ()))
        if semantic and len(semantic) != 3:
            raise ValueError("the zero-shot semantic model needs two weights and an intercept")
        return cls(slope_=slope, intercept_=intercept, covered_at_=covered_at,
                   document_covered_at_=document_covered_at, semantic_=semantic)

    def describe(self) -> dict:
        described = {"method": ZERO_SHOT_METHOD,
                     "scores": "quotation of an item sentence; TF-IDF similarity to the item's text over lemmas "
                               "and domain concepts, made a probability by one sigmoid fitted on the labelled "
                               "frameworks' real passages",
                     "sigmoid": [round(self.slope_, 4), round(self.intercept_, 4)],
                     "covered_at": round(self.covered_at_, 4),
                     "document_covered_at": round(self.document_covered_at_, 4)}
        if self.semantic_:
            described["scores"] = ("quotation of an item sentence; TF-IDF similarity to the item's text over lemmas "
                                   "and domain concepts and semantic similarity by a sentence-embedding model, made a "
                                   "probability by one logistic model fitted on the labelled frameworks' real "
                                   "passages (TF-IDF alone for passages that cannot be evidence)")
            described["semantic_model"] = MODEL_NAME
            described["logistic"] = [round(value, 4) for value in self.semantic_]
        return described


@dataclass
class ZeroShotScorer:
    """Quotation and calibrated similarity of passages to items that have no labelled examples.

    `context_items` join the items when the similarity's word weights are learned (a word's rarity among
    seven items says little; among a hundred, more); only `items` are scored.
    """

    calibration: ZeroShotCalibration
    lexicon: Lexicon | None = None
    encoder: SentenceEncoder = field(default_factory=lambda: SHARED_ENCODER)

    def fit(self, items: tuple[ReferenceItem, ...], context_items: tuple[ReferenceItem, ...] = ()) -> ZeroShotScorer:
        if not items:
            raise ValueError("fit needs at least one reference item")
        scored_ids = {item.id for item in items}
        self.items_ = tuple(items)
        matched = tuple(items) + tuple(item for item in context_items if item.id not in scored_ids)
        self.lexical_ = LexicalMatcher(lexicon=self.lexicon).fit(matched)
        self.quote_ = QuoteMatcher().fit(list(items))
        return self

    def score(self, texts: list[str], *, prepared: list[str] | None = None,
              evidence: np.ndarray | None = None) -> tuple[np.ndarray, list, object]:
        """Probabilities [texts, items], quotation hits, and the passages' TF-IDF rows (to explain a match).

        `evidence` marks the passages that can be evidence (the decision rule's gates): only those are read
        by the embedding model (all of them when it is None).
        """
        similarity, rows = self.lexical_.similarity(texts, prepared=prepared)
        similarity = similarity[:, :len(self.items_)]
        semantic, read = None, None
        if self.calibration.uses_semantic:
            read = np.ones(len(texts), dtype=bool) if evidence is None else np.asarray(evidence, dtype=bool)
            semantic = np.zeros(similarity.shape)
            chosen = np.flatnonzero(read)
            if chosen.size:
                semantic[chosen] = self.encoder.similarity([texts[row] for row in chosen],
                                                           [item.text for item in self.items_])
        return self.calibration.transform(similarity, semantic, read), self.quote_.hits(texts), rows

    def explain(self, rows, row: int, column: int, phrases: dict[str, tuple[str, ...]]) -> str:
        return self.lexical_.shared_terms(rows[row], column, phrases)
