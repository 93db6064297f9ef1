"""The stance and commitment models: two linear classifiers over a passage's scoped words and cues.

An estimator in scikit-learn's manner (`fit`, `predict`, learned values ending in `_`), stored as arrays and
JSON (pipeline/classify/persist.py), never pickle. Both models read the passage only: in the labelled set a
passage's stance differs between the items it covers in 14 passages of 2,364, so reading it once per passage
costs little accuracy and keeps this stage a small fraction of classification.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain, repeat
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from pipeline.classify.vectorize import tfidf_rows as counted_tfidf_rows
from pipeline.stance.cues import CUE_NAMES, PassageCues, read_batch, read_cues
from pipeline.types import Commitment, Stance

STANCES = tuple(stance.value for stance in Stance)
COMMITMENTS = tuple(kind.value for kind in Commitment)
STANCE_MEMBERS, COMMITMENT_MEMBERS = tuple(Stance), tuple(Commitment)  # in the order of the two above


@dataclass(frozen=True)
class Reading:
    """One passage's stance and commitment, each with the model's probability for it."""

    stance: Stance
    commitment: Commitment
    stance_probability: float
    commitment_probability: float


def word_vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    """Unigrams and bigrams of scoped words (`not_support` is a word), TF-IDF with sublinear counts."""
    return TfidfVectorizer(lowercase=False, ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                           token_pattern=r"[^ ]+", vocabulary=vocabulary)


class StanceModel:
    """Predicts a passage's stance (supports/opposes/mixed/neutral) and commitment (commits/intends/...).

    `cue_weight` scales the cue features against the words (both are regularised together); `C_stance` and
    `C_commitment` are the inverse regularisation of each model. A class is weighted by its inverse frequency
    raised to `balance` (1: fully balanced; 0: unweighted), so the rare `opposes` and `mixed` are not drowned
    by `supports` without the model calling every real plan's evidence opposed. The defaults are the best of
    the grid in docs/accuracy.md (grouped cross-validation).
    """

    def __init__(self, *, cue_weight: float = 0.25, C_stance: float = 16.0, C_commitment: float = 16.0,
                 balance: float = 0.35, seed: int = 0) -> None:
        self.cue_weight = cue_weight
        self.C_stance = C_stance
        self.C_commitment = C_commitment
        self.balance = balance
        self.seed = seed

    def features(self, read: list[PassageCues]) -> sparse.csr_matrix:
        words = self.vectorizer_.transform([passage.scoped_words for passage in read])
        cues = sparse.csr_matrix(np.vstack([passage.cues for passage in read]) * self.cue_weight)
        return sparse.hstack([words, cues], format="csr")

    def fit(self, texts: list[str], stances: list[str], commitments: list[str]) -> StanceModel:
        """Learn both models from passages and their labels (values of Stance and Commitment)."""
        read = [read_cues(text) for text in texts]
        self.vectorizer_ = word_vectorizer()
        self.vectorizer_.fit([passage.scoped_words for passage in read])
        matrix = self.features(read)
        self.stance_ = self.fitted(matrix, stances, STANCES, self.C_stance)
        self.commitment_ = self.fitted(matrix, commitments, COMMITMENTS, self.C_commitment)
        self.joint_ = self.lookups_ = None
        return self

    def fitted(self, matrix: sparse.csr_matrix, labels: list[str], classes: tuple[str, ...],
               C: float) -> tuple[np.ndarray, np.ndarray]:
        """Weights [classes, features] and intercepts [classes], in `classes` order (a class never seen: -inf)."""
        present = Counter(labels)
        weights = {label: (len(labels) / (len(present) * count)) ** self.balance for label, count in present.items()}
        model = LogisticRegression(C=C, class_weight=weights, solver="newton-cg", max_iter=2000,
                                   random_state=self.seed)
        model.fit(matrix, labels)
        coef = np.zeros((len(classes), matrix.shape[1]))
        intercept = np.full(len(classes), -1e9)
        for row, label in enumerate(model.classes_):
            coef[classes.index(label)] = model.coef_[row] if len(model.classes_) > 2 else (
                model.coef_[0] if row == 1 else -model.coef_[0])
            intercept[classes.index(label)] = model.intercept_[row] if len(model.classes_) > 2 else (
                model.intercept_[0] if row == 1 else -model.intercept_[0])
        return coef, intercept

    def logits(self, texts: list[str]) -> np.ndarray:
        """Each passage's logits of every stance, then every commitment (rows: passages; STANCES + COMMITMENTS).

        Both models' weights are one [features, stances + commitments] array, multiplied once per batch: the
        run reads a document's evidence in one batch, so what a batch costs beyond its passages matters.
        """
        scoped, cues = read_batch(texts)
        weights, intercepts = self.joint_weights()
        if getattr(self, "lookups_", None) is None:
            self.lookups_ = term_lookups(self.vectorizer_)
        words = tfidf_rows(scoped, self.vectorizer_, self.lookups_)
        vocabulary = words.shape[1]
        cues *= self.cue_weight
        return words @ weights[:vocabulary] + cues @ weights[vocabulary:] + intercepts

    def probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each passage's probability of every stance and every commitment (rows: passages)."""
        logits = self.logits(texts)
        return softmax(logits[:, :len(STANCES)]), softmax(logits[:, len(STANCES):])

    def joint_weights(self) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self, "joint_", None) is None:
            self.joint_ = (np.ascontiguousarray(np.vstack([self.stance_[0], self.commitment_[0]]).T),
                           np.concatenate([self.stance_[1], self.commitment_[1]]))
        return self.joint_

    def predict(self, texts: list[str]) -> list[Reading]:
        """Each passage's stance and commitment with the model's probability of each."""
        if not texts:
            return []
        stance, commitment = self.probabilities(texts)
        rows = np.arange(len(texts))
        stances, commitments = stance.argmax(axis=1), commitment.argmax(axis=1)
        return [Reading(stance=STANCE_MEMBERS[s], commitment=COMMITMENT_MEMBERS[c],
                        stance_probability=round(p, 4), commitment_probability=round(q, 4))
                for s, c, p, q in zip(stances.tolist(), commitments.tolist(), stance[rows, stances].tolist(),
                                      commitment[rows, commitments].tolist(), strict=True)]

    def labels(self, texts: list[str]) -> list[tuple[Stance, Commitment]]:
        """Each passage's stance and commitment, as `predict` reads them, without their probabilities.

        What the run records: the largest logit is the most probable class, so no softmax, and no `Reading`
        per passage (the two made a tenth of the stage).
        """
        if not texts:
            return []
        logits = self.logits(texts)
        return [(STANCE_MEMBERS[s], COMMITMENT_MEMBERS[c]) for s, c in
                zip(logits[:, :len(STANCES)].argmax(axis=1).tolist(),
                    logits[:, len(STANCES):].argmax(axis=1).tolist(), strict=True)]

    # ---- a model file: arrays and JSON ----

    def to_state(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {"idf": self.vectorizer_.idf_, "stance_coef": self.stance_[0].astype(np.float32),
                  "stance_intercept": self.stance_[1], "commitment_coef": self.commitment_[0].astype(np.float32),
                  "commitment_intercept": self.commitment_[1]}
        meta = {"model": "stance", "stances": list(STANCES), "commitments": list(COMMITMENTS),
                "cues": list(CUE_NAMES), "vocabulary": {term: int(index) for term, index in
                                                       self.vectorizer_.vocabulary_.items()},
                "settings": {"cue_weight": self.cue_weight, "C_stance": self.C_stance,
                             "C_commitment": self.C_commitment, "balance": self.balance, "seed": self.seed}}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict) -> StanceModel:
        """The model a file holds; ValueError when it was written for other classes or cues than this code's."""
        if meta.get("model") != "stance":
            raise ValueError("not a stance model")
        if (tuple(meta["stances"]) != STANCES or tuple(meta["commitments"]) != COMMITMENTS
                or tuple(meta["cues"]) != CUE_NAMES):
            raise ValueError("written for other classes or cues than this version's")
        model = cls(**meta["settings"])
        model.vectorizer_ = word_vectorizer(meta["vocabulary"])
        model.vectorizer_.idf_ = arrays["idf"]
        n_features = len(meta["vocabulary"]) + len(CUE_NAMES)
        model.stance_ = (arrays["stance_coef"].astype(np.float64), arrays["stance_intercept"])
        model.commitment_ = (arrays["commitment_coef"].astype(np.float64), arrays["commitment_intercept"])
        for coef, intercept in (model.stance_, model.commitment_):
            if coef.shape[1] != n_features or coef.shape[0] != intercept.shape[0]:
                raise ValueError("its weights do not fit its vocabulary")
        return model


