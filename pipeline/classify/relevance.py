"""The relevance signal: whether a passage is about any item's aim at all, or only names its topic, or neither.

Item models learn which words tell one item from another; they do not learn that a council's "listening
to residents" about ferries, a company's "operating profit", a glossary's "Kinship care. The care of a
child by a relative..." or a statistics row on family support teams are about no item's aim: the words
are there, the aim is not. A passage must not be evidence for that, so every passage gets a relevance
probability from a model that learned exactly this distinction: positives are every passage labelled
with at least one item (real and written) and the items' own texts; negatives are every passage that
covers none: real ones from care documents (definitions, statistics, scope lists, adult services), the
written structural ones (corpora/labelled/structural.jsonl), text far from children's care
(corpora/labelled/offtopic-*.jsonl) and the passages of the off-topic documents in
corpora/offtopic-written/ (council roads, waste, licensing and adult social care papers, manuals, company
reports, encyclopaedia articles). The project's evaluation-only folders are never read here
(docs/accuracy.md). (Training it on off-topic text alone was measured too: it let
definitions and table rows of care documents through; docs/accuracy.md.)

Words are the lemmas and domain concepts the item models read (unigrams and bigrams, TF-IDF): measured
against sentence embeddings and both together, they gave the cleanest separation of the written off-topic
documents (docs/accuracy.md). Classes are balanced so that neither side's size sets the threshold.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from pipeline.classify.vectorize import CountedTerms

#: Inverse regularisation of the relevance model (grid 1, 10 in docs/accuracy.md).
RELEVANCE_C = 10.0
#: A word or bigram must occur in at least this many training texts to be a feature.
MIN_DOCUMENT_FREQUENCY = 2


def relevance_vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(lowercase=False, ngram_range=(1, 2), sublinear_tf=True,
                           min_df=1 if vocabulary is not None else MIN_DOCUMENT_FREQUENCY,
                           token_pattern=r"[a-z][a-z0-9_]+", vocabulary=vocabulary)


class RelevanceModel:
    """Binary logistic regression over prepared text; scikit-learn style (`fit` returns self, state ends in `_`)."""

    def __init__(self, C: float = RELEVANCE_C, seed: int = 0) -> None:
        self.C = C
        self.seed = seed

    def fit(self, prepared: list[str], relevant: np.ndarray) -> RelevanceModel:
        """`prepared` are texts as LexicalMatcher.prepare gives them; `relevant` 1 for on-topic, 0 for off."""
        relevant = np.asarray(relevant)
        if relevant.min() == relevant.max():
            raise ValueError("the relevance model needs both relevant and off-topic examples")
        self.vectorizer_ = relevance_vectorizer().fit(prepared)
        model = LogisticRegression(C=self.C, solver="liblinear", class_weight="balanced", random_state=self.seed,
                                   max_iter=2000).fit(self.vectorizer_.transform(prepared), relevant)
        self.coef_, self.intercept_ = model.coef_.ravel(), float(model.intercept_[0])
        return self

    def predict_proba(self, prepared: list[str], counted: CountedTerms | None = None) -> np.ndarray:
        """Probability that each prepared text is about children, families and their care, [texts].

        `counted`: the texts' terms as the item models counted them, so they are not split and counted again.
        """
        if not prepared:
            return np.zeros(0)
        rows = None if counted is None else counted.rows_for(self.vectorizer_)
        if rows is None:
            rows = self.vectorizer_.transform(prepared)
        scores = np.asarray(rows @ self.coef_).ravel() + self.intercept_
        return 1.0 / (1.0 + np.exp(-scores))

    def to_state(self) -> tuple[dict[str, np.ndarray], dict]:
        terms = self.vectorizer_.get_feature_names_out()
        return ({"idf": self.vectorizer_.idf_, "coef": self.coef_, "intercept": np.array([self.intercept_])},
                {"terms": [str(term) for term in terms], "C": self.C, "seed": self.seed})

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict) -> RelevanceModel:
        model = cls(C=meta["C"], seed=meta["seed"])
        model.vectorizer_ = relevance_vectorizer({term: index for index, term in enumerate(meta["terms"])})
        model.vectorizer_.idf_ = arrays["idf"]
        model.coef_, model.intercept_ = arrays["coef"], float(arrays["intercept"][0])
        if model.coef_.shape != (len(meta["terms"]),):
            raise ValueError("the relevance model's weights do not fit its vocabulary")
        return model
