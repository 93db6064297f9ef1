"""Stage 3, classify: (Passage, ReferenceItem) pairs -> Matches, each saying which signal fired and on what.

Two separate, visible signals:
- quotation: documents in this field quote the promise a lot, so a passage that
  contains an item's sentence nearly word for word (rapidfuzz alignment, after
  folding "South Ayrshire"/"the local authority" to "Scotland") is strong evidence;
- tfidf: cosine similarity between the passage and the item's title and text,
  over word unigrams and bigrams weighted by how rare they are among the items.

Classifiers follow scikit-learn's contract (`fit` returns self, learned state
ends in `_`, `predict` takes a batch) so the model can be replaced without
touching the stages around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from pipeline.segment import HEADING_PATH_SEPARATOR
from pipeline.types import Match, Passage, ReferenceItem, Signal

#: Place names the 55-call list uses where the promise says "Scotland"; folded so quotations still align.
PLACE_SUBSTITUTIONS = (
    (re.compile(r"\bsouth ayrshire(?:'s|’s)"), "scotland's"),
    (re.compile(r"\b(?:south ayrshire|the local authority|the council|the partnership)\b"), "scotland"),
)
#: Words every item shares that say nothing about which item a passage is about.
DOMAIN_STOP_WORDS = frozenset({"must", "scotland", "scotlands", "ensure", "need", "needs", "way", "make", "sure"})

DEFAULT_QUOTE_MIN_RATIO = 90.0
DEFAULT_QUOTE_MIN_WORDS = 6
#: A passage shorter than this share of an item sentence cannot count as quoting it.
DEFAULT_QUOTE_MIN_LENGTH_SHARE = 0.7
DEFAULT_TFIDF_FLOOR = 0.12
DEFAULT_TFIDF_TERMS_SHOWN = 6


def normalise_for_matching(text: str) -> str:
    """Lower-case, fold place names to "scotland", join hyphenated words, drop punctuation.

    Both signals compare texts in this form, so a quotation survives changes of
    case, punctuation, hyphenation and the place it is addressed to.
    """
    text = text.lower().replace("’", "'").replace("‘", "'")
    for pattern, replacement in PLACE_SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", "", text)  # "re-orientate" and "reorientate" compare equal
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return re.sub(r"\s+", " ", text.replace("'", "")).strip()


def item_sentences(item: ReferenceItem, *, min_words: int) -> list[str]:
    """The item's sentences long enough that finding one is a quotation, not a coincidence."""
    sentences = [normalise_for_matching(s) for s in re.split(r"(?<=[.!?])\s+", item.text)]
    return [s for s in sentences if len(s.split()) >= min_words]


def passage_text(passage: Passage) -> str:
    """What the classifier reads: the passage with its nearest heading and the sentence that introduced it.

    The heading is read because a bullet such as "Spending time there must be as
    short as possible" only says what it is about through the heading above it.
    """
    nearest_heading = passage.heading.rsplit(HEADING_PATH_SEPARATOR, 1)[-1]
    return " ".join(part for part in (nearest_heading, passage.lead_in, passage.text) if part)


@dataclass
class QuoteTfidfClassifier:
    """The first honest classifier: near-verbatim quotation plus TF-IDF similarity, as separate signals."""

    quote_min_ratio: float = DEFAULT_QUOTE_MIN_RATIO
    quote_min_words: int = DEFAULT_QUOTE_MIN_WORDS
    quote_min_length_share: float = DEFAULT_QUOTE_MIN_LENGTH_SHARE
    tfidf_floor: float = DEFAULT_TFIDF_FLOOR

    def fit(self, items: list[ReferenceItem] | tuple[ReferenceItem, ...]) -> QuoteTfidfClassifier:
        if not items:
            raise ValueError("fit needs at least one reference item")
        self.items_ = tuple(items)
        self.vectorizer_ = TfidfVectorizer(
            preprocessor=normalise_for_matching, ngram_range=(1, 2), sublinear_tf=True,
            stop_words=sorted(ENGLISH_STOP_WORDS | DOMAIN_STOP_WORDS), token_pattern=r"(?u)\b[a-z][a-z0-9]+\b",
        )
        self.item_matrix_ = self.vectorizer_.fit_transform([f"{item.title}. {item.text}" for item in items])
        self.terms_ = self.vectorizer_.get_feature_names_out()
        self.sentences_ = [(index, sentence) for index, item in enumerate(items)
                           for sentence in item_sentences(item, min_words=self.quote_min_words)]
        return self

    def predict(self, passages: list[Passage]) -> list[Match]:
        """Every match at or above a signal's floor, ordered by passage, item and signal."""
        if not passages:
            return []
        texts = [passage_text(passage) for passage in passages]
        matches = self.quote_matches(passages, texts) + self.tfidf_matches(passages, texts)
        order = {passage.id: position for position, passage in enumerate(passages)}
        item_order = {item.id: position for position, item in enumerate(self.items_)}
        return sorted(matches, key=lambda m: (order[m.passage_id], item_order[m.item_id], m.signal.value))

    def tfidf_matches(self, passages: list[Passage], texts: list[str]) -> list[Match]:
        passage_matrix = self.vectorizer_.transform(texts)
        similarity = (passage_matrix @ self.item_matrix_.T).toarray()
        matches = []
        for row, column in zip(*np.nonzero(similarity >= self.tfidf_floor), strict=True):
            overlap = passage_matrix[row].multiply(self.item_matrix_[column]).toarray().ravel()
            strongest = np.argsort(-overlap, kind="stable")[:DEFAULT_TFIDF_TERMS_SHOWN]
            shown = [self.terms_[i] for i in strongest if overlap[i] > 0]
            matches.append(Match(passage_id=passages[row].id, item_id=self.items_[column].id,
                                 score=round(float(min(similarity[row, column], 1.0)), 4), signal=Signal.TFIDF,
                                 matched=", ".join(shown)))
        return matches

    def quote_matches(self, passages: list[Passage], texts: list[str]) -> list[Match]:
        """Best alignment of each item's sentences inside each passage, kept when near-verbatim."""
        if not self.sentences_:
            return []
        normalised = [normalise_for_matching(text) for text in texts]
        sentences = [sentence for _, sentence in self.sentences_]
        ratios = cdist(sentences, normalised, scorer=fuzz.partial_ratio, processor=None,
                       score_cutoff=self.quote_min_ratio, dtype=np.float32)
        best: dict[tuple[int, int], tuple[float, str]] = {}
        for sentence_row, passage_row in zip(*np.nonzero(ratios), strict=True):
            sentence, passage = sentences[sentence_row], normalised[passage_row]
            if len(passage) < self.quote_min_length_share * len(sentence):
                continue
            alignment = fuzz.partial_ratio_alignment(sentence, passage, processor=None)
            if alignment is None or alignment.score < self.quote_min_ratio:
                continue
            key = (passage_row, self.sentences_[sentence_row][0])
            span = passage[alignment.dest_start:alignment.dest_end] if len(sentence) <= len(passage) else passage
            if key not in best or alignment.score > best[key][0]:
                best[key] = (alignment.score, span)
        return [Match(passage_id=passages[p].id, item_id=self.items_[i].id, score=round(score / 100, 4),
                      signal=Signal.QUOTE, matched=span)
                for (p, i), (score, span) in best.items()]