def tfidf_rows(split: list[list[str]], vectorizer: TfidfVectorizer,
               lookups: TermLookups | None = None) -> sparse.csr_matrix:
    """What `vectorizer.transform` gives for these passages' scoped words (`split`: each passage's, as a list).

    Bit for bit, in a fraction of its time.

    The run reads every document's evidence in a batch of a few dozen passages, where the vectorizer's own
    re-tokenising and per-document bookkeeping cost as much as the cues. Here the words are already split,
    each is looked up once (its word id), and the rest is numpy over the batch: a bigram is a pair of
    consecutive word ids in one passage, found among the vocabulary's pairs in a hash index (pandas'; a binary
    search over the sorted pairs took a tenth of the stage, the index a hundredth); each passage x column is
    counted by one `np.unique` (a `Counter` per passage and a dictionary look-up per word pair cost half the
    stage). The counts become TF-IDF rows by the vectorizer's own steps
    (pipeline/classify/vectorize.py; tests/test_stance.py checks the two agree).
    """
    lookups = lookups or term_lookups(vectorizer)
    words = np.fromiter(map(lookups.word_ids.get, chain.from_iterable(split), repeat(-1)), dtype=np.int64)
    rows = np.repeat(np.arange(len(split), dtype=np.int64), np.fromiter(map(len, split), dtype=np.int64,
                                                                        count=len(split)))
    known = words >= 0
    unigrams = np.where(known, lookups.unigram_columns[words], -1)
    paired = known[:-1] & known[1:] & (rows[:-1] == rows[1:])
    codes = words[:-1][paired] * len(lookups.word_ids) + words[1:][paired]
    found = lookups.pairs.get_indexer(codes)
    hit = found >= 0
    width = len(vectorizer.vocabulary_)
    keys = np.concatenate([rows[unigrams >= 0] * width + unigrams[unigrams >= 0],
                           rows[:-1][paired][hit] * width + lookups.pair_columns[found[hit]]])
    keys, counts = np.unique(keys, return_counts=True)
    passage_rows, columns = np.divmod(keys, width)
    return counted_tfidf_rows(vectorizer, columns, counts.astype(np.float64),
                              np.bincount(passage_rows, minlength=len(split)))


