"""The item model: one linear model per reference item over the passage's words and the other signals.

One logistic regression per reference item (one-vs-rest) reads:
- the passage's lemmas and domain concepts (word unigrams and bigrams, TF-IDF),
- optionally its character n-grams (off: +0.02 at 14x the training time),
- the lexical similarity of the passage to every item, and the quotation score for every item.
It is trained on labelled passages (real ones from the seeds and the real-register set, written ones,
the glossary's terms, text far from children's care as negatives) plus each item's own text and, for
items of several sentences, each sentence alone. It gives raw decision scores, and keeps the
out-of-fold scores of its training texts (models that never saw a text's group scored it), which
the classifier calibrates per item (pipeline/classify/calibrate.py). Seeds are fixed and solvers
deterministic, so training twice gives identical predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from pipeline.classify.lexical import LexicalMatcher, item_document
from pipeline.classify.quote import QuoteMatcher
from pipeline.classify.text import Lexicon, item_text_sentences, normalise_for_matching, readable_terms
from pipeline.classify.vectorize import CountedTerms
from pipeline.types import ReferenceItem

DEFAULT_C = 16.0
#: Item models are fitted on this many threads (the machines here have two cores).
DEFAULT_JOBS = 2
DEFAULT_FOLDS = 4
#: Weight of the passage-item similarity features against the words (grid in docs/accuracy.md: with the wider
#: synthetic set and lexicon the words carry more, and 0.5 beat 3 by 0.05 cross-validated micro-F1).
DEFAULT_SIMILARITY_WEIGHT = 0.5
TERMS_SHOWN = 6
#: The decision score of an item that could not learn: far below any threshold once calibrated.
UNLEARNABLE_SCORE = -10.0
#: An item sentence this short ("They must be nurtured.") is not an example on its own.
ITEM_SENTENCE_MIN_WORDS = 4


@dataclass
class LearnedModel:
    """Multi-label linear model; scikit-learn style (fit returns self, learned state ends in `_`)."""

    lexicon: Lexicon | None = None
    C: float = DEFAULT_C
    folds: int = DEFAULT_FOLDS
    similarity_weight: float = DEFAULT_SIMILARITY_WEIGHT
    seed: int = 0
    quote: QuoteMatcher = field(default_factory=QuoteMatcher)
    n_jobs: int = DEFAULT_JOBS
    #: Character n-grams: +0.02 cross-validated micro-F1, at 14x the training time and 2x the prediction time
    #: (docs/accuracy.md), so they are off by default.
    char_ngrams: bool = False

    # ---- features -------------------------------------------------------------------------------

    def fit_features(self, items: list[ReferenceItem], texts: list[str]) -> None:
        self.items_ = tuple(items)
        self.lexical_ = LexicalMatcher(lexicon=self.lexicon).fit(items)
        self.quote_ = self.quote.fit(items)
        self.words_ = word_vectorizer()
        self.chars_ = TfidfVectorizer(lowercase=False, analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                      min_df=2, max_features=60_000, dtype=np.float32)
        self.words_.fit([self.lexical_.prepare(text) for text in texts])
        if self.char_ngrams:
            self.chars_.fit([normalise_for_matching(text) for text in texts])
        self.word_terms_ = self.words_.get_feature_names_out()

    def features(self, texts: list[str], *,
                 alike: tuple[TfidfVectorizer, ...] = ()) -> tuple[sparse.csr_matrix, dict]:
        """The feature matrix for `texts`, and the pieces needed to explain a prediction.

        `alike`: other models' vectorizers over the same prepared text; the terms are counted once for all
        (parts["counts"], pipeline/classify/vectorize.py).
        """
        normalised = [normalise_for_matching(text) for text in texts]
        pairs = [self.lexical_.prepare_with_phrases(text, normalised=norm)
                 for text, norm in zip(texts, normalised, strict=True)]
        prepared, phrases = [text for text, _ in pairs], [found for _, found in pairs]
        counted = CountedTerms((self.words_, *alike), prepared)
        words = counted.rows_for(self.words_)
        chars = self.chars_.transform(normalised) if self.char_ngrams else sparse.csr_matrix((len(texts), 0))
        similarity, _ = self.lexical_.similarity(texts, prepared=prepared)
        quote_hits = self.quote_.hits(texts, normalised=normalised)
        quotes = np.zeros_like(similarity)
        for hit in quote_hits:
            quotes[hit.passage, hit.item] = hit.score
        blocks = [words, chars, sparse.csr_matrix(similarity * self.similarity_weight), sparse.csr_matrix(quotes)]
        matrix = sparse.hstack(blocks, format="csr", dtype=np.float64)
        return matrix, {"words": words, "phrases": phrases, "quote_hits": quote_hits, "quotes": quotes,
                        "prepared": prepared, "counts": counted}

    # ---- training -------------------------------------------------------------------------------

    def fit(self, items: list[ReferenceItem] | tuple[ReferenceItem, ...], texts: list[str],
            label_sets: list[frozenset[str]], groups: list[str], *,
            progress: Callable[[str], None] | None = None) -> LearnedModel:
        """Train on labelled texts plus the items' own texts; `groups` keep related texts in one fold.

        `progress` is called once per step (`self.steps` in all), naming it, so a caller can show how far
        training has got: preparing the features, each out-of-fold round, the final models.
        """
        progress = progress or (lambda step: None)
        items = list(items)
        references = [(text, item.id) for item in items for text in item_examples(item)]
        all_texts = list(texts) + [text for text, _ in references]
        all_labels = list(label_sets) + [frozenset({item_id}) for _, item_id in references]
        all_groups = list(groups) + [f"reference:{item_id}" for _, item_id in references]
        self.fit_features(items, all_texts)
        matrix, parts = self.features(all_texts)
        progress("features")
        targets = self.target_matrix(all_labels)
        # Kept for the classifier that calibrates these scores and learns relevance from the same texts;
        # not saved with the model.
        self.oof_scores_, fold_weights = self.out_of_fold_scores(matrix, targets, all_groups, progress=progress)
        self.oof_targets_ = targets
        self.prepared_ = parts["prepared"]
        self.coef_, self.intercept_, self.learnable_ = averaged(fold_weights)
        return self

    @property
    def steps(self) -> int:
        """How many times `fit` calls its progress callback."""
        return self.folds + 1

    def target_matrix(self, label_sets: list[frozenset[str]]) -> np.ndarray:
        column = {item.id: index for index, item in enumerate(self.items_)}
        targets = np.zeros((len(label_sets), len(self.items_)), dtype=np.int8)
        for row, labels in enumerate(label_sets):
            for label in labels:
                targets[row, column[label]] = 1
        return targets

    def item_models(self, matrix: sparse.csr_matrix, targets: np.ndarray) -> list[LogisticRegression | None]:
        """One logistic regression per item; None where it cannot learn (no positive or no negative example)."""
        return Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(fit_item_model)(matrix, targets[:, column], self.C, self.seed)
            for column in range(targets.shape[1]))

    def out_of_fold_scores(self, matrix: sparse.csr_matrix, targets: np.ndarray, groups: list[str], *,
                           progress: Callable[[str], None] | None = None) -> tuple[np.ndarray, list[tuple]]:
        """Decision scores for every training text from models that never saw its group, and each fold's weights.

        The fold models are also the final model: their averaged weights (bagging). A model refitted on all
        the data is more confident than the fold models whose scores set the calibration and thresholds;
        measured by cross-validating whole training runs, the refit's 0.7 meant 0.48 observed, the average's
        0.57, at the same F1 (docs/accuracy.md), and one fit fewer is needed.
        """
        scores = np.full(targets.shape, UNLEARNABLE_SCORE)
        splits = min(self.folds, len(set(groups)))
        fold_weights = []
        for number, (train, test) in enumerate(GroupKFold(n_splits=splits).split(matrix, groups=groups), start=1):
            weights = weights_of(self.item_models(matrix[train], targets[train]), matrix.shape[1])
            coef, intercept, learnable = weights
            scores[test] = np.where(learnable, np.asarray(matrix[test] @ coef.T) + intercept, UNLEARNABLE_SCORE)
            fold_weights.append(weights)
            if progress is not None:
                progress(f"item models, fold {number}/{splits}")
        return scores, fold_weights

    # ---- saving and loading ----------------------------------------------------------------------

    def to_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Everything learned, as arrays and JSON (pipeline/classify/persist.py); the rest is rebuilt on load."""
        if self.char_ngrams:
            raise ValueError("only the word model is saved; character n-grams are an experiment")
        arrays = {"idf": self.words_.idf_, "coef": self.coef_, "intercept": self.intercept_,
                  "learnable": self.learnable_}
        meta = {"items": [item.id for item in self.items_], "terms": [str(term) for term in self.word_terms_],
                "C": self.C, "folds": self.folds, "similarity_weight": self.similarity_weight, "seed": self.seed}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict, *, items: tuple[ReferenceItem, ...],
                   lexicon: Lexicon | None) -> LearnedModel:
        """The model `to_state` saved, over `items` (the same ids, in the same order) and the same lexicon."""
        if [item.id for item in items] != meta["items"]:
            raise ValueError("the model was trained on other reference items")
        model = cls(lexicon=lexicon, C=meta["C"], folds=meta["folds"], similarity_weight=meta["similarity_weight"],
                    seed=meta["seed"])
        model.items_ = tuple(items)
        model.lexical_ = LexicalMatcher(lexicon=lexicon).fit(items)
        model.quote_ = model.quote.fit(items)
        model.words_ = word_vectorizer(vocabulary={term: index for index, term in enumerate(meta["terms"])})
        model.words_.idf_ = arrays["idf"]
        model.word_terms_ = np.array(meta["terms"], dtype=object)
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        model.learnable_ = arrays["learnable"].astype(bool)
        n_features = len(meta["terms"]) + 2 * len(items)
        if model.coef_.shape != (len(items), n_features) or model.words_.idf_.shape != (len(meta["terms"]),):
            raise ValueError("the model's arrays do not fit its vocabulary and items")
        return model

    # ---- prediction -----------------------------------------------------------------------------

    def decision_scores(self, matrix: sparse.csr_matrix) -> np.ndarray:
        """Each item model's decision score for each row; -10 (never a match) for items that could not learn."""
        scores = np.asarray(matrix @ self.weights_for(matrix.dtype)) + self.intercept_
        return np.where(self.learnable_, scores, UNLEARNABLE_SCORE)

    def weights_for(self, dtype: np.dtype) -> np.ndarray:
        """The weights as [features, items], contiguous and in the features' dtype, made once per model.

        Rationale: `matrix @ coef_.T` makes scipy copy (and upcast) the whole weight matrix on every call,
        which costs more than the product itself for one document's passages.
        """
        cached = getattr(self, "weights_by_dtype_", None)
        if cached is None:
            cached = self.weights_by_dtype_ = {}
        if dtype not in cached:
            cached[dtype] = np.ascontiguousarray(self.coef_.T, dtype=dtype)
        return cached[dtype]

    def explain(self, words: sparse.csr_matrix, row: int, item_index: int, phrases: dict[str, tuple[str, ...]]) -> str:
        """The words of passage `row` (of `words`, the passages' TF-IDF rows) that pushed hardest toward this item.

        Strongest first. `phrases` are the passage's concepts with the phrases that evoked them
        (`prepare_with_phrases`), so concept tokens can be shown as the passage's own words. The row is read
        from the matrix's arrays: slicing a scipy matrix for each of a document's matches cost more than this.
        """
        if not self.learnable_[item_index]:
            return ""
        start, end = words.indptr[row], words.indptr[row + 1]
        columns = words.indices[start:end]
        contributions = words.data[start:end] * self.coef_[item_index, columns]
        pushing = contributions > 0
        columns, contributions = columns[pushing], contributions[pushing]
        order = np.lexsort((-columns, -contributions))  # strongest first; ties by term, last first, as before
        terms = self.word_terms_
        return ", ".join(readable_terms((terms[column] for column in columns[order].tolist()), phrases, TERMS_SHOWN))


