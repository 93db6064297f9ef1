"""Stage 3, classify: (Passage, ReferenceItem) pairs -> Matches, each saying which signal fired and on what.

Three signals, kept separate and visible in every match:
- `quote`: an item's sentence found near-verbatim in the passage (explicit coverage), with the aligned span;
- `tfidf`: lexical-semantic similarity over lemmas and domain concepts, with the shared terms;
- `model`: a learned multi-label model that combines the words with the two signals above, with the
  words that pushed it toward the item and its per-item threshold.

Two classifiers share one interface, `fit(...)` then `predict(passages) -> list[Match]` and
`decide(texts) -> (decisions, confidences)` for evaluation:
- `LexicalClassifier`: quote + tfidf with fixed thresholds; needs no training data;
- `PromiseClassifier`: quote + the learned model (the default for `promise-map map`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.classify.learned import LearnedModel
from pipeline.classify.lexical import LexicalMatcher
from pipeline.classify.quote import QuoteMatcher
from pipeline.classify.text import Lexicon, load_lexicon, normalise_for_matching, passage_text
from pipeline.config import default_thresholds
from pipeline.types import Match, Passage, ReferenceItem, Signal

__all__ = ["LexicalClassifier", "PromiseClassifier", "load_lexicon", "normalise_for_matching", "passage_text"]

#: A learned match is shown as partial evidence from this share of the item's threshold upward.
PARTIAL_SHARE_OF_THRESHOLD = 0.6
#: Lexical matches below this similarity are not worth recording.
LEXICAL_FLOOR = 0.12


def quote_matches(quote: QuoteMatcher, passages: list[Passage], texts: list[str],
                  items: tuple[ReferenceItem, ...]) -> list[Match]:
    return [Match(passage_id=passages[hit.passage].id, item_id=items[hit.item].id, score=hit.score,
                  signal=Signal.QUOTE, matched=hit.span) for hit in quote.hits(texts)]


def ordered(matches: list[Match], passages: list[Passage], items: tuple[ReferenceItem, ...]) -> list[Match]:
    """Matches in passage, item, signal order, so outputs are stable run to run."""
    passage_order = {passage.id: position for position, passage in enumerate(passages)}
    item_order = {item.id: position for position, item in enumerate(items)}
    return sorted(matches, key=lambda m: (passage_order[m.passage_id], item_order[m.item_id], m.signal.value))


@dataclass
class LexicalClassifier:
    """Quotation plus TF-IDF similarity with fixed thresholds: the baseline that needs no labelled data."""

    lexicon: Lexicon | None = None
    floor: float = LEXICAL_FLOOR

    def fit(self, items: list[ReferenceItem] | tuple[ReferenceItem, ...]) -> LexicalClassifier:
        if not items:
            raise ValueError("fit needs at least one reference item")
        self.items_ = tuple(items)
        self.quote_ = QuoteMatcher().fit(items)
        self.lexical_ = LexicalMatcher(lexicon=self.lexicon).fit(items)
        return self

    def predict(self, passages: list[Passage]) -> list[Match]:
        """Every quotation, and every lexical similarity at or above the floor."""
        if not passages:
            return []
        texts = [passage_text(passage) for passage in passages]
        pairs = [self.lexical_.prepare_with_phrases(text) for text in texts]
        prepared, phrases = [text for text, _ in pairs], [found for _, found in pairs]
        similarity, rows = self.lexical_.similarity(texts, prepared=prepared)
        matches = quote_matches(self.quote_, passages, texts, self.items_)
        for row, column in zip(*np.nonzero(similarity >= self.floor), strict=True):
            matches.append(Match(passage_id=passages[row].id, item_id=self.items_[column].id,
                                 score=round(float(min(similarity[row, column], 1.0)), 4), signal=Signal.TFIDF,
                                 matched=self.lexical_.shared_terms(rows[row], column, phrases[row])))
        return ordered(matches, passages, self.items_)

    def decide(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Passage-level decisions and confidences [texts, items]: a quotation or tfidf at `covered`."""
        thresholds = default_thresholds()
        similarity, _ = self.lexical_.similarity(texts)
        quotes = self.quote_.score_matrix(texts)
        decisions = ((quotes >= thresholds[Signal.QUOTE.value].covered)
                     | (similarity >= thresholds[Signal.TFIDF.value].covered))
        return decisions, np.clip(np.maximum(similarity, quotes), 0.0, 1.0)


@dataclass
class PromiseClassifier:
    """Quotation plus the learned model: the classifier `promise-map map` uses by default."""

    lexicon: Lexicon | None = None
    seed: int = 0
    #: Add the sentence-embedding signal (needs the `semantic` extra; see pipeline.classify.semantic).
    semantic: bool = False

    def fit(self, items: list[ReferenceItem] | tuple[ReferenceItem, ...], texts: list[str],
            label_sets: list[frozenset[str]], groups: list[str]) -> PromiseClassifier:
        if not items:
            raise ValueError("fit needs at least one reference item")
        embedder = None
        if self.semantic:
            from pipeline.classify.semantic import Embedder, semantic_available

            if not semantic_available():
                raise ValueError("the semantic signal needs the semantic extra: pip install '.[semantic]' "
                                 "(or make setup SEMANTIC=1)")
            embedder = Embedder()
        self.items_ = tuple(items)
        self.model_ = LearnedModel(lexicon=self.lexicon, seed=self.seed, embedder=embedder).fit(
            items, texts, label_sets, groups)
        return self

    def decide(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Passage-level decisions and calibrated confidences [texts, items]."""
        if not texts:
            empty = np.zeros((0, len(self.items_)))
            return empty.astype(bool), empty
        probabilities = self.model_.predict_proba(texts)
        quotes = self.model_.quote_.score_matrix(texts)
        decisions = (probabilities >= self.model_.thresholds_) | (quotes > 0)
        return decisions, np.where(quotes > 0, np.maximum(probabilities, quotes), probabilities)

    def predict(self, passages: list[Passage]) -> list[Match]:
        """Quotations, and learned matches from `PARTIAL_SHARE_OF_THRESHOLD` of the item's threshold up."""
        if not passages:
            return []
        texts = [passage_text(passage) for passage in passages]
        matrix, parts = self.model_.features(texts)
        probabilities = self.model_.predict_proba_from(matrix)
        matches = [Match(passage_id=passages[hit.passage].id, item_id=self.items_[hit.item].id, score=hit.score,
                         signal=Signal.QUOTE, matched=hit.span) for hit in parts["quote_hits"]]
        thresholds = self.model_.thresholds_
        for row, column in zip(*np.nonzero(probabilities >= thresholds * PARTIAL_SHARE_OF_THRESHOLD), strict=True):
            threshold = float(thresholds[column])
            matches.append(Match(
                passage_id=passages[row].id, item_id=self.items_[column].id,
                score=round(float(probabilities[row, column]), 4), signal=Signal.MODEL,
                matched=self.model_.explain(parts["words"][row], column, parts["phrases"][row]),
                covered_at=threshold, partial_at=round(threshold * PARTIAL_SHARE_OF_THRESHOLD, 4)))
        return ordered(matches, passages, self.items_)