class TermLookups(NamedTuple):
    """A vocabulary's terms by word id: what `tfidf_rows` needs to find unigram and bigram columns in numpy.

    Every word of any term has an id; `unigram_columns[id]` is the word's own column (-1: only in bigrams);
    a bigram is the code `first id x len(word_ids) + second id`, at the same position in `pairs` (a hash
    index of the codes) as its column in `pair_columns`.
    """

    word_ids: dict[str, int]
    unigram_columns: np.ndarray
    pairs: pd.Index
    pair_columns: np.ndarray


def term_lookups(vectorizer: TfidfVectorizer) -> TermLookups:
    """The vectorizer's unigram and bigram columns by word id (unigrams and bigrams only, as it counts)."""
    vocabulary = vectorizer.vocabulary_
    word_ids: dict[str, int] = {}
    for term in vocabulary:
        for word in term.split(" "):
            word_ids.setdefault(word, len(word_ids))
    unigram_columns = np.full(len(word_ids), -1, dtype=np.int64)
    pairs: list[tuple[int, int]] = []
    for term, column in vocabulary.items():
        first, _, second = term.partition(" ")
        if second:
            pairs.append((word_ids[first] * len(word_ids) + word_ids[second], column))
        else:
            unigram_columns[word_ids[first]] = column
    return TermLookups(word_ids, unigram_columns, pd.Index(np.array([code for code, _ in pairs], dtype=np.int64)),
                       np.array([column for _, column in pairs], dtype=np.int64))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
