"""The run's classifier over any frameworks: learned item models where there are labels, zero-shot elsewhere.

The learned model (PromiseClassifier) knows the items it was trained on: the shipped frameworks that have
labelled passages. A run may measure against others too (Plan 21-24, a council's own framework). This
wrapper gives the run one classifier over exactly the run's items, in the run's order: each item scored by
its learned model when there is one, by quotation and calibrated similarity when there is none
(pipeline/classify/zeroshot.py), and every passage gated by the learned model's relevance and domain models.
Items are never mixed within a framework in practice (item ids are unique across frameworks), so each
framework has one method, which run.json records and the report shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.classify import PromiseClassifier, Scored
from pipeline.classify.zeroshot import ZERO_SHOT_METHOD, ZeroShotScorer
from pipeline.decide import DecisionRule, PassageScores
from pipeline.types import ReferenceItem, Signal

LEARNED_METHOD = "learned: item models trained on labelled passages"
LEXICAL_METHOD = "lexical: quotation and TF-IDF similarity with fixed thresholds (no labelled data used)"


@dataclass
class FrameworkClassifier:
    """`trained`'s item models for the items it knows, zero-shot scoring for the rest of `items`.

    With `learned_items=False` every item is scored zero-shot: how `eval` measures what zero-shot scoring
    gives on items that do have labels.
    """

    trained: PromiseClassifier
    items: tuple[ReferenceItem, ...]
    learned_items: bool = True

    def __post_init__(self) -> None:
        self.items = tuple(self.items)
        known = {item.id: index for index, item in enumerate(self.trained.items_)} if self.learned_items else {}
        self.learned_ = [(column, known[item.id]) for column, item in enumerate(self.items) if item.id in known]
        self.zero_shot_columns_ = [column for column, item in enumerate(self.items) if item.id not in known]
        self.zero_shot_ = None
        if self.zero_shot_columns_:
            self.zero_shot_ = ZeroShotScorer(self.trained.zero_shot_, lexicon=self.trained.lexicon).fit(
                tuple(self.items[column] for column in self.zero_shot_columns_), self.trained.items_)

    @property
    def items_(self) -> tuple[ReferenceItem, ...]:
        return self.items

    @property
    def training_sha256_(self) -> str | None:
        return getattr(self.trained, "training_sha256_", None)

    def score(self, texts: list[str]) -> Scored:
        """Scores of `texts` against the run's items: learned columns copied, zero-shot columns computed."""
        base = self.trained.score(texts)
        n_texts, n_items = len(texts), len(self.items)
        probabilities, quotes = np.zeros((n_texts, n_items)), np.zeros((n_texts, n_items))
        columns = [column for column, _ in self.learned_]
        sources = [source for _, source in self.learned_]
        if columns:
            probabilities[:, columns] = base.scores.probabilities[:, sources]
            quotes[:, columns] = base.scores.quotes[:, sources]
        spans = {(row, column): base.quote_spans[(row, source)] for column, source in self.learned_
                 for row in range(n_texts) if (row, source) in base.quote_spans}
        rows = None
        if self.zero_shot_ is not None and n_texts:
            zero_probabilities, hits, rows = self.zero_shot_.score(
                texts, prepared=base.prepared, evidence=self.trained.rule.relevant(base.scores))
            probabilities[:, self.zero_shot_columns_] = zero_probabilities
            for hit in hits:
                column = self.zero_shot_columns_[hit.item]
                quotes[hit.passage, column] = hit.score
                spans[(hit.passage, column)] = hit.span
        scores = PassageScores(probabilities=probabilities, quotes=quotes, relevance=base.scores.relevance,
                               words=base.scores.words, domain=base.scores.domain)
        source_of = dict(self.learned_)
        zero_index = {column: index for index, column in enumerate(self.zero_shot_columns_)}
        quote_at = self.trained.rule.quote_at

        def explain(row: int, column: int) -> str:
            if column in source_of:
                return base.explain(row, source_of[column])
            if (row, column) in spans and quotes[row, column] >= quote_at:
                return spans[(row, column)]
            return self.zero_shot_.explain(rows, row, zero_index[column], base.phrases[row])

        signals = tuple(Signal.MODEL if column in source_of else Signal.ZERO_SHOT for column in range(n_items))
        return Scored(scores=scores, explain=explain, quote_spans=spans, column_signals=signals,
                      prepared=base.prepared, phrases=base.phrases)

    @property
    def rule(self) -> DecisionRule:
        base = self.trained.rule
        covered_at, partial_at = np.zeros(len(self.items)), np.zeros(len(self.items))
        document_covered_at = np.zeros(len(self.items))
        base_document = base.covered_at if base.document_covered_at is None else base.document_covered_at
        for column, source in self.learned_:
            covered_at[column], partial_at[column] = base.covered_at[source], base.partial_at[source]
            document_covered_at[column] = base_document[source]
        method = dict(base.method)
        if self.zero_shot_ is not None:
            calibration = self.zero_shot_.calibration
            covered_at[self.zero_shot_columns_] = calibration.covered_at_
            partial_at[self.zero_shot_columns_] = calibration.partial_at
            document_covered_at[self.zero_shot_columns_] = calibration.document_covered_at_
            method["zero_shot"] = calibration.describe()
        return DecisionRule(covered_at=covered_at, partial_at=partial_at, relevance_at=base.relevance_at,
                            min_relevant_passages=base.min_relevant_passages,
                            min_relevant_share=base.min_relevant_share, min_relevant_rate=base.min_relevant_rate,
                            min_words=base.min_words, domain_at=base.domain_at, domain_window=base.domain_window,
                            document_covered_at=document_covered_at, quote_at=base.quote_at,
                            max_evidence=base.max_evidence, method=method)

    def decide(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Passage-level decisions and confidences [texts, items], by the rule `map` uses."""
        scores = self.score(texts).scores
        return self.rule.passage_decisions(scores), np.clip(scores.scores, 0.0, 1.0)

    def framework_methods(self) -> dict[str, str]:
        """How each framework of the run is scored: learned, or zero-shot when none of its items has examples."""
        zero = {self.items[column].framework for column in self.zero_shot_columns_}
        return {item.framework: ZERO_SHOT_METHOD if item.framework in zero else LEARNED_METHOD
                for item in self.items}

    def describe(self) -> dict:
        """What run.json records about the classifier."""
        described = self.trained.describe()
        rule = self.rule
        described["item_thresholds"] = {item.id: round(float(t), 4)
                                        for item, t in zip(self.items, rule.covered_at, strict=True)}
        described["rule"] = rule.describe([item.id for item in self.items])
        described["frameworks"] = self.framework_methods()
        if self.zero_shot_columns_:
            described["signals"] = [*described["signals"], Signal.ZERO_SHOT.value]
        return described


def framework_methods(classifier, items: tuple[ReferenceItem, ...]) -> dict[str, str]:
    """Each framework's scoring method, for any classifier a run may use."""
    if hasattr(classifier, "framework_methods"):
        return classifier.framework_methods()
    return {item.framework: LEXICAL_METHOD for item in items}
