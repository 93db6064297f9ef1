"""The decision rule: from passage scores to verdicts, in one place, used by `map` and `eval` alike.

A classifier scores passages (`PassageScores`: a probability per passage and item, calibrated per item so
that 0.6 means the same for every item; a quotation score; a relevance per passage). This module alone
decides what those scores mean:

- a passage covers an item when its probability reaches the item's `covered_at`, and the passage is
  evidence at all: it has `min_words` words or more (a table cell, contents line or caption is not), it
  reads as covering some item's aim (`relevance_at`), and it is about children, families and their care
  at all (`domain_at`: news, tax forms and encyclopaedia articles are not); or when it quotes one of the
  item's sentences;
- a document covers an item when one of its passages does, reaching the item's `document_covered_at` (a
  document's best passage is judged against a higher bar than a passage alone: the best of many passages
  is high by chance alone), and the document is about children's care
  at all: at least `min_relevant_passages` of its passages are, or, in a short document, at least
  `min_relevant_share` of those long enough to be evidence (and always at least one); and, in a long
  document, at least `min_relevant_rate` of them (well above the rate at which text that is not about
  children's care looks relevant): the document gate;
- partial: the best passage reaches `partial_at` (a near call a reviewer should look at);
- missing otherwise, with the best passage kept as the near miss, so the closest call can be checked, and,
  when something other than its score keeps it from being evidence (it is too short, it does not read as
  covering an item's aim, it or the text around it is not about children's care, the document says too little
  about care), that reason in words: a near miss scoring above the threshold is never left unexplained.

`eval` scores gold passages with `passage_decisions` and gold documents with `item_verdicts`, exactly
as `map` does, so a figure measured by `eval` is a figure of the map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.types import Status

#: A quotation at or above this alignment is coverage by itself (explicit).
QUOTE_COVERED_AT = 0.90
#: How many evidence passages a verdict keeps, best first.
MAX_EVIDENCE = 3


@dataclass(frozen=True)
class PassageScores:
    """Scores of some passages against every item: what a classifier hands to the decision rule.

    `probabilities` and `quotes` are [passages, items]; `relevance` (1.0 everywhere for a classifier that
    has no relevance model) and `words` (how many words each passage has) are [passages].
    """

    probabilities: np.ndarray
    quotes: np.ndarray
    relevance: np.ndarray
    words: np.ndarray
    #: [passages]: the probability that the passage is from a document about children's care at all (not
    #: news, tax or engines); None for a classifier without a domain model (every passage counts as in it).
    domain: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = self.probabilities.shape[:1]
        if self.probabilities.shape != self.quotes.shape or self.relevance.shape != rows or self.words.shape != rows:
            raise ValueError("probabilities, quotes, relevance and words must describe the same passages and items")
        if self.domain is not None and self.domain.shape != rows:
            raise ValueError("domain must describe the same passages as the other scores")

    def rows(self, rows: list[int] | np.ndarray) -> PassageScores:
        return PassageScores(self.probabilities[rows], self.quotes[rows], self.relevance[rows], self.words[rows],
                             None if self.domain is None else self.domain[rows])

    @property
    def scores(self) -> np.ndarray:
        """What a reviewer is shown per passage and item: the probability, or the quotation when higher."""
        return np.maximum(self.probabilities, np.where(self.quotes >= QUOTE_COVERED_AT, self.quotes, 0.0))


@dataclass(frozen=True)
class ItemVerdict:
    """One item's verdict for one document: status, score, evidence rows (best first) and the near miss."""

    status: Status
    score: float
    evidence: tuple[int, ...] = ()
    near_miss: int | None = None
    quoted: bool = False
    #: why the near miss is not evidence when its score is not the reason ("" when it is), for a reviewer
    near_miss_reason: str = ""


