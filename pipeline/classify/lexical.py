"""The lexical-semantic signal: TF-IDF similarity between a passage and each item, over lemmas and concepts.

Both sides are lemmatised and annotated with the domain lexicon's concept
tokens, so "siblings placed together" meets "stay together with their brothers
and sisters" through the shared concept `c_sibling`. Word unigrams and bigrams
weighted by rarity among the items; the terms that contributed most are kept
to show the reviewer why a passage matched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from pipeline.classify.text import Lexicon, annotated, lemmatise, normalise_for_matching, readable_terms
from pipeline.types import ReferenceItem

#: Words every item shares that say nothing about which item a passage is about.
DOMAIN_STOP_WORDS = frozenset({"must", "scotland", "ensure", "need", "way", "make", "sure", "child", "young",
                               "people", "person", "care", "experience"})
TERMS_SHOWN = 6


def item_document(item: ReferenceItem) -> str:
    return f"{item.title}. {item.text}"


@dataclass
class LexicalMatcher:
    """TF-IDF cosine between passages and items over lemmatised, concept-annotated text."""

    lexicon: Lexicon | None = None

    def prepare(self, text: str, *, normalised: str | None = None) -> str:
        """Lemmas plus concept tokens; pass `normalised` when the caller already has it."""
        return self.prepare_with_phrases(text, normalised=normalised)[0]

    def prepare_with_phrases(self, text: str, *, normalised: str | None = None) -> tuple[str, dict]:
        """The prepared text, and its concepts with the phrases that evoked them (to explain a match later)."""
        lemmas = lemmatise(normalised if normalised is not None else normalise_for_matching(text))
        phrases = self.lexicon.phrases_found(lemmas) if self.lexicon else {}
        return annotated(lemmas, phrases), phrases

    def fit(self, items: list[ReferenceItem] | tuple[ReferenceItem, ...]) -> LexicalMatcher:
        self.vectorizer_ = TfidfVectorizer(
            lowercase=False, ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z][a-z0-9_]+",
            stop_words=sorted(ENGLISH_STOP_WORDS | DOMAIN_STOP_WORDS),
        )
        self.item_matrix_ = self.vectorizer_.fit_transform([self.prepare(item_document(item)) for item in items])
        self.terms_ = self.vectorizer_.get_feature_names_out()
        return self

    def transform(self, texts: list[str]):
        return self.vectorizer_.transform([self.prepare(text) for text in texts])

    def similarity(self, texts: list[str], *, prepared: list[str] | None = None) -> tuple[np.ndarray, object]:
        """Cosine similarity [texts, items] and the passages' tf-idf rows (for explaining matches)."""
        if prepared is None:
            prepared = [self.prepare(text) for text in texts]
        passage_matrix = self.vectorizer_.transform(prepared)
        return (passage_matrix @ self.item_matrix_.T).toarray().astype(np.float32), passage_matrix

    def shared_terms(self, passage_row, item_index: int, phrases: dict[str, tuple[str, ...]]) -> str:
        """The terms that contributed most to a passage-item similarity, strongest first, in the passage's words.

        `phrases` are the passage's concepts with the phrases that evoked them (`prepare_with_phrases`).
        """
        overlap = passage_row.multiply(self.item_matrix_[item_index]).toarray().ravel()
        shared = np.flatnonzero(overlap)
        strongest = [self.terms_[i] for i in shared[np.argsort(-overlap[shared], kind="stable")]]
        return ", ".join(readable_terms(strongest, phrases, TERMS_SHOWN))
