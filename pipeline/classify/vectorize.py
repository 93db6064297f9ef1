"""TF-IDF rows of prepared passages, their terms counted once for every vectorizer that reads them alike.

The item models, the relevance model and the domain model each have a scikit-learn `TfidfVectorizer`
over the same prepared text, analysed the same way (word unigrams and bigrams of `[a-z][a-z0-9_]+`).
Their `transform` splits and counts the text again for each, term by term in Python, and validates its
input on every call: about half the time of scoring a document. Here a passage's terms are counted once,
with the vectorizer's own analyzer (`term_counts`), and each vectorizer's rows are built from the counts
by the steps of its own `transform` (`tfidf_rows`): counts as a CSR matrix with sorted columns, sublinear
TF, IDF, then scikit-learn's `normalize`. The values are the same to the last bit; tests/test_classify.py
holds them to `transform` for every vectorizer a model has.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

#: The vectorizer parameters that decide how a text is split into terms.
ANALYSIS_PARAMETERS = ("input", "encoding", "decode_error", "strip_accents", "lowercase", "preprocessor",
                       "tokenizer", "stop_words", "token_pattern", "ngram_range", "analyzer")


def term_counts(vectorizer: TfidfVectorizer, texts: list[str]) -> list[Counter]:
    """Each text's terms (as `vectorizer` splits them) with their counts, in order of first occurrence."""
    analyze = vectorizer.build_analyzer()
    return [Counter(analyze(text)) for text in texts]


@functools.lru_cache(maxsize=64)
def analysis_of(vectorizer: TfidfVectorizer) -> tuple:
    """The parameters that decide how `vectorizer` splits text (read once: `get_params` is slow)."""
    parameters = vectorizer.get_params()
    return tuple(repr(parameters[name]) for name in ANALYSIS_PARAMETERS)


def analyses_alike(first: TfidfVectorizer, second: TfidfVectorizer) -> bool:
    """Whether two vectorizers split every text into the same terms (so one's counts serve the other)."""
    return analysis_of(first) == analysis_of(second)


class SharedVocabulary:
    """The terms of several vectorizers' vocabularies in one dict, with each vectorizer's column of every term.

    A passage's terms are then looked up once for all of them (a lookup in a large dict is most of the
    cost); the columns of each vectorizer are an array index away. Column -1: not in that vocabulary.
    """

    def __init__(self, vectorizers: tuple[TfidfVectorizer, ...]) -> None:
        terms: dict[str, int] = {}
        for vectorizer in vectorizers:
            for term in vectorizer.vocabulary_:
                terms.setdefault(term, len(terms))
        self.index = terms
        self.columns: dict[int, np.ndarray] = {}
        for vectorizer in vectorizers:
            columns = np.full(len(terms) + 1, -1, dtype=np.int64)  # the last entry: a term in no vocabulary
            for term, column in vectorizer.vocabulary_.items():
                columns[terms[term]] = column
            self.columns[id(vectorizer)] = columns

    def positions(self, counts: list[Counter]) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Every counted term's place in the shared vocabulary (len: in none), its count, and terms per passage."""
        lookup, missing = self.index.get, len(self.index)
        positions: list[int] = []
        values: list[int] = []
        lengths: list[int] = []
        for counted in counts:
            positions.extend(map(lookup, counted, itertools.repeat(missing)))
            values.extend(counted.values())
            lengths.append(len(counted))
        return (np.fromiter(positions, dtype=np.int64, count=len(positions)),
                np.fromiter(values, dtype=np.int64, count=len(values)), lengths)


@functools.lru_cache(maxsize=8)
def shared_vocabulary(vectorizers: tuple[TfidfVectorizer, ...]) -> SharedVocabulary:
    """One SharedVocabulary per set of vectorizers (a model's), made on first use."""
    return SharedVocabulary(vectorizers)


def tfidf_rows(vectorizer: TfidfVectorizer, columns: np.ndarray, values: np.ndarray,
               lengths: list[int]) -> sparse.csr_matrix:
    """What `vectorizer.transform(texts)` gives, from the texts' counted terms as `vectorizer`'s columns.

    `columns` and `values` are every passage's terms in order (-1: not in the vocabulary), `lengths` how
    many belong to each passage. Unknown terms are dropped, the rest keep their order, and the columns are
    sorted as scikit-learn sorts them; then the same sublinear TF, IDF and norm.
    """
    known = columns >= 0
    rows = np.repeat(np.arange(len(lengths)), lengths)[known]
    indptr = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=len(lengths)), out=indptr[1:])
    matrix = sparse.csr_matrix((values[known].astype(vectorizer.dtype), columns[known].astype(np.int32), indptr),
                               shape=(len(lengths), len(vectorizer.vocabulary_)))
    matrix.sort_indices()
    if vectorizer.sublinear_tf:
        np.log(matrix.data, matrix.data)
        matrix.data += 1.0
    if vectorizer.use_idf:
        matrix.data *= vectorizer.idf_[matrix.indices]
    if vectorizer.norm == "l2":
        inplace_csr_row_normalize_l2(matrix)  # what `normalize` runs for CSR rows, without its input checks
    elif vectorizer.norm is not None:
        matrix = normalize(matrix, norm=vectorizer.norm, copy=False)
    return matrix


class CountedTerms:
    """Passages' terms, counted once as a model's vectorizers split them, for each of those vectorizers' rows.

    `vectorizers` are the model's vectorizers that split text alike (the first did the splitting); any other
    vectorizer gets None from `rows_for` and transforms the texts itself.
    """

    def __init__(self, vectorizers: tuple[TfidfVectorizer, ...], texts: list[str]) -> None:
        self.vectorizers = tuple(v for v in vectorizers if analyses_alike(v, vectorizers[0]))
        self.shared = shared_vocabulary(self.vectorizers)
        self.positions, self.values, self.lengths = self.shared.positions(term_counts(vectorizers[0], texts))

    def rows_for(self, vectorizer: TfidfVectorizer) -> sparse.csr_matrix | None:
        """`vectorizer`'s TF-IDF rows of the passages, or None when it is not one of the counted vectorizers."""
        if not any(vectorizer is counted for counted in self.vectorizers):
            return None
        columns = self.shared.columns[id(vectorizer)][self.positions]
        return tfidf_rows(vectorizer, columns, self.values, self.lengths)