@dataclass(frozen=True)
class DecisionRule:
    """Thresholds per item (on the calibrated scale) and the relevance gates; see the module docstring.

    Rationale for the gates: a passage about roads or tax that happens to share words with an item is
    not evidence, however the words line up; and a document with next to nothing about children's care
    (an encyclopaedia article, a waste strategy) covers nothing, however many passages it has.
    """

    covered_at: np.ndarray
    partial_at: np.ndarray
    relevance_at: float = 0.0
    min_relevant_passages: int = 0
    min_relevant_share: float = 0.0
    min_relevant_rate: float = 0.0
    min_words: int = 0
    domain_at: float = 0.0
    #: How many passages long enough to be evidence, either side of a passage, make the stretch of the
    #: document whose mean domain probability must reach `domain_at` too (0: the passage alone).
    domain_window: int = 0
    #: [items]: what a document's best passage must reach for the document to cover the item (None: covered_at).
    document_covered_at: np.ndarray | None = None
    quote_at: float = QUOTE_COVERED_AT
    max_evidence: int = MAX_EVIDENCE
    method: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if np.any(self.partial_at > self.covered_at) or np.any(self.partial_at < 0) or np.any(self.covered_at > 1):
            raise ValueError("need 0 <= partial_at <= covered_at <= 1 for every item")

    def relevant(self, scores: PassageScores) -> np.ndarray:
        """Which passages can be evidence: long enough to say something, about an item's aim, and in the domain."""
        in_domain = True if scores.domain is None else scores.domain >= self.domain_at
        return (scores.relevance >= self.relevance_at) & (scores.words >= self.min_words) & in_domain

    def in_domain_stretch(self, scores: PassageScores) -> np.ndarray:
        """[passages]: whether the stretch of the document around each passage is about children's care.

        The stretch is the passage and `domain_window` passages either side, counting only those long enough
        to be evidence (a table cell or a heading between two paragraphs says nothing of the topic); a
        passage too short to be evidence is never in one. Rationale: the domain model reads one passage, and
        a long document about something else has passages that, alone, read like a care document's (the
        paragraph on parents in a book about copyright); a care plan's passages sit among others about care.
        """
        if scores.domain is None or self.domain_window <= 0:
            return np.ones(len(scores.words), dtype=bool)
        rows = np.flatnonzero(scores.words >= self.min_words)
        stretch = np.zeros(len(scores.words), dtype=bool)
        if not len(rows):
            return stretch
        sums = np.concatenate([[0.0], np.cumsum(scores.domain[rows])])
        at = np.arange(len(rows))
        low, high = np.maximum(at - self.domain_window, 0), np.minimum(at + self.domain_window + 1, len(rows))
        stretch[rows] = (sums[high] - sums[low]) / (high - low) >= self.domain_at
        return stretch

    def relevant_in_document(self, scores: PassageScores) -> np.ndarray:
        """Which passages of one document can be evidence: relevant alone, and in a stretch about care."""
        return self.relevant(scores) & self.in_domain_stretch(scores)

    def quoted(self, scores: PassageScores) -> np.ndarray:
        return scores.quotes >= self.quote_at

    def passage_decisions(self, scores: PassageScores) -> np.ndarray:
        """Which passage covers which item, [passages, items]: a passage judged alone (no document gate)."""
        reaches = (scores.probabilities >= self.covered_at) & self.relevant(scores)[:, None]
        return reaches | self.quoted(scores)

    def passage_partial(self, scores: PassageScores, relevant: np.ndarray | None = None) -> np.ndarray:
        """Which passage is at least partial evidence for which item, [passages, items].

        `relevant` says which passages can be evidence (by default `relevant(scores)`, the passage alone).
        """
        relevant = self.relevant(scores) if relevant is None else relevant
        return ((scores.probabilities >= self.partial_at) & relevant[:, None]) | self.quoted(scores)

    def relevant_passages_needed(self, scores: PassageScores) -> int:
        """How many relevant passages the document gate asks of this document.

        Rationale: a long document that is not about children's care (a waste strategy, an encyclopaedia
        article) may have a passage or two that looks relevant; it needs `min_relevant_passages`. A short
        consultation answer of three paragraphs about siblings must not be shut out for being short, so a
        short document needs only `min_relevant_share` of its passages that are long enough to be evidence.
        A book of 3,000 passages that is not about children's care has a few dozen that look relevant by
        chance, so a long document needs `min_relevant_rate` of them, a multiple of that chance rate.
        """
        long_enough = int((scores.words >= self.min_words).sum())
        needed = self.min_relevant_passages
        if self.min_relevant_share:
            needed = min(needed, max(1, math.ceil(self.min_relevant_share * long_enough)))
        return max(needed, math.ceil(self.min_relevant_rate * long_enough))

    def document_passes_gate(self, scores: PassageScores, relevant: np.ndarray | None = None) -> bool:
        """Whether the document says enough about children's care for any of its passages to count.

        `relevant`: `relevant_in_document(scores)`, when the caller has it already.
        """
        relevant = self.relevant_in_document(scores) if relevant is None else relevant
        return int(relevant.sum()) >= self.relevant_passages_needed(scores)

    def item_verdicts(self, scores: PassageScores) -> list[ItemVerdict]:
        """One verdict per item for a document whose passages are `scores`' rows."""
        n_passages, n_items = scores.probabilities.shape
        if n_passages == 0:
            return [ItemVerdict(status=Status.MISSING, score=0.0) for _ in range(n_items)]
        relevant = self.relevant_in_document(scores)
        gate = self.document_passes_gate(scores, relevant)
        quoted = self.quoted(scores)
        document_covered_at = self.covered_at if self.document_covered_at is None else self.document_covered_at
        reaches = (scores.probabilities >= document_covered_at) & relevant[:, None]
        covered = (reaches | quoted) & (gate | quoted)
        partial = self.passage_partial(scores, relevant) & (gate | quoted)
        shown = scores.scores
        verdicts = []
        for column in range(n_items):
            order = np.lexsort((np.arange(n_passages), -shown[:, column], ~quoted[:, column],
                                ~covered[:, column]))
            best = int(order[0])
            if covered[best, column]:
                status = Status.COVERED
                evidence = [int(row) for row in order if partial[row, column]][: self.max_evidence]
            elif partial[:, column].any():
                status = Status.PARTIAL
                evidence = [int(row) for row in order if partial[row, column]][: self.max_evidence]
            else:
                verdicts.append(ItemVerdict(status=Status.MISSING, score=float(shown[best, column]), near_miss=best,
                                            near_miss_reason=self.exclusion(scores, best, column, relevant, gate)))
                continue
            verdicts.append(ItemVerdict(status=status, score=float(shown[evidence[0], column]),
                                        evidence=tuple(evidence), quoted=bool(quoted[evidence[0], column])))
        return verdicts

    def exclusion(self, scores: PassageScores, row: int, column: int, relevant: np.ndarray, gate: bool) -> str:
        """Why passage `row`, scoring enough to be partial evidence for item `column`, is not, in a reviewer's words.

        "" when its score is the reason (below the partial threshold). Otherwise the first gate it fails, in
        the order a reader would check them: its length, whether it reads as covering an item's aim, whether
        it is about children's care, the text around it, the document.
        """
        if scores.probabilities[row, column] < self.partial_at[column]:
            return ""
        if scores.words[row] < self.min_words:
            return (f"too short to be evidence ({int(scores.words[row])} words; a heading, table cell or caption "
                    f"is context): it needs {self.min_words}")
        if scores.relevance[row] < self.relevance_at:
            return (f"does not read as covering an item's aim (relevance {scores.relevance[row]:.2f}, "
                    f"needs {self.relevance_at:.2f})")
        if scores.domain is not None and scores.domain[row] < self.domain_at:
            return f"not about children's care (domain {scores.domain[row]:.2f}, needs {self.domain_at:.2f})"
        if not relevant[row]:
            return "the passages around it are not about children's care"
        if not gate:
            return "the document says too little about children's care for any passage to count"
        return ""

    def describe(self, item_ids: list[str]) -> dict:
        """The rule as run.json records it and the report shows it."""
        return {
            "covered_at": {item_id: round(float(value), 4) for item_id, value in zip(item_ids, self.covered_at,
                                                                                      strict=True)},
            "partial_at": {item_id: round(float(value), 4) for item_id, value in zip(item_ids, self.partial_at,
                                                                                      strict=True)},
            "document_covered_at": None if self.document_covered_at is None else {
                item_id: round(float(value), 4) for item_id, value in zip(item_ids, self.document_covered_at,
                                                                          strict=True)},
            "quote_at": self.quote_at, "relevance_at": self.relevance_at, "domain_at": self.domain_at,
            "domain_window": self.domain_window,
            "min_words": self.min_words,
            "min_relevant_passages": self.min_relevant_passages, "min_relevant_share": self.min_relevant_share,
            "min_relevant_rate": self.min_relevant_rate, **self.method,
        }