def word_vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    """Word unigrams and bigrams of prepared text (lemmas and concept tokens), TF-IDF with sublinear counts."""
    return TfidfVectorizer(lowercase=False, ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                           token_pattern=r"[a-z][a-z0-9_]+", vocabulary=vocabulary)


def item_examples(item: ReferenceItem) -> list[str]:
    """The item's text, then each of its sentences alone when it has several.

    Documents often take up one sentence of an item ("supervision and reflective practice") without
    the rest; the sentence alone is closer to such a passage than the whole item is (+0.02 transfer
    micro-F1, docs/accuracy.md).
    """
    sentences = [s for s in item_text_sentences(item.text) if len(s.split()) >= ITEM_SENTENCE_MIN_WORDS]
    return [item_document(item)] + (sentences if len(sentences) > 1 else [])


def weights_of(models: list[LogisticRegression | None], n_features: int) -> tuple[np.ndarray, ...]:
    """Item models as arrays: weights [items, features], intercepts [items], and which items could learn."""
    coef = np.zeros((len(models), n_features))
    intercept = np.zeros(len(models))
    learnable = np.zeros(len(models), dtype=bool)
    for column, model in enumerate(models):
        if model is not None:
            coef[column], intercept[column], learnable[column] = model.coef_.ravel(), model.intercept_[0], True
    return coef, intercept, learnable


def averaged(fold_weights: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """The average of the fold models that could learn each item (an averaged linear model is linear)."""
    coefs = np.stack([coef for coef, _, _ in fold_weights])
    intercepts = np.stack([intercept for _, intercept, _ in fold_weights])
    learnable = np.stack([mask for _, _, mask in fold_weights])
    counts = np.maximum(learnable.sum(axis=0), 1)
    coef = (coefs * learnable[:, :, None]).sum(axis=0) / counts[:, None]
    intercept = (intercepts * learnable).sum(axis=0) / counts
    # Single precision: half the model file, and scores agree with double precision to about 1e-6.
    return coef.astype(np.float32), intercept, learnable.any(axis=0)


def fit_item_model(matrix: sparse.csr_matrix, target: np.ndarray, C: float, seed: int) -> LogisticRegression | None:
    if target.min() == target.max():
        return None  # no positive (or no negative) example: this item cannot be learned
    model = LogisticRegression(C=C, solver="liblinear", random_state=seed, max_iter=1000)
    return model.fit(matrix, target)


