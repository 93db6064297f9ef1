"""Stage 3, classify: passages -> scores against every reference item, which the decision rule turns into verdicts.

A classifier reads a passage's own text, nothing else (no heading, no lead-in): that is what `eval` has
for a labelled passage, so `eval` and `map` score the same text the same way. It gives, per passage,
`PassageScores` (pipeline/decide.py): a probability per item, a quotation score per item, a relevance,
and its word count; and it can say which words drove each score. The classifier also carries its
`DecisionRule`: the thresholds it was trained with.

Signals, kept separate and visible in every match:
- `quote`: one of the item's sentences found near-verbatim in the passage (explicit coverage);
- `tfidf`: lexical-semantic similarity over lemmas and domain concepts (the lexical classifier);
- `model`: the learned item models, calibrated per item, gated by the relevance model.

Two classifiers share the interface (`fit(...)`, `score(texts) -> Scored`, `rule`, `decide(texts)`):
- `LexicalClassifier`: quote + tfidf with fixed thresholds; needs no training data;
- `PromiseClassifier`: quote + the learned item models + relevance (the default for `promise-map map`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipeline.classify.calibrate import PARTIAL_SHARE, ItemCalibration, choose_document_threshold, choose_thresholds
from pipeline.classify.learned import LearnedModel
from pipeline.classify.lexical import LexicalMatcher
from pipeline.classify.persist import prefixed, unprefixed
from pipeline.classify.quote import QuoteMatcher
from pipeline.classify.relevance import RelevanceModel
from pipeline.classify.semantic import SHARED_ENCODER
from pipeline.classify.text import Lexicon, load_lexicon, normalise_for_matching
from pipeline.classify.zeroshot import ZeroShotCalibration
from pipeline.config import default_thresholds
from pipeline.decide import DecisionRule, PassageScores
from pipeline.types import ReferenceItem, Signal

__all__ = ["LexicalClassifier", "PromiseClassifier", "Scored", "load_lexicon", "normalise_for_matching",
           "word_counts"]

#: A passage needs at least this many words to be evidence: table cells ("Operating profit | 45.9"),
#: contents lines and captions say nothing about an item's aim (1 of 1,397 labelled real positives is
#: shorter; docs/accuracy.md).
MIN_EVIDENCE_WORDS = 8
#: A passage can be evidence from this relevance up. Cross-validated (written off-topic documents
#: cross-fitted): 0.5 left 0.07 covered verdicts per off-topic document, 0.6 0.02, 0.7 none; on long
#: documents 0.6 had the best document-level F1 (docs/accuracy.md).
RELEVANCE_AT = 0.6
#: The document gate: a document covers nothing unless this many of its passages are relevant, or, if it is
#: short, this share of its passages long enough to be evidence (a three-paragraph answer needs one).
MIN_RELEVANT_PASSAGES = 3
#: A passage can be evidence only from this domain probability up (the domain model's classes are balanced,
#: so 0.5 is where a passage is likelier from a care document than from one about something else).
DOMAIN_AT = 0.5
#: In a document, a passage counts only where it and this many passages long enough to be evidence either
#: side reach DOMAIN_AT on average (pipeline/decide.py, `in_domain_stretch`): a few paragraphs, the span of a
#: section's point. Cross-validated on the real documents and the written off-topic ones (docs/accuracy.md).
DOMAIN_WINDOW = 2
MIN_RELEVANT_SHARE = 0.25
#: ... and, if it is long, this share of them: 2.5 times the rate at which passages of the written off-topic
#: documents look relevant (0.8 %, cross-fitted, most of them in an adult social care policy; docs/accuracy.md).
MIN_RELEVANT_RATE = 0.02
#: Added to each item's out-of-fold threshold. The item models are the averaged fold models whose scores
#: chose the thresholds, so none is needed (cross-validated: +0.05 and +0.10 trade recall for precision at
#: the same F1; docs/accuracy.md); kept as a knob.
THRESHOLD_MARGIN = 0.0
#: A threshold never goes above this, so every item stays reachable.
MAX_THRESHOLD = 0.95
#: Lexical matches below this similarity are not worth recording.
LEXICAL_FLOOR = 0.12
WORD = re.compile(r"[^\W\d_]{2,}")


def word_counts(texts: list[str]) -> np.ndarray:
    """Words of two or more letters per text: what `MIN_EVIDENCE_WORDS` counts."""
    return np.array([len(WORD.findall(text)) for text in texts], dtype=int)


@dataclass
class Scored:
    """Scores of some passages, and a way to ask which words drove one of them (for matches and highlights)."""

    scores: PassageScores
    explain: Callable[[int, int], str]

    def signal(self, row: int, column: int, rule: DecisionRule) -> Signal:
        if self.scores.quotes[row, column] >= rule.quote_at:
            return Signal.QUOTE
        return self.column_signals[column] if self.column_signals else self.model_signal

    model_signal: Signal = Signal.MODEL
    quote_spans: dict[tuple[int, int], str] = field(default_factory=dict)
    #: Per item column, the signal its scores come from, when columns differ (learned and zero-shot items).
    column_signals: tuple[Signal, ...] | None = None
    #: The passages' prepared words and concept phrases, for a scorer that reads the same passages again.
    prepared: list[str] | None = None
    phrases: list[dict] | None = None


def quote_matrix(hits, n_texts: int, n_items: int) -> tuple[np.ndarray, dict[tuple[int, int], str]]:
    matrix = np.zeros((n_texts, n_items))
    spans: dict[tuple[int, int], str] = {}
    for hit in hits:
        matrix[hit.passage, hit.item] = hit.score
        spans[(hit.passage, hit.item)] = hit.span
    return matrix, spans


def fixed_rule(n_items: int) -> DecisionRule:
    """The lexical classifier's rule: the fixed tfidf thresholds of config.py for every item, no relevance gate."""
    tfidf = default_thresholds()[Signal.TFIDF.value]
    return DecisionRule(covered_at=np.full(n_items, tfidf.covered), partial_at=np.full(n_items, tfidf.partial),
                        min_words=MIN_EVIDENCE_WORDS,
                        method={"scores": "tfidf cosine similarity (not calibrated)", "relevance": "none"})


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
        self.rule_ = fixed_rule(len(items))
        return self

    @property
    def rule(self) -> DecisionRule:
        return self.rule_

    def score(self, texts: list[str]) -> Scored:
        pairs = [self.lexical_.prepare_with_phrases(text) for text in texts]
        prepared, phrases = [text for text, _ in pairs], [found for _, found in pairs]
        if texts:
            similarity, rows = self.lexical_.similarity(texts, prepared=prepared)
        else:
            similarity, rows = np.zeros((0, len(self.items_))), None
        quotes, spans = quote_matrix(self.quote_.hits(texts), len(texts), len(self.items_))
        scores = PassageScores(probabilities=np.clip(similarity, 0.0, 1.0).astype(float), quotes=quotes,
                               relevance=np.ones(len(texts)), words=word_counts(texts))

        def explain(row: int, column: int) -> str:
            if (row, column) in spans and quotes[row, column] >= self.rule_.quote_at:
                return spans[(row, column)]
            return self.lexical_.shared_terms(rows[row], column, phrases[row])

        return Scored(scores=scores, explain=explain, model_signal=Signal.TFIDF, quote_spans=spans)

    def decide(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Passage-level decisions and confidences [texts, items], by the same rule `map` uses."""
        scores = self.score(texts).scores
        return self.rule_.passage_decisions(scores), np.clip(scores.scores, 0.0, 1.0)

    def describe(self) -> dict:
        return {"name": type(self).__name__, "signals": ["quote", "tfidf"]}


@dataclass
class PromiseClassifier:
    """Quotation, the learned item models (calibrated per item) and the relevance gate: the default classifier."""

    lexicon: Lexicon | None = None
    seed: int = 0
    threshold_margin: float = THRESHOLD_MARGIN
    relevance_at: float = RELEVANCE_AT
    min_relevant_passages: int = MIN_RELEVANT_PASSAGES
    min_relevant_share: float = MIN_RELEVANT_SHARE
    min_relevant_rate: float = MIN_RELEVANT_RATE
    domain_at: float = DOMAIN_AT
    domain_window: int = DOMAIN_WINDOW
    #: Whether zero-shot scoring (items without labels) reads meaning as well as words (semantic.py).
    zero_shot_semantic: bool = True

    def fit(self, items: list[ReferenceItem] | tuple[ReferenceItem, ...], texts: list[str],
            label_sets: list[frozenset[str]], groups: list[str], *, off_topic_texts: list[str] = (),
            off_domain: list[bool] | None = None,
            progress: Callable[[str], None] | None = None) -> PromiseClassifier:
        """Learn item models from labelled texts, relevance and domain from the same texts and the off-topic ones.

        Relevance learns to tell a passage that covers some item (it has a label) from one that covers
        none (it has none: a definition, a table row, a passage about adult services, a news article).
        The domain model learns to tell text from care documents (labelled or not) from text about anything
        else: `off_domain` marks the texts written far from children's care, and `off_topic_texts` are
        further such passages (of the written off-topic documents) that train relevance and domain only.
        `progress` is called once per step (`training_steps()` in all).
        """
        if not items:
            raise ValueError("fit needs at least one reference item")
        self.items_ = tuple(items)
        self.model_ = LearnedModel(lexicon=self.lexicon, seed=self.seed).fit(items, texts, label_sets, groups,
                                                                             progress=progress)
        self.calibration_ = ItemCalibration().fit(self.model_.oof_scores_, self.model_.oof_targets_)
        calibrated = self.calibration_.transform(self.model_.oof_scores_)
        _, self.common_threshold_ = choose_thresholds(calibrated, self.model_.oof_targets_)
        # One threshold for every item: the scores are calibrated per item, so "covered" means the same
        # probability whichever item it is (per-item F1-best thresholds: 0.003 higher micro-F1, docs/accuracy.md).
        self.thresholds_ = np.full(len(self.items_), min(self.common_threshold_ + self.threshold_margin,
                                                         MAX_THRESHOLD))
        n_texts = len(texts)
        self.document_threshold_ = choose_document_threshold(
            calibrated[:n_texts], self.model_.oof_targets_[:n_texts], list(groups),
            word_counts(texts) >= MIN_EVIDENCE_WORDS, floor=float(self.thresholds_.max()))
        self.zero_shot_ = self.fit_zero_shot(texts, groups)
        if progress is not None:
            progress("zero-shot calibration")
        self.relevance_ = self.fit_relevance(texts, label_sets, list(off_topic_texts))
        if progress is not None:
            progress("relevance model")
        self.domain_ = self.fit_domain(texts, off_domain or [False] * len(texts), list(off_topic_texts))
        if progress is not None:
            progress("domain model")
        return self

    @staticmethod
    def training_steps() -> int:
        """How many steps `fit` reports: the item model's, the zero-shot calibration, relevance and domain."""
        return LearnedModel().steps + 3

    def fit_domain(self, texts: list[str], off_domain: list[bool], off_topic_texts: list[str]) -> RelevanceModel:
        """The domain model: care documents' text (and the item texts) against text about anything else.

        Rationale: relevance alone learns what covering language looks like ("we will make sure every child
        is heard"), which a news story or a book on copyright also uses; whether the text is about children's
        care at all is a separate question, with a cleaner answer from a model that learns only that.
        """
        if len(off_domain) != len(texts):
            raise ValueError("off_domain must mark every text")
        prepared = self.model_.prepared_
        in_domain = [0 if far else 1 for far in off_domain] + [1] * (len(prepared) - len(texts))
        training = list(prepared) + [self.model_.lexical_.prepare(text) for text in off_topic_texts]
        return RelevanceModel(seed=self.seed).fit(training, np.array(in_domain + [0] * len(off_topic_texts)))

    def fit_zero_shot(self, texts: list[str], groups: list[str]) -> ZeroShotCalibration:
        """What a similarity to an item's text means, learned on the real passages: for items with no examples.

        Rationale: a framework nobody has labelled can only be scored by closeness to its items' words;
        the labelled frameworks' real passages say how close is close enough (pipeline/classify/zeroshot.py).
        """
        real = [row for row, group in enumerate(groups) if group.startswith("doc:")]
        if not real:
            return ZeroShotCalibration()
        real_texts = [texts[row] for row in real]
        similarity, _ = self.model_.lexical_.similarity(real_texts,
                                                        prepared=[self.model_.prepared_[row] for row in real])
        semantic = None
        if self.zero_shot_semantic:
            semantic = SHARED_ENCODER.similarity(real_texts, [item.text for item in self.items_])
        targets = self.model_.oof_targets_[real]
        return ZeroShotCalibration().fit(similarity, targets, [groups[row] for row in real],
                                         word_counts(real_texts) >= MIN_EVIDENCE_WORDS, semantic)

    def fit_relevance(self, texts: list[str], label_sets: list[frozenset[str]],
                      off_topic_texts: list[str]) -> RelevanceModel:
        """Relevance from the texts the item models read (labelled ones and item texts relevant), and the off-topic."""
        prepared = self.model_.prepared_
        n_items_examples = len(prepared) - len(texts)
        training = list(prepared)
        relevant = [1 if labels else 0 for labels in label_sets] + [1] * n_items_examples
        training += [self.model_.lexical_.prepare(text) for text in off_topic_texts]
        relevant += [0] * len(off_topic_texts)
        return RelevanceModel(seed=self.seed).fit(training, np.array(relevant))

    @property
    def rule(self) -> DecisionRule:
        return DecisionRule(covered_at=self.thresholds_, partial_at=self.thresholds_ * PARTIAL_SHARE,
                            relevance_at=self.relevance_at, min_relevant_passages=self.min_relevant_passages,
                            min_relevant_share=self.min_relevant_share, min_relevant_rate=self.min_relevant_rate,
                            min_words=MIN_EVIDENCE_WORDS, domain_at=self.domain_at, domain_window=self.domain_window,
                            document_covered_at=np.maximum(self.thresholds_, self.document_threshold_), method={
                                "scores": "item models' probabilities, calibrated per item on out-of-fold scores",
                                "thresholds": f"one for every item: the out-of-fold F1-best "
                                              f"{self.common_threshold_:.2f} on the calibrated scale, plus a "
                                              f"margin of {self.threshold_margin:.2f}; a document's best passage "
                                              f"needs {self.document_threshold_:.2f} (the out-of-fold F1-best over "
                                              "real documents)",
                                "relevance": "relevance model over passage words (pipeline/classify/relevance.py)",
                                "domain": "domain model over passage words: care documents against any other "
                                          "text (pipeline/classify/relevance.py)"})

    def score(self, texts: list[str]) -> Scored:
        """Calibrated item probabilities, quotations, relevance and word counts of `texts` (their own words only)."""
        n_items = len(self.items_)
        if not texts:
            empty = np.zeros((0, n_items))
            return Scored(PassageScores(empty, empty, np.zeros(0), np.zeros(0, dtype=int), np.zeros(0)),
                          explain=lambda r, c: "")
        matrix, parts = self.model_.features(texts, alike=(self.relevance_.vectorizer_, self.domain_.vectorizer_))
        probabilities = self.calibration_.transform(self.model_.decision_scores(matrix))
        quotes, spans = quote_matrix(parts["quote_hits"], len(texts), n_items)
        relevance = self.relevance_.predict_proba(parts["prepared"], parts["counts"])
        scores = PassageScores(probabilities=probabilities, quotes=quotes, relevance=relevance,
                               words=word_counts(texts),
                               domain=self.domain_.predict_proba(parts["prepared"], parts["counts"]))
        rule = self.rule

        explained: dict[tuple[int, int], str] = {}

        def explain(row: int, column: int) -> str:
            if (row, column) in spans and quotes[row, column] >= rule.quote_at:
                return spans[(row, column)]
            if (row, column) not in explained:  # a match and its evidence row ask for the same words
                explained[(row, column)] = self.model_.explain(parts["words"], row, column, parts["phrases"][row])
            return explained[(row, column)]

        return Scored(scores=scores, explain=explain, quote_spans=spans, prepared=parts["prepared"],
                      phrases=parts["phrases"])

    def decide(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Passage-level decisions and calibrated confidences [texts, items], by the rule `map` uses."""
        scores = self.score(texts).scores
        return self.rule.passage_decisions(scores), np.clip(scores.scores, 0.0, 1.0)

    def describe(self) -> dict:
        """What run.json records about the classifier."""
        rule = self.rule
        return {"name": type(self).__name__, "signals": ["quote", "model", "relevance", "domain"],
                "training_sha256": getattr(self, "training_sha256_", None),
                "item_thresholds": {item.id: round(float(t), 4) for item, t in zip(self.items_, rule.covered_at,
                                                                                   strict=True)},
                "rule": rule.describe([item.id for item in self.items_])}

    # ---- saving and loading: arrays and JSON only (pipeline/classify/persist.py) --------------------------

    def to_state(self) -> tuple[dict[str, np.ndarray], dict]:
        model_arrays, model_meta = self.model_.to_state()
        relevance_arrays, relevance_meta = self.relevance_.to_state()
        domain_arrays, domain_meta = self.domain_.to_state()
        arrays = {**prefixed("items", model_arrays), **prefixed("relevance", relevance_arrays),
                  **prefixed("domain", domain_arrays),
                  **prefixed("calibration", self.calibration_.to_arrays()),
                  **prefixed("zero_shot", self.zero_shot_.to_arrays()), "thresholds": self.thresholds_}
        meta = {"classifier": type(self).__name__, "items": model_meta, "relevance": relevance_meta,
                "domain": domain_meta, "domain_at": self.domain_at, "domain_window": self.domain_window,
                "seed": self.seed, "zero_shot_semantic": self.zero_shot_semantic,
                "threshold_margin": self.threshold_margin, "relevance_at": self.relevance_at,
                "min_relevant_passages": self.min_relevant_passages, "min_relevant_share": self.min_relevant_share,
                "min_relevant_rate": self.min_relevant_rate, "common_threshold": self.common_threshold_,
                "document_threshold": self.document_threshold_}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict, *, items: tuple[ReferenceItem, ...],
                   lexicon: Lexicon | None) -> PromiseClassifier:
        if meta.get("classifier") != cls.__name__:
            raise ValueError(f"a {meta.get('classifier')!r} model, not a {cls.__name__}")
        classifier = cls(lexicon=lexicon, seed=meta["seed"], threshold_margin=meta["threshold_margin"],
                         relevance_at=meta["relevance_at"], min_relevant_passages=meta["min_relevant_passages"],
                         min_relevant_share=meta["min_relevant_share"], min_relevant_rate=meta["min_relevant_rate"],
                         domain_at=meta["domain_at"], domain_window=meta["domain_window"],
                         zero_shot_semantic=meta.get("zero_shot_semantic", False))
        classifier.items_ = tuple(items)
        classifier.model_ = LearnedModel.from_state(unprefixed("items", arrays), meta["items"], items=items,
                                                    lexicon=lexicon)
        classifier.relevance_ = RelevanceModel.from_state(unprefixed("relevance", arrays), meta["relevance"])
        classifier.domain_ = RelevanceModel.from_state(unprefixed("domain", arrays), meta["domain"])
        classifier.calibration_ = ItemCalibration.from_arrays(unprefixed("calibration", arrays))
        classifier.zero_shot_ = ZeroShotCalibration.from_arrays(unprefixed("zero_shot", arrays))
        classifier.thresholds_ = arrays["thresholds"]
        classifier.common_threshold_ = float(meta["common_threshold"])
        classifier.document_threshold_ = float(meta["document_threshold"])
        if classifier.thresholds_.shape != (len(items),):
            raise ValueError("the model's thresholds do not fit its items")
        return classifier
