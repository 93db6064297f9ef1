"""Scores that mean the same for every item: one sigmoid per item, fitted on out-of-fold scores.

A raw model score of 1.2 is a strong signal for one item and a weak one for another; a reviewer needs
"0.7" to mean "seven in ten such passages cover the item", whichever item it is. Each item gets its own
Platt sigmoid (slope and intercept), fitted on scores from models that never saw the passage. Items with
few positives cannot support two free parameters, so each item's fit is pulled toward the sigmoid fitted
on all items together (a penalty worth `PRIOR_WEIGHT` examples): a well-supported item gets its own
curve, a thin one stays near the common one.

Thresholds are then chosen on the calibrated scale: one common threshold that maximises out-of-fold F1
over all items, and per item the F1-best threshold shrunk toward it by how few positives it has.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

#: How many examples' worth of pull toward the common sigmoid each item's fit gets.
PRIOR_WEIGHT = 20.0
#: Thresholds are searched on this grid (calibrated probabilities).
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)
#: An item's own threshold counts fully from this many out-of-fold positives; below, it is shrunk.
FULL_WEIGHT_POSITIVES = 40
#: A partial verdict starts at this share of the item's covered threshold.
PARTIAL_SHARE = 0.6
#: Scores at or below this mark an item that could not be learned; they are never calibrated.
UNLEARNABLE = -10.0


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(values, -50, 50)))


def fit_sigmoid(scores: np.ndarray, target: np.ndarray, *, prior: tuple[float, float] | None = None,
                prior_weight: float = 0.0) -> tuple[float, float]:
    """Slope and intercept of the sigmoid that best fits `target` from `scores` (log loss), near `prior`."""
    anchor = np.array(prior if prior is not None else (1.0, 0.0))

    def loss(parameters: np.ndarray) -> tuple[float, np.ndarray]:
        slope, intercept = parameters
        probability = sigmoid(slope * scores + intercept)
        eps = 1e-12
        value = -np.sum(target * np.log(probability + eps) + (1 - target) * np.log(1 - probability + eps))
        residual = probability - target
        gradient = np.array([np.sum(residual * scores), np.sum(residual)])
        if prior is not None:
            value += prior_weight * np.sum((parameters - anchor) ** 2)
            gradient += 2 * prior_weight * (parameters - anchor)
        return float(value), gradient

    result = minimize(loss, anchor, jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


class ItemCalibration:
    """Per-item sigmoids over raw scores; scikit-learn style (`fit` returns self, learned state ends in `_`)."""

    def __init__(self, prior_weight: float = PRIOR_WEIGHT) -> None:
        self.prior_weight = prior_weight

    def fit(self, scores: np.ndarray, targets: np.ndarray) -> ItemCalibration:
        learnable = scores > UNLEARNABLE
        self.common_ = fit_sigmoid(scores[learnable], targets[learnable])
        slopes, intercepts = [], []
        for column in range(scores.shape[1]):
            rows = learnable[:, column]
            if not rows.any():
                slopes.append(self.common_[0])
                intercepts.append(self.common_[1])
                continue
            slope, intercept = fit_sigmoid(scores[rows, column], targets[rows, column], prior=self.common_,
                                           prior_weight=self.prior_weight)
            slopes.append(slope)
            intercepts.append(intercept)
        self.slopes_, self.intercepts_ = np.array(slopes), np.array(intercepts)
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        calibrated = sigmoid(scores * self.slopes_ + self.intercepts_)
        return np.where(scores > UNLEARNABLE, calibrated, 0.0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"slopes": self.slopes_, "intercepts": self.intercepts_, "common": np.array(self.common_)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ItemCalibration:
        calibration = cls()
        calibration.slopes_, calibration.intercepts_ = arrays["slopes"], arrays["intercepts"]
        calibration.common_ = (float(arrays["common"][0]), float(arrays["common"][1]))
        return calibration


def f1_counts(predicted: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    tp = int((predicted & (truth == 1)).sum())
    return tp, int((predicted & (truth == 0)).sum()), int((~predicted & (truth == 1)).sum())


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def choose_thresholds(probabilities: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-item covered thresholds and the common one, both chosen on out-of-fold calibrated probabilities."""
    common = max(THRESHOLD_GRID, key=lambda t: (f1(*f1_counts(probabilities >= t, targets)), -abs(t - 0.5)))
    thresholds = np.full(targets.shape[1], float(common))
    for column in range(targets.shape[1]):
        positives = int(targets[:, column].sum())
        if not positives:
            continue
        column_f1 = [f1(*f1_counts(probabilities[:, column] >= t, targets[:, column])) for t in THRESHOLD_GRID]
        best = float(THRESHOLD_GRID[int(np.argmax(column_f1))])
        weight = min(1.0, positives / FULL_WEIGHT_POSITIVES)
        thresholds[column] = round(weight * best + (1 - weight) * float(common), 4)
    return thresholds, float(common)


def document_maxima(probabilities: np.ndarray, targets: np.ndarray, groups: list[str],
                    evidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per real document (group "doc:..."), each item's best probability and whether it covers the item.

    Only passages that can be evidence count; returns ([documents, items] best, [documents, items] gold).
    """
    rows_by_group: dict[str, list[int]] = {}
    for row, group in enumerate(groups):
        if group.startswith("doc:") and evidence[row]:
            rows_by_group.setdefault(group, []).append(row)
    best = np.array([probabilities[rows].max(axis=0) for rows in rows_by_group.values()])
    gold = np.array([targets[rows].max(axis=0) for rows in rows_by_group.values()])
    return best.reshape(-1, probabilities.shape[1]), gold.reshape(-1, probabilities.shape[1])


def choose_document_threshold(probabilities: np.ndarray, targets: np.ndarray, groups: list[str],
                              evidence: np.ndarray, *, floor: float) -> float:
    """The threshold a document's best passage must reach for the document to cover an item.

    Rule: the F-beta-best threshold (beta = DOCUMENT_BETA, precision weighted) over real documents x items,
    on out-of-fold calibrated probabilities, never below the passage threshold `floor`. Rationale: a
    document covers an item when its best passage does, and the best of many passages is higher than any
    one passage by chance alone; and a gap table that claims coverage where there is none is worse than
    one that misses some, so at the document level precision weighs more than recall.
    """
    best, gold = document_maxima(probabilities, targets, groups, evidence)
    if not len(best):
        return floor
    grid = [float(t) for t in THRESHOLD_GRID if t >= floor]
    return max(grid, key=lambda t: (f_beta(*f1_counts(best >= t, gold), beta=DOCUMENT_BETA), -t))


#: How much more a document's precision weighs than its recall when its threshold is chosen (F0.5).
DOCUMENT_BETA = 0.5


def f_beta(tp: int, fp: int, fn: int, *, beta: float) -> float:
    weight = beta * beta
    denominator = (1 + weight) * tp + weight * fn + fp
    return (1 + weight) * tp / denominator if denominator else 0.0
