"""Every tunable number of a run, in one place, recorded in run.json so a result can be reproduced.

The signal thresholds here apply to quotations and to the lexical classifier
(`--classifier lexical`); they were set by reading its scores on the bundled
sample corpus. The learned classifier (the default) brings its own per-item
thresholds, chosen by cross-validation and carried on each match
(`Match.covered_at`); run.json records the thresholds in force.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipeline.types import Signal


@dataclass(frozen=True)
class StatusThresholds:
    """Scores at or above `covered` make a passage evidence of coverage; at or above `partial`, of partial coverage."""

    covered: float
    partial: float

    def __post_init__(self) -> None:
        if not 0 <= self.partial <= self.covered <= 1:
            raise ValueError(f"need 0 <= partial <= covered <= 1, got {self.partial}, {self.covered}")


def default_thresholds() -> dict[str, StatusThresholds]:
    return {
        # A near-verbatim quotation of an item sentence is coverage by itself.
        Signal.QUOTE.value: StatusThresholds(covered=0.90, partial=0.90),
        # TF-IDF cosine: above 0.40 passage and item share most of their distinctive words;
        # between 0.25 and 0.40 they share a topic, which a reviewer should check.
        Signal.TFIDF.value: StatusThresholds(covered=0.40, partial=0.25),
    }


@dataclass(frozen=True)
class Settings:
    """The settings of one run."""

    thresholds: dict[str, StatusThresholds] = field(default_factory=default_thresholds)
    #: Corroboration: this many passages each scoring at least `corroboration_score` on the
    #: tfidf signal make the item covered even when no single passage reaches `covered`.
    corroboration_passages: int = 2
    corroboration_score: float = 0.30
    #: How many evidence passages a gap-table row shows for an item.
    max_evidence: int = 3
    password: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["password"] = "(given)" if self.password else None
        return data
