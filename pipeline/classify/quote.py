"""The quotation signal: an item's sentence found near-verbatim inside a passage.

Documents in this field quote the promise a lot. A passage that contains an
item's sentence with at most small edits (after normalisation: case,
punctuation, hyphenation, "South Ayrshire" -> "Scotland") is `explicit`
coverage, and the aligned span is shown to the reviewer.

Alignment (rapidfuzz partial_ratio) is costly, so it runs only on candidate
pairs: passages that contain most of the sentence's distinct words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import CountVectorizer

from pipeline.classify.text import item_text_sentences, normalise_for_matching
from pipeline.types import ReferenceItem

DEFAULT_MIN_RATIO = 90.0
DEFAULT_MIN_WORDS = 6
#: A passage shorter than this share of an item sentence cannot count as quoting it.
DEFAULT_MIN_LENGTH_SHARE = 0.7
#: Cheap filter: a candidate passage holds at least this share of the sentence's distinct words.
DEFAULT_CANDIDATE_WORD_SHARE = 0.6


def item_sentences(item: ReferenceItem, *, min_words: int) -> list[str]:
    """The item's sentences long enough that finding one is a quotation, not a coincidence."""
    sentences = [normalise_for_matching(s) for s in item_text_sentences(item.text)]
    return [s for s in sentences if len(s.split()) >= min_words]


@dataclass(frozen=True)
class QuoteHit:
    """An item quoted in a passage: the alignment score (0-1) and the passage span that matched."""

    passage: int
    item: int
    score: float
    span: str


@dataclass
class QuoteMatcher:
    """Finds near-verbatim quotations of item sentences in passages."""

    min_ratio: float = DEFAULT_MIN_RATIO
    min_words: int = DEFAULT_MIN_WORDS
    min_length_share: float = DEFAULT_MIN_LENGTH_SHARE
    candidate_word_share: float = DEFAULT_CANDIDATE_WORD_SHARE

    def fit(self, items: list[ReferenceItem] | tuple[ReferenceItem, ...]) -> QuoteMatcher:
        self.n_items_ = len(items)
        pairs = [(index, sentence) for index, item in enumerate(items)
                 for sentence in item_sentences(item, min_words=self.min_words)]
        self.sentence_items_ = np.array([index for index, _ in pairs], dtype=int)
        self.sentences_ = [sentence for _, sentence in pairs]
        self.words_ = CountVectorizer(binary=True, token_pattern=r"[a-z0-9]+", lowercase=False)
        self.sentence_words_ = self.words_.fit_transform(self.sentences_) if pairs else None
        return self

    def hits(self, texts: list[str], *, normalised: list[str] | None = None) -> list[QuoteHit]:
        """The best quotation of each item in each text, where one exists."""
        if not texts or self.sentence_words_ is None:
            return []
        if normalised is None:
            normalised = [normalise_for_matching(text) for text in texts]
        passage_words = self.words_.transform(normalised)
        shared = (passage_words @ self.sentence_words_.T).tocoo()
        sentence_sizes = np.asarray(self.sentence_words_.sum(axis=1)).ravel()
        keep = shared.data >= self.candidate_word_share * sentence_sizes[shared.col]
        best: dict[tuple[int, int], QuoteHit] = {}
        for row, column in sorted(zip(shared.row[keep].tolist(), shared.col[keep].tolist(), strict=True)):
            hit = self.align(normalised[row], column, row)
            if hit is not None:
                key = (hit.passage, hit.item)
                if key not in best or hit.score > best[key].score:
                    best[key] = hit
        return [best[key] for key in sorted(best)]

    def align(self, passage: str, sentence_index: int, row: int) -> QuoteHit | None:
        sentence = self.sentences_[sentence_index]
        if len(passage) < self.min_length_share * len(sentence):
            return None
        alignment = fuzz.partial_ratio_alignment(sentence, passage, processor=None, score_cutoff=self.min_ratio)
        if alignment is None:
            return None
        span = passage[alignment.dest_start:alignment.dest_end] if len(sentence) <= len(passage) else passage
        return QuoteHit(passage=row, item=int(self.sentence_items_[sentence_index]),
                        score=round(alignment.score / 100, 4), span=span)

    def score_matrix(self, texts: list[str]) -> np.ndarray:
        """Quotation scores as a dense [texts, items] array (0 where nothing is quoted)."""
        matrix = np.zeros((len(texts), self.n_items_), dtype=np.float32)
        for hit in self.hits(texts):
            matrix[hit.passage, hit.item] = hit.score
        return matrix
